"""Retrievers, composed by config: ``build_retriever(settings, embedder=..., store=..., llm=...)``.

strategy: a name in :data:`REGISTRY` (dense | bm25 | sparse | hybrid | multi_query | hyde | fusion | graph |
self_query | router); ``base`` is what multi_query, fusion, hyde, graph, self_query and router run
through; ``rerank`` wraps any of them with a scorer from :data:`RERANKERS`.
A new strategy is one module plus one line here (or :func:`register` from outside). Every retriever has
``as_langchain()`` and ``as_llamaindex()`` (rag/integrations/).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rag.retrievers.base import Retriever
from rag.retrievers.bm25 import BM25Retriever
from rag.retrievers.cache import RewriteCache
from rag.retrievers.dense import DenseRetriever
from rag.retrievers.fuse import reciprocal_rank_fusion, weighted_fusion
from rag.retrievers.hybrid import HybridRetriever
from rag.retrievers.hyde import HyDERetriever
from rag.retrievers.multi_query import MultiQueryRetriever
from rag.retrievers.rag_fusion import RagFusionRetriever
from rag.retrievers.rerank import (
    CrossEncoderReranker,
    EmbeddingReranker,
    LLMReranker,
    RerankRetriever,
    maximal_marginal_relevance,
)
from rag.retrievers.sparse import SparseRetriever

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)


class _Parts:
    """What the builders share; the keyword index and the LLM are opened only when a strategy needs them."""

    def __init__(self, settings: Settings, embedder: Any, store: Any, llm: Any, llm_factory: Callable[[], Any] | None):
        self.settings = settings
        self.cfg = settings.retriever
        self.embedder = embedder
        self.store = store
        self._llm = llm
        self._llm_factory = llm_factory
        self._cache: RewriteCache | None = None

    @property
    def llm(self) -> Any:
        if self._llm is None:
            if self._llm_factory is not None:
                self._llm = self._llm_factory()
            else:
                from rag.llms import build_llm

                self._llm = build_llm(self.settings.llm)
        return self._llm

    @property
    def cache(self) -> RewriteCache:
        if self._cache is None:
            self._cache = RewriteCache(self.cfg.cache)
        return self._cache

    def keyword_index(self) -> Any:
        from rag.stores import open_keyword_index
        from rag.stores.keyword import KeywordIndexedStore, sync_keyword_index

        bm25 = self.settings.store.bm25
        if isinstance(self.store, KeywordIndexedStore) and self.store.keyword.same_params(
            bm25.k1, bm25.b, bm25.method, bm25.context
        ):
            index = self.store.keyword
        else:
            index = open_keyword_index(self.settings.store)
        if index.count() != self.store.count():  # built before the keyword index, or interrupted between writes
            sync_keyword_index(index, self.store)
        return index

    def sparse_index(self) -> Any:
        """The SPLADE index beside the store; filled from the store's texts when it lags (e.g. just enabled)."""
        from rag.stores import open_sparse_index
        from rag.stores.keyword import KeywordIndexedStore, sync_index

        sparse = self.settings.store.sparse
        index = self.store.sparse if isinstance(self.store, KeywordIndexedStore) else None
        if index is None or index.context != sparse.context or index.encoder.reference != sparse.model:
            index = open_sparse_index(self.settings.store)
        if index.count() != self.store.count():
            log.info("filling the SPLADE index from the store's %d chunks (once)", self.store.count())
            sync_index(index, self.store, batch=256)
        return index


def _dense(parts: _Parts) -> Retriever:
    return DenseRetriever(embedder=parts.embedder, store=parts.store, k=parts.cfg.k)


def _bm25(parts: _Parts) -> Retriever:
    return BM25Retriever(index=parts.keyword_index(), store=parts.store, k=parts.cfg.k)


def _sparse(parts: _Parts) -> Retriever:
    return SparseRetriever(index=parts.sparse_index(), store=parts.store, k=parts.cfg.k)


def _hybrid(parts: _Parts) -> Retriever:
    h = parts.cfg.hybrid
    signals = set(h.weights or ("dense", "bm25"))
    return HybridRetriever(
        dense=_dense(parts),
        bm25=_bm25(parts) if "bm25" in signals else None,
        sparse=_sparse(parts) if "sparse" in signals else None,
        fusion=h.fusion,
        alpha=h.alpha,
        weights=h.weights,
        rrf_k=h.rrf_k,
        candidates=parts.cfg.candidates,
        k=parts.cfg.k,
    )


def _multi_query(parts: _Parts, kind: type[MultiQueryRetriever] = MultiQueryRetriever) -> Retriever:
    cfg = parts.cfg
    options: dict[str, Any] = {} if cfg.include_original is None else {"include_original": cfg.include_original}
    return kind(
        base=REGISTRY[cfg.base](parts),
        llm=parts.llm,
        cache=parts.cache,
        queries=cfg.queries,
        rrf_k=cfg.hybrid.rrf_k,
        candidates=cfg.candidates,
        k=cfg.k,
        **options,
    )


def _fusion(parts: _Parts) -> Retriever:
    return _multi_query(parts, RagFusionRetriever)


