"""The protocol every vector store implements, and the model-identity check they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.documents import Chunk, Hit
from rag.errors import StoreMismatchError

# A metadata filter: {"source": "a.pdf"} or {"source": ["a.pdf", "b.pdf"], "page": 3} (all must hold).
Filter = dict[str, Any]


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    vector: np.ndarray | None = None


class VectorStore(Protocol):
    """Upsert chunks with vectors, delete by ids or source, search, count, get."""

    location: str

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None: ...

    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[Hit]: ...

    def count(self) -> int: ...

    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        """The given chunks (all when ids is None); missing ids are left out."""
        ...

    @staticmethod
    def default_manifest_path(cfg: Any) -> Path:
        """Where ingest keeps its manifest for a store of this config."""
        ...

    def close(self) -> None: ...


def check_model(
    location: str, recorded_model: str | None, recorded_dim: int | None, model: str, dimension: int
) -> None:
    """Refuse to mix vectors of two embedding models in one collection."""
    if recorded_model is None:
        return
    if recorded_model != model or (recorded_dim is not None and int(recorded_dim) != dimension):
        raise StoreMismatchError(
            f"store {location} was built with embedding model {recorded_model} ({recorded_dim} dims), "
            f"but the config selects {model} ({dimension} dims). Point store.path/store.collection at "
            "another store, or set embedding.model back to the one the store was built with."
        )


def batched(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
