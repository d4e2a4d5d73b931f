"""Chroma, embedded (PersistentClient): the default store. We always pass our own vectors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from rag.documents import Chunk, Hit
from rag.errors import StoreError
from rag.stores.base import Filter, StoredChunk, StoreOptions, batched, check_model


class ChromaOptions(StoreOptions):
    kind: Literal["chroma"] = "chroma"
    path: str = Field(".rag/chroma", description="the folder of the embedded Chroma database")
    # HNSW is approximate. With Chroma's own ef_search (100) recall@50 on SciFact (5,183 abstracts, MiniLM) was
    # 0.984, and two stores with the same vectors written in another order (an incremental run, a resumed crash)
    # missed different candidates, so hybrid's normalisation moved and top-10s differed. 500: recall@50 1.000 at
    # ~2 ms a query (docs/benchmarks.md#reliability).
    search_ef: int = Field(500, ge=10, description="HNSW candidates per query (recall against speed)")

    def manifest_path(self) -> Path:
        return Path(self.path) / f"manifest-{self.collection}.sqlite"

    def describe(self) -> str:
        return f"Chroma at {self.path} · collection {self.collection}"

    def relocated(self, folder: Path, collection: str) -> ChromaOptions:
        return self.model_copy(update={"path": str(folder / "chroma"), "collection": collection})


class ChromaStore:
    Options = ChromaOptions

    def __init__(self, path: str, collection: str, model: str, dimension: int, search_ef: int = 500):
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings

        self.path = Path(path)
        self.location = f"{self.path} (Chroma collection {collection!r})"
        self.collection_name = collection
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(self.path), settings=Settings(anonymized_telemetry=False))
            self._collection = self._client.get_or_create_collection(
                collection,
                metadata={
                    "hnsw:space": "cosine",
                    "hnsw:search_ef": search_ef,
                    "embedding_model": model,
                    "embedding_dim": dimension,
                },
                embedding_function=None,
            )
            hnsw = (self._collection.configuration or {}).get("hnsw") or {}
            if hnsw.get("ef_search") not in (None, search_ef):  # a store made before, or with another setting
                self._collection.modify(configuration={"hnsw": {"ef_search": search_ef}})
        except Exception as exc:
            raise StoreError(f"could not open Chroma store at {self.path}: {exc}") from None
        recorded = self._collection.metadata or {}
        check_model(self.location, recorded.get("embedding_model"), recorded.get("embedding_dim"), model, dimension)
        self._max_batch = self._client.get_max_batch_size()

    @classmethod
    def from_config(cls, cfg: ChromaOptions, model: str, dimension: int) -> ChromaStore:
        return cls(cfg.path, cfg.collection, model, dimension, cfg.search_ef)

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        # No `add` for new chunks (AddsNew) here: it was tried, and the crash-point tests then read "Error finding id"
        # back — the cause turned out to be a `count()` in the test process before other processes wrote (chromadb
        # 1.5.9 keeps a stale in-process reader), not shown to be `add`; upsert stays until measured faster.
        for start in range(0, len(chunks), self._max_batch):
            part = chunks[start : start + self._max_batch]
            self._collection.upsert(
                ids=[chunk.id for chunk in part],
                embeddings=np.asarray(vectors[start : start + self._max_batch], dtype=np.float32),
                documents=[chunk.text for chunk in part],
                metadatas=[chunk.metadata for chunk in part],
            )

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        if ids:
            for part in batched(list(ids), self._max_batch):
                self._collection.delete(ids=list(part))
        if source is not None:
            self._collection.delete(where={"source": source})

    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[Hit]:
        result = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            where=_where(filter),
            include=["documents", "metadatas", "distances"],
        )
        return [
            Hit(id=id_, text=text, metadata=meta or {}, score=1.0 - float(distance))
            for id_, text, meta, distance in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]

    def nearest(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[tuple[str, float]]:
        """(id, score) of the k nearest chunks, as :meth:`search` scores them, without their texts or metadata (a
        third of the time at k=38: rag/stores/restricted.py reads the allowed ones' rows after)."""
        result = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            where=_where(filter),
            include=["distances"],
        )
        return [(id_, 1.0 - float(d)) for id_, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def count(self) -> int:
        return self._collection.count()

    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        include = ["documents", "metadatas"] + (["embeddings"] if include_vectors else [])
        if ids is not None and not ids:
            return []
        found: list[StoredChunk] = []
        for result in self._pages(ids, include):
            vectors = result.get("embeddings") if include_vectors else None
            for row, id_ in enumerate(result["ids"]):
                found.append(
                    StoredChunk(
                        id=id_,
                        text=result["documents"][row],
                        metadata=result["metadatas"][row] or {},
                        vector=np.asarray(vectors[row], dtype=np.float32) if vectors is not None else None,
                    )
                )
        return found

    def _pages(self, ids: Sequence[str] | None, include: list[str]):
        # Both ways in pages: one get() of a whole large collection fails inside Chroma ("too many SQL variables").
        if ids is not None:
            for part in batched(list(ids), self._max_batch):
                yield self._collection.get(ids=list(part), include=include)
            return
        offset = 0
        while True:
            result = self._collection.get(include=include, limit=self._max_batch, offset=offset)
            if not result["ids"]:
                return
            yield result
            offset += len(result["ids"])

    def close(self) -> None:
        self._collection = None


def _where(filter: Filter | None) -> dict | None:
    if not filter:
        return None
    clauses = [
        {key: {"$in": list(value)} if isinstance(value, list | tuple) else value} for key, value in filter.items()
    ]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