def _hyde(parts: _Parts) -> Retriever:
    hybrid = _hybrid(parts) if parts.cfg.base == "hybrid" else None
    return HyDERetriever(
        dense=hybrid.dense if hybrid else _dense(parts),
        hybrid=hybrid,
        llm=parts.llm,
        mix_query=parts.cfg.hyde_mix_query,
        expand_keywords=parts.cfg.hyde_expand_keywords,
        cache=parts.cache,
        k=parts.cfg.k,
    )


def _graph(parts: _Parts) -> Retriever:
    from rag.errors import ConfigError
    from rag.retrievers.graph import GraphRetriever
    from rag.stores import base_store

    graph = base_store(parts.store)
    if not hasattr(graph, "related"):
        raise ConfigError(
            f"retriever.strategy graph needs a graph store, but store.kind is {parts.settings.store.kind!r}: "
            "use configs/neo4j.yaml (store.kind: neo4j)"
        )
    g = parts.cfg.graph
    return GraphRetriever(
        base=REGISTRY[g.base](parts),
        graph=graph,
        seeds=g.seeds,
        hops=g.hops,
        per_entity=g.per_entity,
        max_degree=g.max_degree,
        expand_weight=g.expand_weight,
        rrf_k=parts.cfg.hybrid.rrf_k,
        k=parts.cfg.k,
    )


def _router(parts: _Parts) -> Retriever:
    from rag.graph.cypher import CypherQA
    from rag.retrievers.router import RouterRetriever
    from rag.stores import base_store

    graph = _graph(parts)  # refuses a store without a graph
    cypher = CypherQA(base_store(parts.store), parts.llm)
    return RouterRetriever(vector=REGISTRY[parts.cfg.base](parts), graph=graph, cypher=cypher, k=parts.cfg.k)


def _self_query(parts: _Parts) -> Retriever:
    from rag.retrievers.self_query import SelfQueryRetriever

    return SelfQueryRetriever(base=REGISTRY[parts.cfg.base](parts), llm=parts.llm, store=parts.store, k=parts.cfg.k)


# strategy name -> builder over the shared parts. Adding a strategy is one module and one line here.
REGISTRY: dict[str, Callable[[_Parts], Retriever]] = {
    "dense": _dense,
    "bm25": _bm25,
    "sparse": _sparse,
    "hybrid": _hybrid,
    "multi_query": _multi_query,
    "hyde": _hyde,
    "fusion": _fusion,
    "graph": _graph,
    "self_query": _self_query,
    "router": _router,
}
BUILDERS = REGISTRY  # the name before the registries shared one shape
# What multi_query, fusion and hyde may run through (single-pass strategies).
BASES = ("dense", "bm25", "sparse", "hybrid", "graph")


def register(name: str, builder: Callable[[_Parts], Retriever]) -> None:
    """Add a strategy: `builder(parts)` returns the retriever (parts.settings, .embedder, .store, .llm, …)."""
    REGISTRY[name] = builder


def _cross_encoder(parts: _Parts) -> Any:
    rerank = parts.cfg.rerank
    if not rerank.model:
        from rag.errors import ConfigError

        raise ConfigError("retriever.rerank.backend is cross_encoder but retriever.rerank.model is not set")
    return CrossEncoderReranker(rerank.model, rerank.batch_size, parts.settings.embedding.device)


# rerank.backend -> scorer builder; "none" keeps the base's order (MMR may still reorder).
RERANKERS: dict[str, Callable[[_Parts], Any]] = {
    "none": lambda parts: None,
    "cross_encoder": _cross_encoder,
    "llm": lambda parts: LLMReranker(parts.llm, parts.cfg.rerank.mode, parts.cache),
    "embedding": lambda parts: EmbeddingReranker(parts.embedder, parts.store),
}


def build_retriever(
    settings: Settings,
    *,
    embedder: Any,
    store: Any,
    llm: Any | None = None,
    llm_factory: Callable[[], Any] | None = None,
) -> Retriever:
    """The retriever `settings.retriever` describes, over an open embedder and store."""
    parts = _Parts(settings, embedder, store, llm, llm_factory)
    retriever = REGISTRY[parts.cfg.strategy](parts)
    rerank = parts.cfg.rerank
    if rerank.backend == "none" and not rerank.mmr:
        return retriever
    return RerankRetriever(
        base=retriever,
        reranker=RERANKERS[rerank.backend](parts),
        top_n=rerank.top_n,
        mmr=rerank.mmr,
        mmr_lambda=rerank.mmr_lambda,
        embedder=embedder,
        store=parts.store,
        k=parts.cfg.k,
    )


__all__ = [
    "BASES",
    "REGISTRY",
    "RERANKERS",
    "BM25Retriever",
    "CrossEncoderReranker",
    "DenseRetriever",
    "EmbeddingReranker",
    "HyDERetriever",
    "HybridRetriever",
    "LLMReranker",
    "MultiQueryRetriever",
    "RagFusionRetriever",
    "RerankRetriever",
    "Retriever",
    "RewriteCache",
    "SparseRetriever",
    "build_retriever",
    "maximal_marginal_relevance",
    "reciprocal_rank_fusion",
    "register",
    "weighted_fusion",
]
