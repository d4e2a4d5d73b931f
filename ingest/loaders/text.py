"""Plain text and Markdown, with the encoding detected rather than assumed."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_LOOKS_LIKE_JSON = re.compile(r'^\s*(\{\s*"|\[\s*[\[{"])')
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


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


def load_text(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    text = read_text(path)
    if _LOOKS_LIKE_JSON.match(text):
        # A .txt holding JSON: load it as records, so truncated JSON is reported, not indexed as prose.
        from ingest.loaders.records import parse_json_text, records_to_documents

        yield from records_to_documents(parse_json_text(text, path), cfg, path)
        return
    yield Document(text=text, metadata={"title": path.stem})


def load_markdown(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    text = read_text(path)
    match = _MD_TITLE.search(text)
    yield Document(text=text, metadata={"title": match.group(1) if match else path.stem}, format="markdown")
