"""The records that flow between stages: a loaded Document, a Chunk of it, a search Hit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

# Scalar metadata only: every store can filter on it (Chroma rejects nested values and None).
Metadata = dict[str, str | int | float | bool]


@dataclass
class Document:
    """One unit of a source file as a loader sees it (a page, a record, a whole file)."""

    text: str
    metadata: Metadata = field(default_factory=dict)
    # "markdown": headings are `#` lines the splitter may use to record the section path.
    format: Literal["text", "markdown"] = "text"
    # (offset, section path) where a part starts inside the text, when it has several: a PDF page with "Item 3. Legal
    # Proceedings" printed below the end of "Item 2. Properties". The splitter cuts there; each chunk gets its path.
    sections: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Chunk:
    """A piece of a Document, small enough for the embedding model, with a stable id."""

    id: str
    text: str
    metadata: Metadata
    # The keyword index's tokens, when they were made where the chunk was split (rag.stores.keyword.chunk_terms).
    terms: str | None = field(default=None, repr=False, compare=False)


@dataclass
class Hit:
    """A chunk returned by a search, with its similarity score (higher is closer)."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float


def ranked(hits: list[Hit]) -> list[Hit]:
    """Best first; equal scores by id, so the same question gets the same list from any store and any history
    (a clean store and one updated incrementally hold the same chunks in another internal order)."""
    return sorted(hits, key=lambda hit: (-hit.score, hit.id))


def indexed_text(text: str, metadata: dict[str, Any]) -> str:
    """What is embedded and keyword-indexed for a chunk: its text, after its contextual header when ingest
    recorded one (``metadata["context"]``: section path, title, a table's header rows)."""
    context = metadata.get("context")
    return f"{context}\n{text}" if context else text


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(source: str, text_hash: str, occurrence: int) -> str:
    """Stable id: the same text at the same source yields the same id on every run."""
    key = f"{source}\x00{text_hash}\x00{occurrence}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def location(metadata: dict[str, Any], separator: str = " · ") -> str:
    """Where a chunk comes from, for people and prompts: "guide.pdf · page 3 · Setup > Linux",
    "mail.eml · attachment terms.pdf · page 2", "book.xlsx · sheet Sales, rows 2-21"."""
    parts = (metadata.get("source"), part(metadata, separator), metadata.get("section"))
    return separator.join(str(piece) for piece in parts if piece)


def part(metadata: dict[str, Any], separator: str = " · ") -> str:
    """The place inside its file: the attachment, then the slide, sheet and rows, chapter or page ("" for none)."""
    pieces = []
    if metadata.get("attachment"):
        pieces.append(f"attachment {metadata['attachment']}")
    if metadata.get("slide"):
        pieces.append(f"slide {metadata['slide']}")
    elif metadata.get("sheet"):
        rows = f", rows {metadata['rows']}" if isinstance(metadata.get("rows"), str) else ""
        pieces.append(f"sheet {metadata['sheet']}{rows}")
    elif metadata.get("page"):
        pieces.append(f"page {metadata['page']}")
    elif metadata.get("chapter"):
        pieces.append(f"chapter {metadata['chapter']}")
    return separator.join(pieces)
