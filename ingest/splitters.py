"""Split Documents into chunks that fit the embedding model, recording section path and span.

Sizes are counted in the embedding model's own tokens, so no chunk is silently truncated.
Markdown-shaped documents (Markdown, HTML, DOCX) are first cut at their headings: we bound
sections ourselves because langchain's MarkdownHeaderTextSplitter rewrites whitespace (it strips
every line, breaking code blocks and character spans).

Inside a section that does not fit, langchain's RecursiveCharacterTextSplitter cuts the text into
small units at the strongest boundaries (paragraph, line, sentence, clause, word), and we pack
the units into the fewest chunks of *balanced* size. Stock greedy merging leaves tiny tails and
flushes a title alone whenever the paragraph after it is too big; balanced packing embeds fewer,
fuller chunks that keep a heading with its text — and every chunk is an exact slice of the source.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ingest.word_tokens import cached_token_starts, word_separable
from rag.config import SplitterConfig
from rag.documents import Document
from rag.tables import TableHeader, table_headers

log = logging.getLogger(__name__)

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_UNIT_TOKENS = 48  # the largest piece packing works with: small enough to balance, big enough to be cheap
_CHARS_PER_TOKEN = 4
# A chunk counted from its section's token offsets this far under the size is taken as it is; nearer the size it is
# tokenized again on its own (a slice cut inside a word can tokenize a token or two longer than in its section).
_RECOUNT_MARGIN = 4
# A section longer than this is split a segment at a time (cut at its strongest boundary near the size), so a
# 100 MB single-line file never sits tokenized whole in memory: peak memory is a segment's, not the file's.
_SEGMENT_CHARS = 200_000


@dataclass
class Piece:
    """A chunk's text with where it came from inside its Document."""

    text: str
    start: int
    end: int
    section: str
    table_header: str = ""  # the header rows of the table this piece continues (not in its text)
    terms: str | None = None  # the keyword index's tokens, when the parse child made them (ingest/sandbox.py)


@dataclass
class Section:
    text: str
    start: int
    path: str


