"""Hybrid retrieval: dense and BM25 fused by weighted min-max score fusion (default) or RRF."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.bm25 import BM25Retriever, fill_texts
from rag.retrievers.dense import DenseRetriever
from rag.retrievers.fuse import reciprocal_rank_fusion, weighted_fusion
from rag.stores.base import Filter


class HybridRetriever(Retriever):
    strategy: ClassVar[str] = "hybrid"
    dense: DenseRetriever
    bm25: BM25Retriever
    fusion: Literal["weighted", "rrf"] = "weighted"
    alpha: float = 0.5  # weighted: the dense share
    rrf_k: int = 60
    candidates: int = 50  # hits fetched from each side before fusing

    def warm_up(self) -> None:
        self.dense.warm_up()
        self.bm25.warm_up()

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        return self.retrieve_with(query, None, k, filter)

    def retrieve_with(
        self, keywords: str, vector: np.ndarray | None, k: int | None = None, filter: Filter | None = None
    ) -> list[Hit]:
        """Fuse BM25 on `keywords` with dense search by `vector` (the embedded `keywords` when None);
        HyDE passes its passage's vector and the question plus passage."""
        k = k or self.k
        depth = max(self.candidates, k)
        filter = filter or self.search_filter
        if vector is None:
            vector = self.dense.embedder.embed_query(keywords)
        dense = self.dense.retrieve_by_vector(vector, depth, filter)
        keyword = self.bm25.search(keywords, depth, filter)
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion([dense, keyword], k=self.rrf_k)
        else:
            fused = weighted_fusion([dense, keyword], [self.alpha, 1.0 - self.alpha], norm_depth=self.candidates)
        top = fill_texts(fused[:k], self.dense.store)
        dense_scores, keyword_scores = {h.id: h.score for h in dense}, {h.id: h.score for h in keyword}
        note(
            "stages",
            [
                {
                    "id": h.id,
                    "fused": round(h.score, 4),
                    "dense": _rounded(dense_scores.get(h.id)),
                    "bm25": _rounded(keyword_scores.get(h.id)),
                }
                for h in top
            ],
        )
        return top


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(float(score), 4)
