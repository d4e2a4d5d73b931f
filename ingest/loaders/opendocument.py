"""OpenDocument text (ODT): the body in order as Markdown — headings (``text:h``, their outline level) as ``#``
lines, list items, tables as ``cell | cell`` rows. content.xml read with lxml."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.archive import check_zip
from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_DC = "http://purl.org/dc/elements/1.1/"


def load_odt(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    from lxml import etree

    check_zip(path, cfg, "OpenDocument file")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    with zipfile.ZipFile(path) as archive:
        try:
            content = etree.fromstring(archive.read("content.xml"), parser)
        except (KeyError, etree.XMLSyntaxError) as exc:
            raise LoaderError(str(path), f"not a readable OpenDocument text (content.xml: {exc})") from None
        title = ""
        if "meta.xml" in archive.namelist():
            meta = etree.fromstring(archive.read("meta.xml"), parser)
            title = " ".join((meta.findtext(f".//{{{_DC}}}title") or "").split())
    body = content.find(f".//{{{_OFFICE}}}text")
    if body is None:
        raise LoaderError(str(path), "not an OpenDocument text (no office:text body; a spreadsheet or slides?)")
    lines = list(_blocks(body))
    if not title:
        title = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), path.stem)
    yield Document(text="\n\n".join(lines), metadata={"title": title}, format="markdown")


def _blocks(element) -> Iterator[str]:
    for child in element:
        tag = child.tag
        if tag == f"{{{_TEXT}}}h":
            level = int(child.get(f"{{{_TEXT}}}outline-level") or 1)
            text = _text(child)
            if text:
                yield f"{'#' * min(level, 6)} {text}"
        elif tag == f"{{{_TEXT}}}p":
            text = _text(child)
            if text:
                yield text
        elif tag == f"{{{_TEXT}}}list":
            for item in child.iter(f"{{{_TEXT}}}list-item"):
                text = " ".join(_text(p) for p in item if p.tag == f"{{{_TEXT}}}p")
                if text:
                    yield f"- {text}"
        elif tag == f"{{{_TABLE}}}table":
            rows = []
            for row in child.iter(f"{{{_TABLE}}}table-row"):
                cells = [_text(cell) for cell in row if cell.tag == f"{{{_TABLE}}}table-cell"]
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                yield "\n".join(rows)
        elif tag in (f"{{{_TEXT}}}section", f"{{{_TEXT}}}soft-page-break"):
            yield from _blocks(child)


_SPACES = {f"{{{_TEXT}}}s", f"{{{_TEXT}}}tab", f"{{{_TEXT}}}line-break"}


def _text(element) -> str:
    """The element's text, its space, tab and line-break elements read as spaces."""
    parts: list[str] = []

    def walk(node) -> None:
        parts.append(node.text or "")
        for child in node:
            if child.tag in _SPACES:
                parts.append(" ")
            else:
                walk(child)
            parts.append(child.tail or "")

    walk(element)
    return " ".join("".join(parts).split())