class Splitter:
    """Token-aware recursive splitting, header-aware for Markdown-shaped documents."""

    def __init__(
        self,
        cfg: SplitterConfig,
        count_tokens: Callable[[str], int],
        max_tokens: int,
        token_starts: Callable[[str], Sequence[int]] | None = None,
    ):
        """`token_starts` (the embedder's, when it has one): where each token of a text starts, so one tokenizer
        call per section counts every unit and chunk of it (instead of a call per unit and per chunk)."""
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        size = cfg.chunk_size or max_tokens
        if size > max_tokens:
            log.warning(
                "splitter.chunk_size=%d is over the embedding model's %d-token window; using %d",
                size,
                max_tokens,
                max_tokens,
            )
            size = max_tokens
        self.chunk_size = size
        self.chunk_overlap = min(cfg.chunk_overlap, size // 4)
        self.header_aware = cfg.header_aware
        self.truncate = cfg.truncate
        self.table_headers = cfg.table_header
        self.count_tokens = count_tokens
        self.token_starts = token_starts
        self.batch_token_starts: Callable[[list[str]], list[Sequence[int]]] | None = None  # see prefetch
        self._prefetched: dict[str, Sequence[int]] = {}
        unit_tokens = max(8, min(_UNIT_TOKENS, size // 2, self.chunk_overlap or _UNIT_TOKENS))
        self._units = RecursiveCharacterTextSplitter(
            # Units no larger than the overlap, so that the overlap can be filled with whole units.
            # Sized in characters (~4 a token): cheap to cut; packing counts real tokens per unit.
            chunk_size=unit_tokens * _CHARS_PER_TOKEN,
            chunk_overlap=0,
            length_function=len,
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
            strip_whitespace=False,
        )

    @classmethod
    def from_tokenizer(cls, cfg: SplitterConfig, tokenizer: Any, max_tokens: int) -> Splitter:
        """A splitter counting with a ``tokenizers.Tokenizer`` (what an embedder's ``tokenizer()`` gives)."""

        def count(text: str) -> int:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)

        def starts(text: str) -> list[int]:
            return [start for start, _ in tokenizer.encode(text, add_special_tokens=False).offsets]

        def batch_starts(texts: list[str]) -> list[list[int]]:
            found = tokenizer.encode_batch(texts, add_special_tokens=False)  # padding (when set) masked out
            return [
                [start for (start, _), real in zip(encoding.offsets, encoding.attention_mask, strict=True) if real]
                for encoding in found
            ]

        if word_separable(tokenizer):  # BERT's WordPiece: each distinct word encoded once (ingest/word_tokens.py)
            batch_starts = cached_token_starts(tokenizer)
            starts = lambda text: batch_starts([text])[0]  # noqa: E731
            count = lambda text: len(starts(text))  # noqa: E731
        splitter = cls(cfg, count, max_tokens, starts)
        splitter.batch_token_starts = batch_starts
        return splitter

    def prefetch(self, documents: Sequence[Document]) -> None:
        """Tokenize the sections of these documents in one batch call (the tokenizer's own threads, ~2.5x less time
        than a call per section on 2 cores) for the next :meth:`split` calls; what was prefetched before is
        dropped."""
        self._prefetched = {}
        if self.batch_token_starts is None or self.truncate:
            return
        texts = [segment for document in documents for segment in self._segments(document)]
        if texts:
            self._prefetched = dict(zip(texts, self.batch_token_starts(texts), strict=True))

    def _segments(self, document: Document) -> Iterator[str]:
        """The texts :meth:`_spans` will tokenize for this document."""
        for section in self._sections(document):
            for offset, end in _segment_bounds(section.text):
                if section.text[offset:end].strip():
                    yield section.text[offset:end]

    def _sections(self, document: Document) -> list[Section]:
        if self.header_aware and document.format == "markdown":
            return markdown_sections(document.text)
        if len(document.sections) > 1:
            bounds = [offset for offset, _ in document.sections[1:]] + [len(document.text)]
            return [
                Section(document.text[start:end], start, path)
                for (start, path), end in zip(document.sections, bounds, strict=True)
            ]
        return [Section(document.text, 0, "")]

    def split(self, document: Document) -> Iterator[Piece]:
        if self.truncate:
            yield from self._first_window(document.text)
            return
        sections = self._sections(document)
        tables = table_headers(document.text) if self.table_headers else []
        for section in sections:
            for start, end in self._segmented_spans(section.text):
                # Trim surrounding whitespace; the span stays an exact slice of the document.
                raw = section.text[start:end]
                start += len(raw) - len(raw.lstrip())
                end -= len(raw) - len(raw.rstrip())
                if end > start:
                    yield Piece(
                        text=section.text[start:end],
                        start=section.start + start,
                        end=section.start + end,
                        section=section.path,
                        table_header=_header_for(tables, section.start + start),
                    )

    def _first_window(self, text: str) -> Iterator[Piece]:
        """`truncate`: one piece per document, its longest prefix that fits `chunk_size` tokens."""
        stripped = text.strip()
        if not stripped:
            return
        start = text.index(stripped[0])
        end = start + len(stripped)
        if self.count_tokens(text[start:end]) > self.chunk_size:
            low, high = start, end  # the longest prefix that fits: binary search on the character end
            while high - low > 1:
                middle = (low + high) // 2
                if self.count_tokens(text[start:middle]) <= self.chunk_size:
                    low = middle
                else:
                    high = middle
            end = low
        yield Piece(text=text[start:end], start=start, end=end, section="")

    def _segmented_spans(self, text: str) -> Iterator[tuple[int, int]]:
        """The chunk spans of a section, a bounded segment at a time."""
        for offset, end in _segment_bounds(text):
            for start, stop in self._spans(text[offset:end]):
                yield offset + start, offset + stop

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the chunks of one section."""
        if not text.strip():
            return []
        starts = self._prefetched.get(text)
        if starts is None and self.token_starts is not None:
            starts = self.token_starts(text)
        total = len(starts) if starts is not None else self.count_tokens(text)
        if total <= self.chunk_size:  # most sections fit whole: one tokenizer call
            return [(0, len(text))]
        units: list[tuple[int, int, int]] = []  # (start, end, tokens)
        cursor = 0
        for unit in self._units.split_text(text):
            start = text.find(unit, cursor)
            if start < 0 or not unit.strip():
                continue
            cursor = start + len(unit)
            tokens = _tokens_in(starts, start, cursor) if starts is not None else self.count_tokens(unit)
            units.append((start, cursor, tokens))
        return self._pack(text, units, total, starts)

    def _pack(
        self, text: str, units: list[tuple[int, int, int]], total: int, starts: Sequence[int] | None = None
    ) -> list[tuple[int, int]]:
        count = -(-total // self.chunk_size)
        target = -(-total // count)  # balanced: the fewest chunks, each about the same size
        spans: list[tuple[int, int]] = []
        first = 0
        while first < len(units):
            tokens, stop, best = 0, first, None
            while stop < len(units):
                unit_tokens = units[stop][2]
                if stop > first and tokens + unit_tokens > self.chunk_size:
                    break
                tokens += unit_tokens
                stop += 1
                if tokens >= 0.6 * target:  # a place to cut: prefer paragraph/sentence ends near target
                    rank = (_boundary_strength(text, units[stop - 1][1]), -abs(tokens - target))
                    if best is None or rank > best[0]:
                        best = (rank, stop)
            if best is not None and stop < len(units):
                stop = best[1]
            start, end, stop = self._close(text, units, first, stop, starts)
            spans.append((start, end))
            if stop >= len(units):
                break
            first = self._overlap_start(units, first, stop)
        return spans

    def _close(
        self, text: str, units: list[tuple[int, int, int]], first: int, stop: int, starts: Sequence[int] | None = None
    ) -> tuple[int, int, int]:
        start, end = units[first][0], units[stop - 1][1]
        if starts is not None and _tokens_in(starts, start, end) <= self.chunk_size - _RECOUNT_MARGIN:
            return start, end, stop
        # Joined units can tokenize a little longer than their sum; never hand the model more.
        while stop - first > 1 and self.count_tokens(text[start:end]) > self.chunk_size:
            stop -= 1
            end = units[stop - 1][1]
        return start, end, stop

    def _overlap_start(self, units: list[tuple[int, int, int]], first: int, stop: int) -> int:
        """Where the next chunk starts: the previous chunk's tail units, up to the overlap budget."""
        start, budget = stop, self.chunk_overlap
        while start - 1 > first and units[start - 1][2] <= budget:
            budget -= units[start - 1][2]
            start -= 1
        return start


def _tokens_in(starts: Sequence[int], start: int, end: int) -> int:
    """How many of a text's tokens (their start offsets, ascending) begin inside [start, end)."""
    return bisect.bisect_left(starts, end) - bisect.bisect_left(starts, start)


def _segment_bounds(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of the bounded segments a section is split in, one after the other."""
    offset = 0
    while offset < len(text):
        end = _segment_end(text, offset, _SEGMENT_CHARS)
        yield offset, end
        offset = end


def _segment_end(text: str, start: int, size: int) -> int:
    """Where a segment starting at `start` ends: the text's end if near, else the strongest boundary (paragraph,
    line, sentence, word) in the last quarter before `start + size`, else exactly there."""
    limit = start + size
    if limit >= len(text):
        return len(text)
    floor = start + size * 3 // 4
    for boundary in ("\n\n", "\n", ". ", " "):
        cut = text.rfind(boundary, floor, limit)
        if cut >= 0:
            return cut + len(boundary)
    return limit


def _boundary_strength(text: str, end: int) -> int:
    """How good a cut ending at `end` is: paragraph 3, line or sentence 2, clause 1, word 0."""
    tail = text[max(0, end - 3) : end]
    if tail.endswith("\n\n"):
        return 3
    stripped = tail.rstrip(" ")
    if stripped.endswith(("\n", ".", "?", "!")):
        return 2
    return 1 if stripped.endswith((";", ":", ",")) else 0


def _header_for(tables: list[TableHeader], start: int) -> str:
    """The header of the table a piece starting at `start` continues (it starts below the header)."""
    for table in tables:
        if table.body_start <= start < table.end:
            return table.text
    return ""


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
