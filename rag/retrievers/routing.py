"""Route a question to the documents it names, before the search: "What was 3M's FY2018 capital expenditure?" over
a store of 24 filings means the 3M 2018 annual report, and a search filtered to it finds the page that one store
of everything buries under other companies' cash-flow statements.

Each document gets a profile — its file name (split at ``_`` and before a year) and the text of its first pages,
where a filing states the company, the form and the period — and the names in the question (its capitalised words
and its numbers: "Globex", "FY2022") are scored against the profiles with BM25 (the keyword index's tokenizer);
the question's other words ("revenue", "income") name no document and do not count. The documents within
``ratio`` of the best score are the route; a question naming no document gets no route, and the search stays
unfiltered.

As a strategy (``retriever: {strategy: documents, base: hybrid, documents: {pages: 2, ratio: 0.8}}``) the base
retriever runs filtered to the route; a route whose search finds nothing falls back to the unfiltered search.
"""

from __future__ import annotations

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


def _spaced(text: str) -> str:
    return _YEAR_GLUED.sub(" ", text.replace("_", " "))


def names_in(question: str) -> str:
    """The words of a question that can name a document: capitalised ones and numbers, possessives dropped."""
    words = (re.sub(r"['’]s$", "", word.strip(".-'’")) for word in _TOKEN.findall(question))
    return " ".join(word for word in words if any(ch.isupper() or ch.isdigit() for ch in word))


class DocumentRouter:
    """``route(question) -> [source, ...]``: the documents a question names ([] for none)."""

    def __init__(self, profiles: dict[str, str], ratio: float = 0.8):
        self.sources = sorted(profiles)
        self.ratio = ratio
        self._tokenize = Tokenizer()
        self._bm25 = load_bm25s().BM25()
        self._bm25.index(self._tokenize([_spaced(profiles[source]) for source in self.sources]), show_progress=False)

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
        terms = self._tokenize([_spaced(names_in(question))])[0]
        values = self._bm25.get_scores(terms) if terms else np.zeros(len(self.sources))
        return dict(zip(self.sources, (float(v) for v in values), strict=True))

    def route(self, question: str) -> list[str]:
        scores = self.scores(question)
        best = max(scores.values(), default=0.0)
        if best <= 0:
            return []
        return [source for source, score in scores.items() if score >= self.ratio * best]


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
