"""PowerPoint (PPTX, python-pptx): one Document per slide — its title as a heading, the text of its shapes in
order (groups opened, tables as ``cell | cell`` rows) and its speaker notes, marked as such."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.archive import check_zip
from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError


def load_pptx(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    import pptx
    from pptx.exc import PackageNotFoundError

    check_zip(path, cfg, "PowerPoint file")
    try:
        deck = pptx.Presentation(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise LoaderError(str(path), f"not a readable PowerPoint file ({exc})") from None
    slides = list(deck.slides)
    deck_title = (deck.core_properties.title or "").strip() or _first_title(slides) or path.stem
    for number, slide in enumerate(slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None and title_shape.has_text_frame else ""
        parts = [f"## {title}"] if title else []
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            parts.extend(_shape_text(shape))
        notes = _notes(slide)
        if notes:
            parts.append(f"Speaker notes: {notes}")
        metadata = {"page": number, "slide": number, "title": deck_title}
        if title:
            metadata["slide_title"] = title
        if notes:
            metadata["notes"] = True
        yield Document(text="\n\n".join(part for part in parts if part.strip()), metadata=metadata, format="markdown")


def _shape_text(shape) -> list[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [text for inner in shape.shapes for text in _shape_text(inner)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [" | ".join(cell.text.replace("\n", " ").strip() for cell in row.cells) for row in shape.table.rows]
        return ["\n".join(row for row in rows if row.strip(" |"))]
    if shape.has_text_frame:
        lines = []
        for paragraph in shape.text_frame.paragraphs:
            text = "".join(run.text for run in paragraph.runs).strip() or paragraph.text.strip()
            if text:
                lines.append(f"{'  ' * paragraph.level}- {text}" if paragraph.level else text)
        return ["\n".join(lines)]
    return []


def _notes(slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return " ".join(frame.text.split()) if frame is not None else ""


def _first_title(slides) -> str:
    for slide in slides:
        shape = slide.shapes.title
        if shape is not None and shape.has_text_frame and shape.text_frame.text.strip():
            return shape.text_frame.text.strip()
    return ""
