"""Vector stores, chosen by name: ``build_store(cfg.store, model, dimension)``."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from rag.stores.base import Filter, StoredChunk, VectorStore

if TYPE_CHECKING:
    from rag.config import StoreConfig

# kind -> "module:Class". Adding a store is one file and one line here.
REGISTRY = {
    "chroma": "rag.stores.chroma:ChromaStore",
    "milvus": "rag.stores.milvus:MilvusStore",
}


def store_class(kind: str) -> type:
    module_name, class_name = REGISTRY[kind].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_store(cfg: StoreConfig, model: str, dimension: int) -> VectorStore:
    """Open (or create) the configured store for vectors of `model` with `dimension`; with
    `store.bm25.enabled` its writes also keep the BM25 keyword index beside it in step."""
    store = store_class(cfg.kind).from_config(cfg, model, dimension)
    if not cfg.bm25.enabled:
        return store
    from rag.stores.keyword import KeywordIndexedStore

    return KeywordIndexedStore(store, open_keyword_index(cfg))


def open_keyword_index(cfg: StoreConfig):
    """The BM25 index beside the configured store (created empty when missing)."""
    from rag.stores.keyword import BM25Index, keyword_index_path

    bm25 = cfg.bm25
    return BM25Index(keyword_index_path(cfg), k1=bm25.k1, b=bm25.b, method=bm25.method, context=bm25.context)


def manifest_path(cfg: StoreConfig) -> Path:
    """Where ingest keeps its manifest for this store, without opening the store."""
    return store_class(cfg.kind).default_manifest_path(cfg)


__all__ = [
    "REGISTRY",
    "Filter",
    "StoredChunk",
    "VectorStore",
    "build_store",
    "manifest_path",
    "open_keyword_index",
    "store_class",
]
