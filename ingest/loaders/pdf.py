"""PDF: one Document per page (page numbers from 1) with its section path; tables as text rows; scans through OCR.

pypdf opens the file (encryption, damage); pages with tables are read with pdfplumber so that each table row stays
one line of ``cell | cell | cell``, in place among the page's text lines (top to bottom). Each page's section path
comes from ingest/loaders/pdf_sections.py. A page without a text layer (``loaders.ocr: auto``; every page with
``always``) is rendered by pypdfium2, one page at a time, and read by OCR (ingest/ocr).
"""

from __future__ import annotations

import logging
import re
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
    from ingest.loaders.pdf_sections import outline_entries, section_starts

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
            outline = outline_entries(reader)
        except LoaderError:
            raise
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise LoaderError(str(path), f"corrupt PDF ({exc})") from None
    if damage:
        warnings.append(f"damaged PDF ({damage}); recovered {len(texts)} page(s), text may be incomplete")
    if cfg.pdf_tables:
        texts = _with_table_rows(path, texts, password, warnings)
    title = str(title).strip() if _real_title(title) else path.stem
    sections = section_starts(texts, outline)
    scanned = _pages_to_read(texts, cfg)
    read = _ocr_pages(path, password, scanned, title, cfg, warnings)
    wanted = set(scanned)
    for number, text in enumerate(texts, start=1):
        if number - 1 in wanted:
            document = next(read)  # one per scanned page, in page order: the pages stay in order
            if document is not None:  # its text is OCR's: the path in force where the page ends
                yield _in_section(document, sections[number - 1][-1][1])
        else:
            document = Document(text=text, metadata={"page": number, "title": title}, sections=sections[number - 1])
            yield _in_section(document, sections[number - 1][0][1])
    read.close()


def _real_title(title) -> bool:
    """A title a person wrote: not empty, not an SEC accession number ("0001018724-18-000005") or a file id."""
    text = str(title or "").strip()
    return bool(re.search(r"[A-Za-z]{3}", text))


def _in_section(document: Document, section: str) -> Document:
    """The page's path (where it starts; each chunk of a page with several parts gets its own from the splitter)."""
    if section:
        document.metadata["section"] = section
    return document


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
                        result[index] = _page_with_tables(page, tables)
                finally:
                    page.close()  # its parsed objects go: a 260-page 10-K took the parser past 2 GB when kept
                    report_pages(index + 1, len(pdf.pages))
    except Exception as exc:  # table extraction is a refinement; pypdf's text stands if it fails
        warnings.append(f"damaged PDF: table extraction failed ({exc.__class__.__name__}); plain text kept")
        return texts
    return result


def _page_with_tables(page, tables) -> str:
    """The page top to bottom: its lines of text and its table rows (`cell | cell`) in the order they are printed,
    a blank line around each table of three rows or more. pdfplumber often finds only part of a statement's grid
    to be a table (its shaded rows); read in place, every row stays under the statement's title and years."""
    boxes = [table.bbox for table in tables]
    outside = page.filter(lambda obj, boxes=boxes: not _inside(obj, boxes))
    placed: list[tuple[float, int, str]] = [
        (line["top"], 0, line["text"]) for line in outside.extract_text_lines() if line["text"].strip()
    ]
    for number, table in enumerate(tables, start=1):
        rows = table.extract()
        tops = [row.bbox[1] if row.bbox else table.bbox[1] for row in table.rows]
        lines = []
        for top, row in zip(tops, rows, strict=False):
            lines.extend((top, cells) for cells in _unstack(row))
        filled = _filled_columns([cells for _, cells in lines])
        text = [(top, " | ".join(cells)) for (top, _), cells in zip(lines, filled, strict=True) if any(cells)]
        if text:  # a table of a row or two is a shaded row of a statement: it stays in line with the others
            block = "\n".join(line for _, line in text)
            placed.append((text[0][0], number, f"\n{block}\n" if len(text) > 2 else block))
    placed.sort(key=lambda item: (item[0], item[1]))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(text for _, _, text in placed)).strip()


def _filled_columns(rows: list[list[str]]) -> list[list[str]]:
    """The columns that hold something besides a currency or percent sign: a filing's table is laid out on a grid
    of spacer columns ("Purchases of PP&E |  |  | (1,577) |  |  | (1,373)"), which only dilutes the passage."""
    width = max((len(row) for row in rows), default=0)
    keep = [
        column
        for column in range(width)
        if any(column < len(row) and row[column].strip() not in ("", "$", "%", "€", "£") for row in rows)
    ]
    return [[row[column] if column < len(row) else "" for column in keep] for row in rows]


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
