"""Per-document access inside retrieval: read-only views of a store, its keyword/SPLADE indexes and its graph that
only ever return the chunks a reader may see.

Ingest writes each chunk's **access key** into its metadata (``access``): the sorted groups that may read its
document, joined by commas (``"hr,legal"``), or ``"*"`` for everyone who may read the knowledge base. A reader's
:class:`Restriction` is the list of keys they may see — ``"*"`` and every key naming one of their groups — and the
views add ``access IN keys`` to every search *in the store's own query* (Chroma ``where``, Milvus expression,
Neo4j ``WHERE``, the keyword index's mask), so a search returns k allowed chunks, never k minus the forbidden ones.
Reads by id (``get``, neighbour windows, graph expansion) drop what the keys do not allow, and a chunk without a
key is never shown to a restricted reader (fail closed).

A reader whose groups cover every key in the knowledge base gets no restriction at all, so only readers who cannot
see everything pay for the filter (docs/security.md has the latency bench).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.documents import Chunk, Hit
from rag.errors import ConfigError, RagError
from rag.stores.base import Filter, StoredChunk

ACCESS_FIELD = "access"
PUBLIC = "*"
_NOTHING = "~none~"  # a key no chunk has (no group name holds "~"): an empty allowed list filters to nothing
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class ReadOnlyView(RagError):
    """A restricted view was asked to write (a bug: writes go through ingest, never through a reader's view)."""


def access_key(groups: Iterable[str] | None) -> str:
    """The key chunks of a document readable by `groups` carry: ``"*"`` for none (everyone), else sorted, joined."""
    cleaned = sorted({g.strip() for g in groups or () if g and g.strip()})
    for group in cleaned:
        if not _GROUP.match(group):
            raise ConfigError(f"group name {group!r}: letters, digits, '_', '.', '@' and '-' only (at most 64)")
    return ",".join(cleaned) if cleaned else PUBLIC


def key_groups(key: str) -> frozenset[str]:
    return frozenset() if key == PUBLIC else frozenset(key.split(","))


@dataclass(frozen=True)
class Restriction:
    """The access keys a reader may see; None where they may see everything."""

    keys: tuple[str, ...]

    @classmethod
    def of(cls, groups: Iterable[str], known: Iterable[str], admin: bool = False) -> Restriction | None:
        """What a reader in `groups` may see among the `known` keys of a knowledge base (None: all of them)."""
        groups = frozenset(groups)
        known = set(known) | {PUBLIC}
        allowed = {key for key in known if key == PUBLIC or key_groups(key) & groups}
        if admin or allowed == known:
            return None
        return cls(tuple(sorted(allowed)))

    def allows(self, metadata: dict[str, Any] | None) -> bool:
        return (metadata or {}).get(ACCESS_FIELD) in self.keys

    def filter(self, filter: Filter | None) -> Filter:
        """`filter` with the access condition added (a caller's own ``access`` can only narrow it)."""
        allowed = list(self.keys)
        given = (filter or {}).get(ACCESS_FIELD)
        if given is not None:
            wanted = set(given) if isinstance(given, list | tuple) else {given}
            allowed = [key for key in allowed if key in wanted]
        return {**(filter or {}), ACCESS_FIELD: allowed or [_NOTHING]}


def restrict(store: Any, restriction: Restriction | None) -> Any:
    """`store` as `restriction`'s reader sees it (the store itself when there is no restriction)."""
    if restriction is None or store is None:
        return store
    from rag.stores.base import GraphStore

    return RestrictedGraph(store, restriction) if isinstance(store, GraphStore) else RestrictedStore(store, restriction)


def restrict_index(index: Any, restriction: Restriction | None) -> Any:
    """A keyword or SPLADE index as `restriction`'s reader sees it."""
    return index if restriction is None or index is None else RestrictedIndex(index, restriction)


class RestrictedStore:
    """A read-only view of a vector store (see the module docstring)."""

    def __init__(self, store: Any, restriction: Restriction):
        self.inner = store
        self.restriction = restriction
        self.location = store.location

    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[Hit]:
        hits = self.inner.search(vector, k=k, filter=self.restriction.filter(filter))
        return [hit for hit in hits if self.restriction.allows(hit.metadata)]  # the store filtered; checked again

    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        return [c for c in self.inner.get(ids, include_vectors=include_vectors) if self.restriction.allows(c.metadata)]

    def count(self) -> int:
        return self.inner.count()

    @property
    def keyword(self) -> Any:
        return restrict_index(getattr(self.inner, "keyword", None), self.restriction)

    @property
    def sparse(self) -> Any:
        return restrict_index(getattr(self.inner, "sparse", None), self.restriction)

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        raise ReadOnlyView("a reader's restricted view of the store cannot write")

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        raise ReadOnlyView("a reader's restricted view of the store cannot delete")

    def close(self) -> None:
        """The store is shared with other readers: its owner closes it."""


class RestrictedGraph(RestrictedStore):
    """A graph store's view: graph expansion reaches only allowed chunks. It has no Cypher driver: a text-to-Cypher
    query sees the whole graph (counts, names), so the router does not offer that route to a restricted reader."""

    driver = None

    def __init__(self, store: Any, restriction: Restriction):
        super().__init__(store, restriction)
        self.keeps_entities = store.keeps_entities
        self.database = store.database
        self.document_label, self.chunk_label = store.document_label, store.chunk_label
        self.entity_label = store.entity_label

    def related(self, seeds: Sequence[str], **options: Any) -> list[tuple[Hit, float, str]]:
        options["filter"] = self.restriction.filter(options.get("filter"))
        allowed = {c.id for c in self.get(list(seeds))}  # a seed the reader may not see links nothing
        linked = self.inner.related([s for s in seeds if s in allowed], **options)
        return [item for item in linked if self.restriction.allows(item[0].metadata)]


class RestrictedIndex:
    """A keyword (BM25) or SPLADE index's view: searches filtered in the index's mask, windows cut to allowed rows."""

    def __init__(self, index: Any, restriction: Restriction):
        self.inner = index
        self.restriction = restriction

    def search(self, query: Any, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        hits = self.inner.search(query, k=k, filter=self.restriction.filter(filter))
        return [hit for hit in hits if self.restriction.allows(hit.metadata)]

    def window(self, chunk_id: str, neighbours: int) -> list[dict[str, Any]]:
        rows = self.inner.window(chunk_id, neighbours)
        if not any(row["id"] == chunk_id and self.restriction.allows(row.get("metadata")) for row in rows):
            return []
        return [row for row in rows if self.restriction.allows(row.get("metadata"))]

    @property
    def encoder(self) -> Any:  # SPLADE's query encoder (a model, no data)
        return self.inner.encoder

    @property
    def context(self) -> int:
        return self.inner.context

    def flush(self) -> None:
        self.inner.flush()

    def count(self) -> int:
        return self.inner.count()

    def same_params(self, *args: Any) -> bool:
        return self.inner.same_params(*args)
