"""The protocol every vector store implements, and the model-identity check they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.documents import Chunk, Hit
from rag.errors import StoreMismatchError
from rag.registry import KindOptions, Registry

# A metadata filter: {"source": "a.pdf"} or {"source": ["a.pdf", "b.pdf"], "page": 3} (all must hold).
Filter = dict[str, Any]


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    vector: np.ndarray | None = None


class BM25Config(BaseModel):
    """The keyword index ingest keeps beside the store (what the bm25 and hybrid retrievers read)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Measured on SciFact (docs/benchmarks.md): k1=1.5 with a context of 2 neighbouring chunks.
    k1: float = Field(1.5, gt=0)
    b: float = Field(0.75, ge=0, le=1)
    context: int = Field(2, ge=0, le=8, description="neighbouring chunks on each side indexed with a chunk")
    method: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = "lucene"


class SparseConfig(BaseModel):
    """The learned-sparse (SPLADE) index ingest keeps beside the store (what the sparse signal reads)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    model: str = Field("splade-tiny", description="a packaged SPLADE model (python -m rag models list) or a folder")
    # 0: on SciFact the window did not help SPLADE (0.6384 alone vs 0.6323 with 2; docs/benchmarks.md), and on
    # short documents it lets a heading-only chunk take its neighbours' weights.
    context: int = Field(0, ge=0, le=8, description="neighbouring chunks on each side max-pooled into a chunk")
    max_tokens: int = Field(256, ge=16, le=512)
    batch_size: int = Field(16, ge=1)


# kind -> "module:Class" (imported when first used) or the class itself; the class has ``Options`` and
# ``from_config(options, model, dimension)``. A new kind: its module plus one line here (or ``register``).
REGISTRY = Registry(
    "store",
    {
        "chroma": "rag.stores.chroma:ChromaStore",
        "milvus": "rag.stores.milvus:MilvusStore",
        "neo4j": "rag.stores.neo4j:Neo4jStore",
    },
)


class StoreOptions(KindOptions):
    """The `store:` section. Each kind subclasses it with its own options (``Store.Options``) and says
    where its state lives and how it is copied for an evaluation; validating a mapping picks the subclass
    by ``kind`` from :data:`REGISTRY`, so nothing outside a store module names a kind."""

    registry: ClassVar[Registry] = REGISTRY
    kind_field: ClassVar[str] = "kind"
    chooses_kind: ClassVar[bool] = True

    kind: str = "chroma"
    collection: str = "documents"
    bm25: BM25Config = Field(default_factory=BM25Config)
    sparse: SparseConfig = Field(default_factory=SparseConfig)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        return REGISTRY.known(value)

    def manifest_path(self) -> Path:
        """Where ingest keeps its manifest for this store (without opening the store)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where the store is, in a few words for a person (the app's sidebar, a report)."""
        return f"{self.kind} · collection {self.collection}"

    def keyword_index_path(self) -> Path:
        """Where the BM25 keyword index lives: beside the manifest."""
        manifest = self.manifest_path()
        return manifest.with_name(manifest.name.replace("manifest", "bm25", 1))

    def sparse_index_path(self) -> Path:
        """Where the SPLADE index lives: beside the manifest."""
        manifest = self.manifest_path()
        return manifest.with_name(manifest.name.replace("manifest", "sparse", 1))

    def relocated(self, folder: Path, collection: str) -> StoreOptions:
        """A copy of these options whose store (and state) live under `folder`: an evaluation's own store."""
        raise NotImplementedError


def store_options(data: dict[str, Any] | StoreOptions | None = None) -> StoreOptions:
    """The options model of `data`'s kind, validated (``{}`` = the default Chroma store)."""
    return data if isinstance(data, StoreOptions) else StoreOptions.model_validate(data or {})


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

    def close(self) -> None: ...


@runtime_checkable
class GraphStore(VectorStore, Protocol):
    """A store that keeps the chunks as a graph with their entities (Neo4j): what entity extraction, graph
    retrieval and text-to-Cypher ask of it."""

    keeps_entities: bool
    driver: Any  # neo4j.Driver: text-to-Cypher runs read transactions on it
    database: str | None
    document_label: str
    chunk_label: str
    entity_label: str

    def related(self, seeds: Sequence[str], **options: Any) -> list[tuple[Hit, float, str]]:
        """Chunks linked to the seed chunks (shared entities, NEXT neighbours), with a weight and why."""
        ...


@runtime_checkable
class PreparesChunks(Protocol):
    """A store with a side index whose model must run before a write (SPLADE): ingest calls it on its embedding
    thread, after the embedder, so the two models never compete for the cores."""

    def prepare(self, chunks: Sequence[Chunk]) -> None: ...


@runtime_checkable
class AddsNew(Protocol):
    """A store with a plain insert, cheaper than its upsert (Milvus' upsert is a delete and an insert): ingest
    writes with it the chunks it knows are not stored yet (a new file's, the manifest in step with the store)."""

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...


@runtime_checkable
class NeighbourWindow(Protocol):
    """An index that knows each chunk's place in its document (the BM25 index): small-to-big expansion."""

    def window(self, chunk_id: str, neighbours: int) -> list[dict[str, Any]]:
        """The chunk and up to `neighbours` chunks on each side in its document, in order (``[]`` if unknown)."""
        ...


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
