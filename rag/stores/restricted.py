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

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    """The access keys a reader may see; None where they may see everything. `share`: about how much of the store
    they see (a hint for the search plan, not part of what the restriction is)."""

    keys: tuple[str, ...]
    share: float = field(default=0.5, compare=False)

    @classmethod
    def of(
        cls, groups: Iterable[str], known: Iterable[str], admin: bool = False, chunks: dict[str, int] | None = None
    ) -> Restriction | None:
        """What a reader in `groups` may see among the `known` keys of a knowledge base (None: all of them);
        `chunks`: how many chunks carry each key, when known (the share they see)."""
        groups = frozenset(groups)
        known = set(known) | {PUBLIC}
        allowed = {key for key in known if key == PUBLIC or key_groups(key) & groups}
        if admin or allowed == known:
            return None
        total = sum((chunks or {}).values())
        share = sum(n for key, n in (chunks or {}).items() if key in allowed) / total if total else 0.5
        return cls(tuple(sorted(allowed)), max(share, 0.01))

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


# The most an unfiltered search fetches to find k allowed (beyond: the store's filter): ids and scores only (Chroma's
# `nearest`, keys from the keyword index), or whole rows (texts and metadata) from a store without that.
WIDEST_IDS, WIDEST_ROWS = 500, 100


class RestrictedStore:
    """A read-only view of a vector store (see the module docstring).

    The search plan: a metadata filter costs every store more than its index search (Chroma pre-filters in SQLite,
    Neo4j scans exactly, Milvus evaluates a JSON expression: 1.6–4× the unfiltered p50 at SciFact size,
    docs/security.md), so when the reader sees a fair share of the store, the view asks the index for the
    k / share × 1.5 nearest chunks with no access filter and keeps the allowed ones. Those are exactly the reader's
    top k when at least k of them are allowed (everything further away scores lower); when fewer are, the store's
    own filtered search runs. Either way the reader gets k allowed chunks, and nothing else leaves the view. The
    share is learnt from what the searches find."""

    def __init__(self, store: Any, restriction: Restriction):
        self.inner = store
        self.restriction = restriction
        self.location = store.location
        self._share = restriction.share

    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[Hit]:
        wide = math.ceil(k / self._share * 1.5)
        own = getattr(self.inner, "filters_in_index", False)  # Neo4j: its filtered search reads the index first
        by_id = getattr(self.inner, "nearest", None) is not None and getattr(self.inner, "keyword", None) is not None
        widest = WIDEST_IDS if by_id else WIDEST_ROWS
        if wide <= widest and not own and (filter or {}).get(ACCESS_FIELD) is None:
            widened = self._widened(vector, k, wide, filter)
            if widened is not None:
                return widened
        plan = {"wide": wide} if own else {}
        hits = self.inner.search(vector, k=k, filter=self.restriction.filter(filter), **plan)
        return [hit for hit in hits if self.restriction.allows(hit.metadata)]  # the store filtered; checked again

    def _widened(self, vector: np.ndarray, k: int, wide: int, filter: Filter | None) -> list[Hit] | None:
        """The reader's k nearest from an unfiltered search of `wide`, or None when it did not hold k of them. With
        the store's id-only search and the keyword index's copy of each chunk's key, only the chosen chunks' rows are
        read (and their keys checked again on the rows themselves)."""
        nearest, table = getattr(self.inner, "nearest", None), getattr(self.inner, "keyword", None)
        if nearest is not None and table is not None:
            found = nearest(vector, wide, filter)
            keys = table.values(ACCESS_FIELD, [chunk_id for chunk_id, _ in found])
            allowed = set(self.restriction.keys)
            chosen = [(chunk_id, score) for (chunk_id, score), key in zip(found, keys, strict=True) if key in allowed]
        else:
            hits = self.inner.search(vector, k=wide, filter=filter)
            found = [(hit.id, hit.score) for hit in hits]
            chosen = [(hit.id, hit.score) for hit in hits if self.restriction.allows(hit.metadata)]
            rows = {hit.id: hit for hit in hits}
        if found:
            self._share = max(0.01, 0.8 * self._share + 0.2 * len(chosen) / len(found))
        if len(chosen) < k and len(found) >= wide:  # neither k allowed nor all that the caller's filter lets through
            return None
        chosen = chosen[:k]
        if nearest is not None and table is not None:
            rows = {row.id: Hit(row.id, row.text, row.metadata, 0.0) for row in self.inner.get([c for c, _ in chosen])}
        hits = [
            Hit(id=chunk_id, text=rows[chunk_id].text, metadata=rows[chunk_id].metadata, score=score)
            for chunk_id, score in chosen
            if chunk_id in rows and self.restriction.allows(rows[chunk_id].metadata)
        ]
        return hits if len(hits) == len(chosen) else None  # a key changed since the index read it: ask the store

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
