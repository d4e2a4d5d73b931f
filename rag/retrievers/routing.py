"""Route a question to the documents it names, before the search: "What was 3M's FY2018 capital expenditure?" over
a store of 24 filings means the 3M 2018 annual report, and a search filtered to it finds the page that one store
of everything buries under other companies' cash-flow statements.

Each document gets a profile — its file name (split at ``_``, ``-`` and digits) and the text of its first pages,
where a filing states the company, the form and the period — and the question is scored against the profiles
with BM25 (the keyword index's tokenizer). The documents within ``ratio`` of the best score are the route; a
question naming no document (every score 0) gets no route, so the search stays unfiltered.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from rag.stores.base import VectorStore
from rag.stores.keyword import Tokenizer, _bm25s

_GLUED = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")  # FY2018 -> FY 2018, 2023Q2 -> 2023 Q2


def _spaced(text: str) -> str:
    return _GLUED.sub(" ", text.replace("_", " "))


class DocumentRouter:
    """``route(question) -> [source, ...]``: the documents a question names ([] for none)."""

    def __init__(self, profiles: dict[str, str], ratio: float = 0.8):
        self.sources = sorted(profiles)
        self.ratio = ratio
        self._tokenize = Tokenizer()
        self._bm25 = _bm25s().BM25()
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
        terms = self._tokenize([_spaced(question)])[0]
        values = self._bm25.get_scores(terms) if terms else np.zeros(len(self.sources))
        return dict(zip(self.sources, (float(v) for v in values), strict=True))

    def route(self, question: str) -> list[str]:
        scores = self.scores(question)
        best = max(scores.values(), default=0.0)
        if best <= 0:
            return []
        return [source for source, score in scores.items() if score >= self.ratio * best]
