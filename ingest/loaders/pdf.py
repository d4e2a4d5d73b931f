"""PDF: one Document per page (page numbers from 1); tables kept as text rows; scanned pages through OCR.

pypdf opens the file (encryption, damage); pages with tables are read with pdfplumber so that
each table row stays one line of ``cell | cell | cell``. A page without a text layer (``loaders.ocr: auto``; every
page with ``always``) is rendered by pypdfium2, one page at a time, and read by OCR (ingest/ocr).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError


@contextmanager
def _quiet_pypdf():
    """pypdf logs every oddity it works around; the damage that matters is reported by the strict open."""
    logger = logging.getLogger("pypdf")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def load_pdf(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    import pypdf
    from pypdf.errors import PdfReadError

    from ingest.loaders import report_pages

    with path.open("rb") as handle:
        if b"%PDF-" not in handle.read(1024):  # readers accept junk before the header, not a file without one
            raise LoaderError(str(path), "not a PDF (no %PDF- header in its first 1 KB): renamed or corrupt?")
    damage = ""
    with _quiet_pypdf():
        try:
            try:
                reader = pypdf.PdfReader(str(path), strict=True)
            except PdfReadError as exc:  # damaged: recover what a lenient parse can, and say so
                damage = str(exc)
                reader = pypdf.PdfReader(str(path), strict=False)
            password = None
            if reader.is_encrypted:
                if not reader.decrypt(""):
                    raise LoaderError(
                        str(path),
                        "encrypted PDF: it needs a password (the empty one does not "
                        "open it); decrypt it first, e.g. qpdf --decrypt --password=PW in.pdf out.pdf",
                    )
                password = ""
            texts = []
            for number, page in enumerate(reader.pages, start=1):  # each page is progress: a 500-page filing
                texts.append(page.extract_text() or "")  # is not "no progress" to the sandbox's time budget
                report_pages(number, len(reader.pages))
            title = (reader.metadata or {}).get("/Title") if reader.metadata else None
        except LoaderError:
            raise
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise LoaderError(str(path), f"corrupt PDF ({exc})") from None
    if damage:
        warnings.append(f"damaged PDF ({damage}); recovered {len(texts)} page(s), text may be incomplete")
    if cfg.pdf_tables:
        texts = _with_table_rows(path, texts, password, warnings)
    title = str(title).strip() if title and str(title).strip() else path.stem
    scanned = _pages_to_read(texts, cfg)
    read = _ocr_pages(path, password, scanned, title, cfg, warnings)
    wanted = set(scanned)
    for number, text in enumerate(texts, start=1):
        if number - 1 in wanted:
            document = next(read)  # one per scanned page, in page order: the pages stay in order
            if document is not None:
                yield document
        else:
            yield Document(text=text, metadata={"page": number, "title": title})
    read.close()


def _pages_to_read(texts: list[str], cfg: LoaderConfig) -> list[int]:
    """Indexes of the pages OCR reads: none (off), all (always), or those with no text layer (auto)."""
    if cfg.ocr.mode == "off":
        return []
    if cfg.ocr.mode == "always":
        return list(range(len(texts)))
    return [index for index, text in enumerate(texts) if len("".join(text.split())) < _TEXT_LAYER_CHARS]


_TEXT_LAYER_CHARS = 10  # fewer characters than this: a scan (perhaps with a stamp or a page number), not text


def _ocr_pages(
    path: Path, password: str | None, pages: list[int], title: str, cfg: LoaderConfig, warnings: list[str]
) -> Iterator[Document | None]:
    """A Document (or None: unreadable, empty, past max_pages) for each of `pages`, rendered one at a time."""
    import pypdfium2

    from ingest.loaders import report_pages
    from ingest.ocr import page_numbers, read_page

    total = min(len(pages), cfg.ocr.max_pages)
    if len(pages) > total:
        warnings.append(f"{len(pages)} pages need OCR: read the first {total} (loaders.ocr.max_pages)")
    document = pypdfium2.PdfDocument(str(path), password=password)
    blank: list[int] = []
    try:
        for done, index in enumerate(pages, start=1):
            if done > total:
                yield None
                continue
            try:
                page = document[index]
                width, height = page.get_size()  # points
                scale = min(cfg.ocr.dpi / 72, (cfg.ocr.max_megapixels * 1e6 / max(width * height, 1)) ** 0.5)
                image = page.render(scale=scale).to_pil()
                page.close()
                reading = read_page(image, cfg.ocr)
                del image  # one page's pixels at a time
            except Exception as exc:  # one unreadable page is a warning; the rest of the file still counts
                warnings.append(f"page {index + 1}: OCR could not read it ({exc.__class__.__name__}: {exc})")
                yield None
                continue
            finally:
                report_pages(done, total)
            if not reading.text:
                blank.append(index + 1)
                yield None
                continue
            metadata = {"page": index + 1, "title": title, "ocr": True, "ocr_confidence": round(reading.confidence, 3)}
            yield Document(text=reading.text, metadata=metadata)
    finally:
        document.close()
    if blank:
        warnings.append(
            f"{len(blank)} page(s) without a text layer where OCR found no text either ({page_numbers(blank)})"
        )


def _with_table_rows(path: Path, texts: list[str], password: str | None, warnings: list[str]) -> list[str]:
    import pdfplumber

    from ingest.loaders import report_pages

    result = list(texts)
    try:
        with pdfplumber.open(str(path), password=password) as pdf:
            for index, page in enumerate(pdf.pages):
                try:
                    tables = page.find_tables()
                    if tables:
                        boxes = [table.bbox for table in tables]
                        outside = page.filter(lambda obj, boxes=boxes: not _inside(obj, boxes))
                        parts = [outside.extract_text() or ""]
                        for table in tables:
                            rows = [line for row in table.extract() for line in _unstack(row)]
                            parts.append("\n".join(" | ".join(row) for row in rows if any(row)))
                        result[index] = "\n\n".join(part for part in parts if part.strip())
                finally:
                    page.close()  # its parsed objects go: a 260-page 10-K took the parser past 2 GB when kept
                    report_pages(index + 1, len(pdf.pages))
    except Exception as exc:  # table extraction is a refinement; pypdf's text stands if it fails
        warnings.append(f"damaged PDF: table extraction failed ({exc.__class__.__name__}); plain text kept")
        return texts
    return result


def _unstack(row: list[str | None]) -> list[list[str]]:
    """Rows pdfplumber merged into one (every filled cell holds the same number of lines) are split."""
    cells = [(cell or "").strip() for cell in row]
    heights = {cell.count("\n") + 1 for cell in cells if cell}
    if len(heights) == 1 and (height := heights.pop()) > 1:
        columns = [cell.split("\n") if cell else [""] * height for cell in cells]
        return [[column[line].strip() for column in columns] for line in range(height)]
    return [[cell.replace("\n", " ") for cell in cells]]


def _inside(obj: dict, boxes: list[tuple[float, float, float, float]]) -> bool:
    if "x0" not in obj:
        return False
    cx = (obj["x0"] + obj["x1"]) / 2
    cy = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= cx <= x1 and top <= cy <= bottom for x0, top, x1, bottom in boxes)
