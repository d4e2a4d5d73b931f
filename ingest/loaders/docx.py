"""DOCX: body in document order as Markdown — headings as `#` lines, lists as items, tables as rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.archive import check_zip
from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError

_HEADING = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def load_docx(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    check_zip(path, cfg, "Word file")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise LoaderError(str(path), f"not a readable Word file ({exc})") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.append(_table_rows(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        level = _HEADING.match(style)
        if style.lower() == "title":
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * int(level.group(1))} {text}")
        elif "list" in style.lower():
            lines.append(f"- {text}")
        else:
            lines.append(text)
    title = (document.core_properties.title or "").strip() or _first_heading(lines) or path.stem
    yield Document(text="\n\n".join(lines), metadata={"title": title}, format="markdown")


def _table_rows(table) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = cell.text.replace("\n", " ").strip()
            if not cells or cells[-1] != text:  # merged cells repeat; keep one
                cells.append(text)
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _first_heading(lines: list[str]) -> str:
    return next((line.lstrip("#").strip() for line in lines if line.startswith("#")), "")
