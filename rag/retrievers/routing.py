"""Route a question to the documents it names, before the search: "What was 3M's FY2018 capital expenditure?" over
a store of 24 filings means the 3M 2018 annual report, and a search filtered to it finds the page that one store
of everything buries under other companies' cash-flow statements.

The route is found in two steps, as a reader would pick the filing off a shelf:

1. **Who**: the question's names (capitalised words other than years, possessives dropped: "Globex", "JnJ") against
   each document's title words — its file name split at ``_`` and before a year, plus the title's initials
   ("JnJ"/"J&J" for JOHNSON_JOHNSON) and two names run together ("American Express" for AMERICANEXPRESS;
   "AMEX" is not guessed). Where no title matches, the
   names are scored with BM25 against each document's profile (its title and the text of its first pages, where a
   filing states the company, the form and the period); the question's other words ("revenue", "income") name
   no document and do not count. The documents within ``ratio`` of the best score are kept.
2. **When**: the years the question names ("FY2022", "in 2021") against each kept document's period (the first
   year in its file name, else "year ended …, 2022" on its first pages); the latest year some document has wins,
   and a quarter the question names ("Q1", "FY2023Q1") narrows to that quarter's documents. A question naming no
   period, or one no document has, keeps the documents of step 1.

A question naming no document gets no route, and the search stays unfiltered.

As a strategy (``retriever: {strategy: documents, base: hybrid, documents: {pages: 2, ratio: 0.8}}``) the base
retriever runs filtered to the route; a route whose search finds nothing falls back to the unfiltered search.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, PrivateAttr, SkipValidation

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter, VectorStore
from rag.stores.keyword import Tokenizer, load_bm25s

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts

_YEAR_GLUED = re.compile(r"(?<=[A-Za-z])(?=\d{4}\b)|(?<=\b\d{4})(?=[A-Za-z])")  # FY2018 -> FY 2018 (3M stays)
_TOKEN = re.compile(r"[\w&'’.-]+")


_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_QUARTER = re.compile(r"(?:\b|(?<=\d))Q([1-4])(?![A-Za-z0-9])", re.IGNORECASE)
_PERIOD_ENDED = re.compile(
    r"(?:year|period|quarter)\s+ended\s+[A-Z][a-z]+\.?\s+\d{1,2},?\s+((?:19|20)\d{2})", re.IGNORECASE
)
_ACRONYM_JOINERS = re.compile(r"[&n+]")


def _spaced(text: str) -> str:
    return _YEAR_GLUED.sub(" ", text.replace("_", " "))


def names_in(question: str) -> str:
    """The words of a question that can name a document: capitalised ones and numbers, possessives dropped."""
    words = (re.sub(r"['’]s$", "", word.strip(".-'’")) for word in _TOKEN.findall(question))
    return " ".join(word for word in words if any(ch.isupper() or ch.isdigit() for ch in word))


def _title_words(source: str) -> list[str]:
    """The words of a file name, numbers and quarters out ("JOHNSON_JOHNSON_2022Q4_EARNINGS" -> johnson, johnson,
    earnings; "3M_2018_10K" -> 3m, 10k)."""
    words = re.findall(r"[a-z0-9]+", _spaced(Path(source).stem).lower())
    return [word for word in words if not word.isdigit() and not re.fullmatch(r"q[1-4]", word)]


def _initials(words: list[str]) -> set[str]:
    """Short forms a question may use for a name of two or more words: its initials ("jj" for Johnson Johnson)."""
    leading = [w for w in words if w not in _FORM_WORDS]
    return {"".join(w[0] for w in leading)} if len(leading) >= 2 else set()


_FORM_WORDS = {"10k", "10q", "8k", "k", "q", "earnings", "dated", "annual", "report", "form", "quarterly"}


class DocumentPeriod:
    """The year and quarter a document covers: from its file name, else from its first pages."""

    def __init__(self, year: int | None, quarter: int | None):
        self.year, self.quarter = year, quarter

    @classmethod
    def of(cls, source: str, first_pages: str) -> DocumentPeriod:
        stem = Path(source).stem
        year = _YEAR.search(stem) or _PERIOD_ENDED.search(first_pages)
        quarter = _QUARTER.search(stem)
        return cls(int(year.group(1)) if year else None, int(quarter.group(1)) if quarter else None)


class DocumentRouter:
    """``route(question) -> [source, ...]``: the documents a question names ([] for none)."""

    def __init__(self, profiles: dict[str, str], ratio: float = 0.8):
        self.sources = sorted(profiles)
        self.ratio = ratio
        self._tokenize = Tokenizer()
        self._bm25 = load_bm25s().BM25()
        self._bm25.index(self._tokenize([_spaced(profiles[source]) for source in self.sources]), show_progress=False)
        self._titles = {source: _title_words(source) for source in self.sources}
        self._periods = {source: DocumentPeriod.of(source, profiles[source]) for source in self.sources}

    @classmethod
    def from_store(cls, store: VectorStore, pages: int = 2, ratio: float = 0.8) -> DocumentRouter:
        """Profiles from the store's chunks: each source's name and its chunks on the first `pages` pages (its
        first three chunks where it has no pages)."""
        texts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for chunk in store.get():
            source = str(chunk.metadata.get("source", ""))
            page = int(chunk.metadata.get("page") or 0)
            texts[source].append((page, int(chunk.metadata.get("chunk_index", 0)), chunk.text))
        profiles = {}
        for source, chunks in texts.items():
            chunks.sort()
            first = [text for page, _, text in chunks if 0 < page <= pages] or [text for _, _, text in chunks[:3]]
            profiles[source] = f"{Path(source).stem}\n" + "\n".join(first)
        return cls(profiles, ratio)

    def scores(self, question: str) -> dict[str, float]:
        """Step 1's scores: title matches where the question names a title, else BM25 over the profiles."""
        names = [word for word in names_in(question).split() if not _YEAR.fullmatch(word)]
        titles = self._title_scores(names)
        if any(titles.values()):
            return titles
        terms = self._tokenize([_spaced(" ".join(dict.fromkeys(names)))])[0]
        values = self._bm25.get_scores(terms) if terms else np.zeros(len(self.sources))
        return dict(zip(self.sources, (float(v) for v in values), strict=True))

    def _title_scores(self, names: list[str]) -> dict[str, float]:
        plain = [re.sub(r"[^a-z0-9]", "", name.lower()) for name in names]
        asked = set(plain) | {a + b for a, b in itertools.pairwise(plain)}  # "American Express"
        asked |= {_ACRONYM_JOINERS.sub("", name).lower() for name in names if 2 <= len(name) <= 5}
        asked.discard("")
        scores = {}
        for source, words in self._titles.items():
            name_words = [w for w in words if w not in _FORM_WORDS]
            hits = {w for w in name_words if w in asked} | (_initials(words) & asked)
            scores[source] = float(len(hits)) / max(len(set(name_words)), 1) if hits else 0.0
        return scores

    def route(self, question: str) -> list[str]:
        scores = self.scores(question)
        best = max(scores.values(), default=0.0)
        if best <= 0:
            return []
        named = [source for source, score in scores.items() if score >= self.ratio * best]
        return self._in_period(named, question)

    def _in_period(self, sources: list[str], question: str) -> list[str]:
        """Step 2: the latest year the question names that some of `sources` cover, then its quarter."""
        years = {int(year) for year in _YEAR.findall(_spaced(question))}
        covered = [self._periods[s].year for s in sources if self._periods[s].year in years]
        if not covered:
            return sources
        kept = [s for s in sources if self._periods[s].year == max(covered)]
        quarters = {int(q) for q in _QUARTER.findall(question)}
        in_quarter = [s for s in kept if self._periods[s].quarter in quarters]
        return in_quarter or kept


