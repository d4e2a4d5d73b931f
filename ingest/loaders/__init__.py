"""Loaders turn one file into Documents; chosen by file extension.

Every loader has the signature ``load(path, cfg, warnings) -> Iterator[Document]`` and raises
``LoaderError`` (path + reason) for a file it cannot read. Recoverable damage is appended to
``warnings`` and the file is still ingested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError
from rag.registry import load as load_entry

Loader = Callable[[Path, LoaderConfig, list[str]], Iterator[Document]]

# extension -> "module:function" (modules import their parsers lazily)
REGISTRY = {
    ".pdf": "ingest.loaders.pdf:load_pdf",
    ".html": "ingest.loaders.html:load_html",
    ".htm": "ingest.loaders.html:load_html",
    ".md": "ingest.loaders.text:load_markdown",
    ".markdown": "ingest.loaders.text:load_markdown",
    ".txt": "ingest.loaders.text:load_text",
    ".text": "ingest.loaders.text:load_text",
    ".rst": "ingest.loaders.text:load_text",
    ".docx": "ingest.loaders.docx:load_docx",
    ".json": "ingest.loaders.records:load_json",
    ".jsonl": "ingest.loaders.records:load_jsonl",
    ".ndjson": "ingest.loaders.records:load_jsonl",
    ".csv": "ingest.loaders.records:load_csv",
    ".tsv": "ingest.loaders.records:load_csv",
}


def register(extension: str, loader: str) -> None:
    """Add a file type: `loader` is "module:function" with the signature ``load(path, cfg, warnings)``."""
    REGISTRY[extension.lower()] = loader


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in REGISTRY


def loader_for(path: Path) -> Loader:
    return load_entry(REGISTRY[path.suffix.lower()])


def load(path: Path, cfg: LoaderConfig, warnings: list[str] | None = None) -> Iterator[Document]:
    """Documents of one file; raises LoaderError for an unreadable or empty file."""
    if not is_supported(path):
        raise LoaderError(str(path), f"unsupported file type {path.suffix!r}")
    size = path.stat().st_size
    if size == 0:
        raise LoaderError(str(path), "empty file (0 bytes)")
    if size > cfg.max_file_mb * 1024 * 1024:
        raise LoaderError(str(path), f"file is {size / 1e6:.1f} MB, over loaders.max_file_mb={cfg.max_file_mb}")
    produced = False
    try:
        for document in loader_for(path)(path, cfg, warnings if warnings is not None else []):
            if document.text.strip():
                produced = True
                yield document
    except (LoaderError, MemoryError):  # MemoryError: the parser's budget (ingest/sandbox.py) says which
        raise
    except Exception as exc:  # any parser failure is this file's problem, never the run's
        raise LoaderError(str(path), f"could not be parsed ({exc.__class__.__name__}: {exc})") from None
    if not produced:
        raise LoaderError(str(path), "no extractable text (empty, whitespace only, or scanned images)")
