"""Stores, chosen by name: ``build_store(cfg.store, model, dimension)``.

A store kind is one module with a store class whose ``Options`` (a :class:`StoreOptions` subclass) is its
config section, plus one line in :data:`REGISTRY` (or a call to :func:`register` from outside the package).
"""

from __future__ import annotations

from pathlib import Path

from rag.stores.base import (
    REGISTRY,
    BM25Config,
    Filter,
    SparseConfig,
    StoredChunk,
    StoreOptions,
    VectorStore,
    store_options,
)


def register(kind: str, store: str | type) -> None:
    """Add a store kind: `store` is a class (with ``Options`` and ``from_config``) or "module:Class"."""
    REGISTRY.register(kind, store)


def store_class(kind: str) -> type:
    return REGISTRY.load(kind)


def build_store(cfg: StoreOptions, model: str, dimension: int) -> VectorStore:
    """Open (or create) the configured store for vectors of `model` with `dimension`; with
    `store.bm25.enabled` (and `store.sparse.enabled`) its writes also keep the BM25 keyword index (and the
    SPLADE index) beside it in step."""
    store = store_class(cfg.kind).from_config(cfg, model, dimension)
    if not (cfg.bm25.enabled or cfg.sparse.enabled):
        return store
    from rag.stores.keyword import KeywordIndexedStore

    keyword = open_keyword_index(cfg) if cfg.bm25.enabled else None
    return KeywordIndexedStore(store, keyword, open_sparse_index(cfg) if cfg.sparse.enabled else None)


def base_store(store: VectorStore) -> VectorStore:
    """The store under its side indexes (what a kind-specific feature, e.g. the graph, is asked of)."""
    from rag.stores.keyword import KeywordIndexedStore

    return store.store if isinstance(store, KeywordIndexedStore) else store


def open_keyword_index(cfg: StoreOptions):
    """The BM25 index beside the configured store (created empty when missing)."""
    from rag.stores.keyword import BM25Index

    bm25 = cfg.bm25
    return BM25Index(cfg.keyword_index_path(), k1=bm25.k1, b=bm25.b, method=bm25.method, context=bm25.context)


def open_sparse_index(cfg: StoreOptions, context: int | None = None):
    """The SPLADE index beside the configured store (created empty when missing; the model loads on first use)."""
    from rag.embeddings.splade import SpladeEncoder
    from rag.stores.sparse import SparseIndex

    sparse = cfg.sparse
    encoder = SpladeEncoder(sparse.model, max_tokens=sparse.max_tokens, batch_size=sparse.batch_size)
    return SparseIndex(cfg.sparse_index_path(), encoder, context=sparse.context if context is None else context)


def manifest_path(cfg: StoreOptions) -> Path:
    """Where ingest keeps its manifest for this store, without opening the store."""
    return cfg.manifest_path()


__all__ = [
    "REGISTRY",
    "BM25Config",
    "Filter",
    "SparseConfig",
    "StoreOptions",
    "StoredChunk",
    "VectorStore",
    "build_store",
    "manifest_path",
    "open_keyword_index",
    "open_sparse_index",
    "register",
    "store_class",
    "store_options",
]
