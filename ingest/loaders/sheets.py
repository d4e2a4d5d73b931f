"""Spreadsheets (XLSX, XLSM, XLS, ODS) with python-calamine, the Rust calamine reader (12× openpyxl's speed,
bench/loaders_bench.py): one Document per block of ``loaders.sheets.rows_per_document`` rows of one sheet, each
block repeating the header row so that every chunk says what its numbers are. Formulas are read as their cached
values; empty rows and columns are dropped; a sheet is read row by row, at most ``loaders.sheets.max_rows`` rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.archive import check_zip
from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError


def load_sheets(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    import python_calamine

    if path.suffix.lower() != ".xls":  # the binary .xls is no zip; the others are
        check_zip(path, cfg, "spreadsheet")
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise LoaderError(str(path), f"not a readable spreadsheet ({exc.__class__.__name__}: {exc})") from None
    options = cfg.sheets
    for name in workbook.sheet_names:
        try:
            sheet = workbook.get_sheet_by_name(name)
        except Exception as exc:
            warnings.append(f"sheet {name!r} could not be read ({exc.__class__.__name__}: {exc})")
            continue
        rows = _filled_rows(sheet.iter_rows(), options.max_rows, name, warnings)
        header = next(rows, None)
        if header is None:
            continue
        block: list[tuple[int, list[str]]] = []
        written = False
        for row in rows:
            block.append(row)
            if len(block) >= options.rows_per_document:
                yield _document(name, header[1], block)
                block, written = [], True
        if block or not written:  # a sheet of a header row alone still says what it holds
            yield _document(name, header[1], block)


def _filled_rows(rows, limit: int, sheet: str, warnings: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(row number from 1, cells as text) of the rows with any content, at most `limit` rows read."""
    for number, row in enumerate(rows, start=1):
        if number > limit:
            warnings.append(f"sheet {sheet!r}: read the first {limit} rows (loaders.sheets.max_rows)")
            return
        cells = [_text(value) for value in row]
        if any(cells):
            yield number, cells


def _document(sheet: str, header: list[str], block: list[tuple[int, list[str]]]) -> Document:
    """The header row and a block of rows as ``cell | cell`` lines, the columns empty in all of them dropped."""
    rows = [header, *(values for _, values in block)]
    width = max(len(values) for values in rows)
    columns = [index for index in range(width) if any(index < len(values) and values[index] for values in rows)]
    lines = [" | ".join(values[index] if index < len(values) else "" for index in columns) for values in rows]
    first, last = (block[0][0], block[-1][0]) if block else (1, 1)
    metadata = {"sheet": sheet, "row": first, "rows": f"{first}-{last}"}
    return Document(text=f"Sheet: {sheet}\n" + "\n".join(lines), metadata=metadata)


def _text(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())
