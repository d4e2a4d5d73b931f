"""Tables inside document text: runs of `cell | cell` lines (how the PDF and DOCX loaders write tables, and how
Markdown writes its own), and their header rows. The splitter uses it to give a piece of a table its header; the
answer context uses it to keep a table's header in view when a passage is cut down."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class TableHeader:
    body_start: int  # where the table's rows below the header begin
    end: int  # where the table ends
    text: str
    start: int = 0  # where the table (its header) begins


_CELL_NUMBER = re.compile(r"^[($\-−]*[\d.,]+%?\)?$")
_MARKDOWN_RULE = re.compile(r"^\|?\s*:?-{3,}")


def table_headers(text: str) -> list[TableHeader]:
    """The tables in a document's text (runs of `a | b` lines, as the loaders write PDF/DOCX tables and
    Markdown writes its own) with their header rows: in Markdown, the lines above the `|---|` rule; else the
    leading rows until the first labelled row of numbers (financial tables: title and year rows on top)."""
    found: list[TableHeader] = []
    lines = text.splitlines(keepends=True)
    offset, index = 0, 0
    starts = []
    for line in lines:
        starts.append(offset)
        offset += len(line)
    while index < len(lines):
        if " | " not in lines[index] and not lines[index].lstrip().startswith("|"):
            index += 1
            continue
        first = index
        while index < len(lines) and (" | " in lines[index] or lines[index].lstrip().startswith("|")):
            index += 1
        block = lines[first:index]
        header_rows = _header_rows(block)
        if 0 < header_rows < len(block):
            header = "".join(block[:header_rows]).strip()
            if len(header) <= 400:
                end = starts[index - 1] + len(lines[index - 1])
                found.append(TableHeader(starts[first + header_rows], end, header, starts[first]))
    return found


def _header_rows(block: list[str]) -> int:
    for number, line in enumerate(block[:6]):
        if _MARKDOWN_RULE.match(line.strip()):
            return number + 1  # the rule line too: "| a | b |\n|---|---|"
    for number, line in enumerate(block[:5]):
        row = line.strip("\n")
        markdown = row.strip().startswith("|") and row.strip().endswith("|")
        cells = [cell.strip() for cell in (row.strip().strip("|").split("|") if markdown else row.split(" | "))]
        if cells and cells[0] and any(_CELL_NUMBER.match(cell) for cell in cells[1:] if cell):
            return number
    return 0


_YEAR = re.compile(r"(?<![\d.,])(?:FY\s?)?((?:19[5-9]|20[0-4])\d)(?![\d.,%])")
_VALUE = re.compile(r"^\(?[-−]?[$€£]?\(?\d[\d,]*(?:\.\d+)?%?\)?$|^[—–-]$")
_CURRENCY = {"$", "€", "£", "%"}


def label_columns(text: str) -> str:
    """Financial rows read with their years: below a line of column years ("(Millions) 2018 2017 2016", or a row
    "| 2019 | 2018 |"), a row with one figure per year becomes "Purchases of PP&E | (1,577) in 2018 | (1,373) in
    2017 | (1,420) in 2016". A small model reading a statement otherwise takes a figure from the wrong column (the
    1.5B answered 3M's 2018 capex with the 2016 figure; with "2018: (1,577)" it answered "13", with "(1,577) in
    2018" right). The figures and their order are unchanged: a citation check reads the same numbers."""
    out = []
    for line, years, row in _year_rows(text):
        if row is None:
            out.append(line)
            continue
        label, values = row
        out.append(f"{label} | " + " | ".join(f"{value} in {year}" for year, value in zip(years, values, strict=True)))
    return "\n".join(out)


@dataclass(frozen=True)
class YearFigure:
    label: str  # the row's label: "Purchases of property, plant and equipment (PP&E)"
    year: str  # its column's year
    printed: str  # the figure as printed: "(1,577)"


_LABELLED_CELL = re.compile(r"^(\S+) in ((?:19|20)\d{2})$")


def year_figures(text: str) -> list[YearFigure]:
    """Each figure of a statement row below a line of column years, with its row label and year; rows already
    labelled by `label_columns` ("Inventories | 32 in 2019 | 43 in 2018") are read the same."""
    found: list[YearFigure] = []
    for line, years, row in _year_rows(text):
        if row is not None:
            found += [YearFigure(row[0], year, value) for year, value in zip(years, row[1], strict=True)]
            continue
        cells = [cell.strip() for cell in line.split(" | ")] if " in " in line else []
        labelled = [_LABELLED_CELL.match(cell) for cell in cells[1:]]
        if cells and cells[0] and labelled and all(labelled):
            found += [YearFigure(cells[0], match.group(2), match.group(1)) for match in labelled]
    return found


def _year_rows(text: str):
    """Each line with, when it is a row of one figure per column year above it, those years and (label, figures)."""
    years: list[str] | None = None
    for line in text.split("\n"):
        found = _column_years(line)
        if found:
            years = found
            yield line, None, None
            continue
        row = _row(line) if years else None
        if row and len(row[1]) == len(years):
            yield line, years, row
        else:
            yield line, None, None


def _column_years(line: str) -> list[str] | None:
    """The years a header line names in order (two or more, distinct), when it holds no other figure than days of
    the month ("December 31, 2018 December 31, 2017")."""
    years = _YEAR.findall(line)
    if len(years) < 2 or len(set(years)) != len(years):
        return None
    rest = _YEAR.sub(" ", line)
    if any(int(number) > 31 for number in re.findall(r"\d+", rest.replace(",", ""))):
        return None
    return years


def _row(line: str) -> tuple[str, list[str]] | None:
    """(label, figures) of a row whose last cells are figures: `label | 1 | 2` or `label 1 2` (a lone currency
    sign is no figure; a closing bracket the PDF put in a cell of its own closes the figure before it:
    "(116 | ) | (131 | )")."""
    split = [cell.strip() for cell in line.strip().strip("|").split("|")] if " | " in line else line.split()
    cells: list[str] = []
    for cell in split:
        if cell == ")" and cells and cells[-1].startswith("(") and not cells[-1].endswith(")"):
            cells[-1] += ")"
        elif cell and cell not in _CURRENCY:
            cells.append(cell)
    values: list[str] = []
    while cells and _VALUE.match(cells[-1]):
        values.insert(0, cells.pop())
    label = " ".join(cells).strip()
    if not values or not re.search(r"[A-Za-z]{2}", label):
        return None
    return label, values