class RoutingOptions(StrategyOptions):
    """`retriever.documents:` how a question is routed to the documents it names."""

    pages: int = Field(2, ge=1, description="the first pages of each document that go into its profile")
    ratio: float = Field(0.8, gt=0, le=1, description="documents within this share of the best score are the route")


class DocumentRoutedRetriever(Retriever):
    """The base retriever, filtered to the documents the question names (see the module docstring)."""

    Options: ClassVar[type] = RoutingOptions
    strategy: ClassVar[str] = "documents"
    composite: ClassVar[bool] = True
    base: SkipValidation[Any]
    store: SkipValidation[Any]
    pages: int = 2
    ratio: float = 0.8
    _router: DocumentRouter | None = PrivateAttr(default=None)
    _built_at: int = PrivateAttr(default=-1)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: RoutingOptions) -> DocumentRoutedRetriever:
        base = parts.build(parts.cfg.base)
        return cls(base=base, store=parts.store, k=parts.cfg.k, pages=options.pages, ratio=options.ratio)

    def warm_up(self) -> None:
        self.base.warm_up()

    def router(self) -> DocumentRouter:
        """Built from the store's documents, and again when the store's size changed (an ingest ran)."""
        with self._lock:
            count = self.store.count()
            if self._router is None or count != self._built_at:
                self._router, self._built_at = DocumentRouter.from_store(self.store, self.pages, self.ratio), count
            return self._router

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        k = k or self.k
        router = self.router()
        route = router.route(query)
        if not route or len(route) == len(router.sources):
            note("documents", {"route": [], "why": "the question names no one document"})
            return self.base.retrieve(query, k=k, filter=filter)
        combined = {"source": route if len(route) > 1 else route[0], **(filter or self.search_filter or {})}
        hits = self.base.retrieve(query, k=k, filter=combined)
        note("documents", {"route": route, "relaxed": not hits})
        return hits or self.base.retrieve(query, k=k, filter=filter)
