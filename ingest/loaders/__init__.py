"""Loaders turn one file into Documents; chosen by file extension.

Every loader has the signature ``load(path, cfg, warnings) -> Iterator[Document]`` and raises
``LoaderError`` (path + reason) for a file it cannot read. Recoverable damage is appended to
``warnings`` and the file is still ingested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    ".pptx": "ingest.loaders.slides:load_pptx",
    ".xlsx": "ingest.loaders.sheets:load_sheets",
    ".xlsm": "ingest.loaders.sheets:load_sheets",
    ".xls": "ingest.loaders.sheets:load_sheets",
    ".ods": "ingest.loaders.sheets:load_sheets",
    ".eml": "ingest.loaders.mail:load_eml",
    ".mbox": "ingest.loaders.mail:load_mbox",
    ".msg": "ingest.loaders.mail:load_msg",
    ".epub": "ingest.loaders.ebook:load_epub",
    ".odt": "ingest.loaders.opendocument:load_odt",
    ".rtf": "ingest.loaders.rtf:load_rtf",
    ".png": "ingest.loaders.images:load_image",
    ".jpg": "ingest.loaders.images:load_image",
    ".jpeg": "ingest.loaders.images:load_image",
    ".tif": "ingest.loaders.images:load_image",
    ".tiff": "ingest.loaders.images:load_image",
    ".bmp": "ingest.loaders.images:load_image",
    ".webp": "ingest.loaders.images:load_image",
}

# Page progress of a long file (an OCR'd scan): loaders call report_pages(done, total); whoever reads the file
# (the sandbox's child, or the pipeline in-process) installs the hook with page_progress().
_PAGE_HOOK: ContextVar[Callable[[int, int], None] | None] = ContextVar("page_hook", default=None)


def report_pages(done: int, total: int) -> None:
    hook = _PAGE_HOOK.get()
    if hook is not None:
        hook(done, total)


@contextmanager
def page_progress(hook: Callable[[int, int], None] | None):
    token = _PAGE_HOOK.set(hook)
    try:
        yield
    finally:
        _PAGE_HOOK.reset(token)


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
        if cfg.ocr.mode == "off" and path.suffix.lower() == ".pdf":
            raise LoaderError(str(path), "no extractable text (scanned pages?) and loaders.ocr is off: set it to auto")
        raise LoaderError(str(path), "no extractable text (empty, whitespace only, or images OCR found no text in)")
