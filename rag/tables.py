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
