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
    """Bytes to text: BOM first, then UTF-16 without one (its NUL bytes), then UTF-8, then charset-normalizer's
    best guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        try:
            return data.decode(utf16)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoaderError(str(path), "binary or undecodable content (no text encoding fits)")
    return str(best)


def _utf16_without_bom(data: bytes) -> str | None:
    """ "utf-16-le"/"utf-16-be" when the bytes look like UTF-16 text without a BOM: mostly-ASCII text has a NUL in
    every other byte (valid UTF-8 too, which is how such a file used to be stored with NULs in it)."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    sample = sample[: len(sample) // 2 * 2]
    even, odd = sample[0::2], sample[1::2]
    pairs = len(even)
    if odd.count(0) > 0.4 * pairs and even.count(0) < 0.05 * pairs:
        return "utf-16-le"
    if even.count(0) > 0.4 * pairs and odd.count(0) < 0.05 * pairs:
        return "utf-16-be"
    return None


def decode_utf8(data: bytes, path: Path, warnings: list[str], where: str = "") -> str:
    """JSON's bytes to text: JSON is UTF-8 (or UTF-16/32 with a BOM; RFC 8259). Invalid bytes become U+FFFD and a
    warning names the first one's offset, instead of another encoding being guessed into garbage silently."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = sum(1 for char in data.decode("utf-8", errors="replace") if char == "\ufffd")
        warnings.append(
            f"invalid UTF-8 at byte offset {exc.start}{where} ({bad} invalid byte sequence(s) shown as U+FFFD)"
        )
        return data.decode("utf-8", errors="replace")


def read_text(path: Path) -> str:
    return decode(path.read_bytes(), path).replace("\r\n", "\n").replace("\r", "\n")
