"""Hybrid retrieval: any of dense, BM25 and SPLADE fused by weighted min-max score fusion, RRF, or weighted fusion
whose shares adapt to each query ("confidence": each signal's share scaled by how far its first hits stand out).

``weights`` names the signals and their shares (``{"dense": 0.5, "bm25": 0.3, "sparse": 0.2}``); without it the
two classic signals are fused with ``alpha`` as the dense share. A signal with weight 0 is not searched.
``signal_lists`` + ``fuse`` are the two halves of ``retrieve``: an evaluation fetches the lists once and fuses
them under many weightings (``python -m eval retrieval --tune``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, SkipValidation, field_validator

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.bm25 import BM25Retriever, fill_texts
from rag.retrievers.dense import DenseRetriever
from rag.retrievers.fuse import confident_shares, reciprocal_rank_fusion, weighted_fusion
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter
from rag.tracing import child

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts

SIGNALS = ("dense", "bm25", "sparse")


class HybridOptions(StrategyOptions):
    """`retriever.hybrid:` how the signals are fused."""

    # confidence, dense 0.8: chosen on the tuning halves of SciFact, Cranfield, TAT-QA and FinanceBench at once with
    # bge-small (python -m eval retrieval --collections …, docs/benchmarks.md#defaults)
    fusion: Literal["weighted", "rrf", "confidence"] = "confidence"
    alpha: float = Field(0.8, ge=0, le=1, description="share of the dense score (min-max normalised)")
    weights: dict[str, float] | None = Field(
        None, description="signal -> share (dense, bm25, sparse); set, it replaces alpha. sparse needs store.sparse"
    )
    rrf_k: int = Field(60, ge=1)

    @field_validator("weights")
    @classmethod
    def _known_signals(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        for name, weight in value.items():
            if name not in SIGNALS:
                raise ValueError(f"unknown hybrid signal {name!r}; choose one of {', '.join(SIGNALS)}")
            if weight < 0:
                raise ValueError(f"the weight of {name!r} must be >= 0")
        if "dense" not in value:
            raise ValueError("the weights must include dense (set it to 0 to leave the embeddings out)")
        if sum(value.values()) <= 0:
            raise ValueError("at least one weight must be > 0")
        return value


class HybridRetriever(Retriever):
    Options: ClassVar[type] = HybridOptions
    strategy: ClassVar[str] = "hybrid"
    dense: DenseRetriever
    bm25: BM25Retriever | None = None
    sparse: SkipValidation[Any] = None  # rag.retrievers.sparse.SparseRetriever
    fusion: Literal["weighted", "rrf", "confidence"] = "weighted"
    alpha: float = 0.5  # weighted, without `weights`: the dense share (BM25 gets the rest)
    weights: dict[str, float] | None = None  # signal -> share; None: {dense: alpha, bm25: 1 - alpha}
    rrf_k: int = 60
    candidates: int = 50  # hits fetched from each signal before fusing
    glossary: SkipValidation[Any] = None  # query expansion (rag/retrievers/glossary.py), for every signal

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: HybridOptions) -> HybridRetriever:
        signals = set(options.weights or ("dense", "bm25"))
        return cls(
            dense=parts.build("dense"),
            bm25=parts.build("bm25") if "bm25" in signals else None,
            sparse=parts.build("sparse") if "sparse" in signals else None,
            fusion=options.fusion,
            alpha=options.alpha,
            weights=options.weights,
            rrf_k=options.rrf_k,
            candidates=parts.cfg.candidates,
            k=parts.cfg.k,
            glossary=parts.glossary,
        )

    def shares(self) -> dict[str, float]:
        """The signals fused and their weights (RRF weighs each list by its share too)."""
        if self.weights is not None:
            return dict(self.weights)
        return {"dense": self.alpha, "bm25": 1.0 - self.alpha}

    def warm_up(self) -> None:
        for name in self.shares():
            self._signal(name).warm_up()

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        return self.retrieve_with(query, None, k, filter)

    def retrieve_with(
        self, keywords: str, vector: np.ndarray | None, k: int | None = None, filter: Filter | None = None
    ) -> list[Hit]:
        """Fuse the keyword signals on `keywords` with dense search by `vector` (the embedded `keywords` when
        None); HyDE passes its passage's vector and the question plus passage."""
        k = k or self.k
        asked = keywords
        if self.glossary is not None:
            keywords = self.glossary.expand(keywords)
        depth = max(self.candidates, k)
        lists = self.signal_lists(keywords, depth, filter, vector=vector)
        fused = self.fuse(lists, self.shares(), depth if self.glossary is not None else k)
        if self.glossary is not None:  # a statement the question names: its chunks first among the candidates
            fused = self.glossary.prefer_sections(asked, fused)
        top = fill_texts(fused[:k], self.dense.store)
        by_signal = {name: {h.id: h.score for h in hits} for name, hits in lists.items()}
        stages = [{"id": h.id, "fused": round(h.score, 4)} for h in top]
        for stage in stages:
            stage.update({name: _rounded(scores.get(stage["id"])) for name, scores in by_signal.items()})
        note("stages", stages)
        return top

    def signal_lists(
        self,
        keywords: str,
        depth: int,
        filter: Filter | None = None,
        *,
        vector: np.ndarray | None = None,
        every: bool = False,
    ) -> dict[str, list[Hit]]:
        """Each signal's hits (texts left empty) at `depth`: those with a weight, or `every` one available."""
        filter = filter or self.search_filter
        names = [n for n in SIGNALS if self._has(n)] if every else [n for n, w in self.shares().items() if w > 0]
        lists: dict[str, list[Hit]] = {}
        for name in names:
            with child(f"signal.{name}", "RETRIEVER", **{"rag.depth": depth}) as span:
                if name == "dense":
                    query_vector = self.dense.embedder.embed_query(keywords) if vector is None else vector
                    lists[name] = self.dense.retrieve_by_vector(query_vector, depth, filter)
                else:
                    lists[name] = self._signal(name).search(keywords, depth, filter)
                if span is not None:
                    span.set_attribute("rag.hits", len(lists[name]))
        return lists

    def fuse(
        self, lists: dict[str, list[Hit]], shares: dict[str, float], k: int, norm_depth: int | None = None
    ) -> list[Hit]:
        """The top `k` of the lists fused with `shares` (signals missing from `lists` count as empty)."""
        names = [name for name, weight in shares.items() if weight > 0 and name in lists]
        rankings = [lists[name] for name in names]
        if self.fusion == "rrf":
            explicit = [shares[n] for n in names] if self.weights is not None else None
            fused = reciprocal_rank_fusion(rankings, k=self.rrf_k, weights=explicit)
        else:
            if self.fusion == "confidence":
                shares = confident_shares({n: lists[n] for n in names}, {n: shares[n] for n in names})
            fused = weighted_fusion(rankings, [shares[n] for n in names], norm_depth=norm_depth or self.candidates)
        return fused[:k]

    def _has(self, name: str) -> bool:
        return getattr(self, name) is not None

    def _signal(self, name: str) -> Any:
        signal = getattr(self, name, None) if name in SIGNALS else None
        if signal is None:
            raise ValueError(f"hybrid: no {name!r} signal configured (signals: {', '.join(SIGNALS)})")
        return signal


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(float(score), 4)
