"""Split Documents into chunks that fit the embedding model, recording section path and span.

Sizes are counted in the embedding model's own tokens, so no chunk is silently truncated.
Markdown-shaped documents (Markdown, HTML, DOCX) are first cut at their headings: we bound
sections ourselves because langchain's MarkdownHeaderTextSplitter rewrites whitespace (it strips
every line, breaking code blocks and character spans); inside a section langchain's
RecursiveCharacterTextSplitter does the splitting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.config import SplitterConfig
from rag.documents import Document

log = logging.getLogger(__name__)

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Piece:
    """A chunk's text with where it came from inside its Document."""

    text: str
    start: int
    end: int
    section: str


@dataclass
class Section:
    text: str
    start: int
    path: str


class Splitter:
    """Token-aware recursive splitting, header-aware for Markdown-shaped documents."""

    def __init__(self, cfg: SplitterConfig, count_tokens: Callable[[str], int], max_tokens: int):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        size = cfg.chunk_size or max_tokens
        if size > max_tokens:
            log.warning("splitter.chunk_size=%d is over the embedding model's %d-token window; using %d",
                        size, max_tokens, max_tokens)
            size = max_tokens
        self.chunk_size = size
        self.chunk_overlap = min(cfg.chunk_overlap, size // 4)
        self.header_aware = cfg.header_aware
        self.count_tokens = count_tokens
        self._recursive = RecursiveCharacterTextSplitter(
            chunk_size=size, chunk_overlap=self.chunk_overlap, length_function=count_tokens,
            separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""], keep_separator="end",
        )

    def split(self, document: Document) -> Iterator[Piece]:
        sections = (markdown_sections(document.text) if self.header_aware and document.format == "markdown"
                    else [Section(document.text, 0, "")])
        for section in sections:
            if not section.text.strip():
                continue
            cursor = 0
            for text in self._pieces(section.text):
                found = section.text.find(text, cursor)
                if found < 0:  # cannot happen for substrings; keep a sane span if it ever does
                    found = max(section.text.find(text), 0)
                cursor = found + 1
                start = section.start + found
                yield Piece(text=text, start=start, end=start + len(text), section=section.path)

    def _pieces(self, text: str) -> list[str]:
        # Most sections fit whole: one tokenizer call instead of the recursive splitter's many.
        if self.count_tokens(text) <= self.chunk_size:
            return [text.strip()]
        return [piece for piece in self._recursive.split_text(text) if piece.strip()]


def markdown_sections(text: str) -> list[Section]:
    """Cut Markdown at its heading lines (not inside code fences); path = the heading trail."""
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    start, offset, in_fence = 0, 0, False
    path = ""
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line.rstrip("\n"))
        if heading:
            if offset > start:
                sections.append(Section(text[start:offset], start, path))
            level, title = len(heading.group(1)), heading.group(2).strip()
            trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, title)]
            path = " > ".join(name for _, name in trail)
            start = offset
        offset += len(line)
    if offset > start:
        sections.append(Section(text[start:offset], start, path))
    return sections
