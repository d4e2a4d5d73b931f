"""Plain text and Markdown, with the encoding detected rather than assumed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.encoding import read_text
from ingest.loaders.records import parse_json_text, records_to_documents
from rag.config import LoaderConfig
from rag.documents import Document

_LOOKS_LIKE_JSON = re.compile(r'^\s*(\{\s*"|\[\s*[\[{"])')
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def load_text(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    text = read_text(path)
    if _LOOKS_LIKE_JSON.match(text):
        # A .txt holding JSON: load it as records, so truncated JSON is reported, not indexed as prose.
        yield from records_to_documents(parse_json_text(text, path), cfg, path)
        return
    yield Document(text=text, metadata={"title": path.stem})


def load_markdown(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    text = read_text(path)
    match = _MD_TITLE.search(text)
    yield Document(text=text, metadata={"title": match.group(1) if match else path.stem}, format="markdown")
