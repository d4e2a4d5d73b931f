"""Bytes to text: the encoding detected (BOM, UTF-8, else charset-normalizer), never assumed."""

from __future__ import annotations

import codecs
from pathlib import Path

from rag.errors import LoaderError

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def decode(data: bytes, path: Path) -> str:
    """Bytes to text: BOM first, then UTF-8, then charset-normalizer's best guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoaderError(str(path), "binary or undecodable content (no text encoding fits)")
    return str(best)


def read_text(path: Path) -> str:
    return decode(path.read_bytes(), path).replace("\r\n", "\n").replace("\r", "\n")
