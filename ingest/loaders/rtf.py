"""RTF: the text of a Rich Text Format file (striprtf)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError


def load_rtf(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    from striprtf.striprtf import rtf_to_text

    raw = path.read_bytes()
    if not raw.lstrip().startswith(b"{\\rtf"):
        raise LoaderError(str(path), "not an RTF file (no {\\rtf header): renamed or corrupt?")
    text = rtf_to_text(raw.decode("latin-1"), errors="ignore")  # RTF is 7-bit; \\'xx and \\u escapes carry the rest
    lines = [" ".join(line.split()) for line in text.splitlines()]
    yield Document(text="\n".join(line for line in lines if line), metadata={"title": path.stem})
