"""Retrievers, composed by config: ``build_retriever(settings, embedder=..., store=..., llm=...)``.

strategy: a name in :data:`STRATEGIES` (dense | bm25 | sparse | hybrid | multi_query | hyde | fusion | graph |
self_query | router); ``base`` is what multi_query, fusion, hyde, self_query and router run through; ``rerank``
wraps any of them with a scorer from :data:`RERANKERS`. A strategy is one module — a Retriever with ``Options``
(``retriever.<strategy>:``) and ``from_config(parts, options)`` — plus one line in ``STRATEGIES``
(rag/retrievers/options.py), or :func:`register` from outside. Every retriever has ``as_langchain()`` and
``as_llamaindex()`` (rag/integrations/).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rag.retrievers.base import Retriever
from rag.retrievers.options import RERANKERS, STRATEGIES, RerankOptions, RetrieverOptions, bases
from rag.retrievers.parts import RetrieverParts

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.embeddings.base import Embedder
    from rag.llms.base import LLM
    from rag.stores.base import VectorStore
    from rag.stores.restricted import Restriction

# The classes, imported on first use: importing the package (as the config does, for its options) loads no strategy.
_LAZY = {
    "BM25Retriever": "rag.retrievers.bm25",
    "CrossEncoderReranker": "rag.retrievers.rerank",
    "DenseRetriever": "rag.retrievers.dense",
    "EmbeddingReranker": "rag.retrievers.rerank",
    "HyDERetriever": "rag.retrievers.hyde",
    "HybridRetriever": "rag.retrievers.hybrid",
    "LLMReranker": "rag.retrievers.rerank",
    "MultiQueryRetriever": "rag.retrievers.multi_query",
    "RagFusionRetriever": "rag.retrievers.rag_fusion",
    "RerankRetriever": "rag.retrievers.rerank",
    "RewriteCache": "rag.retrievers.cache",
    "SparseRetriever": "rag.retrievers.sparse",
    "maximal_marginal_relevance": "rag.retrievers.rerank",
    "reciprocal_rank_fusion": "rag.retrievers.fuse",
    "weighted_fusion": "rag.retrievers.fuse",
}

REGISTRY = STRATEGIES  # the name every other part's registry has


def register(name: str, strategy: str | type) -> None:
    """Add a strategy: a Retriever class with ``Options`` and ``from_config(parts, options)``, or "module:Class"."""
    STRATEGIES.register(name, strategy)


def build_retriever(
    settings: Settings,
    *,
    embedder: Embedder,
    store: VectorStore,
    llm: LLM | None = None,
    llm_factory: Callable[[], LLM] | None = None,
    restriction: Restriction | None = None,
) -> Retriever:
    """The retriever `settings.retriever` describes, over an open embedder and store — as a reader with
    `restriction` sees it (rag/stores/restricted.py), when one is given."""
    parts = RetrieverParts(settings, embedder, store, llm, llm_factory, restriction)
    retriever = parts.build(parts.cfg.strategy)
    rerank = parts.cfg.rerank
    if rerank.backend == "none" and not rerank.mmr:
        return retriever
    from rag.retrievers.rerank import RerankRetriever

    return RerankRetriever(
        base=retriever,
        reranker=RERANKERS.load(rerank.backend).from_config(parts, rerank),
        top_n=rerank.top_n,
        mmr=rerank.mmr,
        mmr_lambda=rerank.mmr_lambda,
        embedder=embedder,
        store=parts.store,
        k=parts.cfg.k,
    )


def __getattr__(name: str) -> Any:
    if name == "BASES":  # the one-pass strategies, as registered now
        return tuple(bases())
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rag.retrievers' has no attribute {name!r}")


__all__ = [
    "REGISTRY",
    "RERANKERS",
    "STRATEGIES",
    "BM25Retriever",
    "CrossEncoderReranker",
    "DenseRetriever",
    "EmbeddingReranker",
    "HyDERetriever",
    "HybridRetriever",
    "LLMReranker",
    "MultiQueryRetriever",
    "RagFusionRetriever",
    "RerankOptions",
    "RerankRetriever",
    "Retriever",
    "RetrieverOptions",
    "RetrieverParts",
    "RewriteCache",
    "SparseRetriever",
    "build_retriever",
    "maximal_marginal_relevance",
    "reciprocal_rank_fusion",
    "register",
    "weighted_fusion",
]
