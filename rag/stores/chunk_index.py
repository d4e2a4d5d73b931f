"""What the side indexes beside a store share (BM25 in ``keyword.py``, SPLADE in ``sparse.py``): chunk rows in
SQLite, so an upsert or delete touches only its rows, a generation counter bumped by every write (a searcher
rebuilds its in-memory matrix when it moved), and top-k selection under a metadata filter."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.documents import Hit
from rag.stores.base import Filter

# Chunks of one parent share a coordinate system for their character spans (a record, a row group, a page, a
# chapter; inside an attachment or one message of a mailbox).
PARENT_KEYS = ("attachment", "message", "sheet", "chapter", "record", "row", "page")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One SQLite transaction, committed or rolled back as a whole. The connections here are opened in autocommit
    mode (``isolation_level=None``), where ``with db:`` begins nothing: each row of an ``executemany`` was its own
    transaction, with its own fsync (1.5 s of a 2 s BM25 write of SciFact's 9,566 chunks)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class ChunkIndex:
    """A SQLite table ``chunks`` (its columns from the subclass's ``schema``; ``id`` and ``source`` required)."""

    schema = ""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript("CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
        self._mutex = threading.RLock()
        self._ids: list[str] = []
        self._metadata: list[dict[str, Any]] = []
        self._loaded_generation = -1
        self._masks: tuple[list, dict[str, Any]] = ([], {})  # filter masks and value columns of the loaded metadata
        self.closed = False

    def _create(self) -> None:
        self._db.executescript(self.schema + "\nCREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);")

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        with self._mutex, transaction(self._db):
            if ids:
                self._db.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in ids])
            if source is not None:
                self._db.execute("DELETE FROM chunks WHERE source = ?", (source,))
            self._bump()

    def clear(self) -> None:
        with self._mutex, transaction(self._db):
            self._db.execute("DELETE FROM chunks")
            self._bump()

    def _bump(self) -> None:
        self._db.execute(
            "INSERT INTO info VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT id FROM chunks")}

    def flush(self) -> None:
        """Build (and where the subclass saves it, save) the search matrix now, so the first query is fast."""
        with self._mutex:
            self._ensure_matrix()

    def _ensure_matrix(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._db.close()
        self.closed = True

    def _generation(self) -> int:
        return int(self._info("generation") or 0)

    def _info(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_info(self, key: str, value: str) -> None:
        with transaction(self._db):
            self._db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (key, value))

    def _top(self, scores: np.ndarray, k: int, filter: Filter | None) -> list[Hit]:
        """The k best-scoring loaded chunks (score > 0 only), texts left empty (the store has them)."""
        if filter:
            scores = np.where(self._mask(filter), scores, 0.0)
        k = min(k, len(self._ids))
        if k < len(scores):  # the k best, and everything tied with the k-th, then ties broken by id
            threshold = scores[np.argpartition(-scores, k - 1)[k - 1]]
            top = np.flatnonzero(scores >= threshold) if threshold > 0 else np.flatnonzero(scores > 0)
        else:
            top = np.arange(len(scores))
        top = sorted(top, key=lambda i: (-scores[i], self._ids[i]))[:k]
        return [
            Hit(id=self._ids[i], text="", score=float(scores[i]), metadata=self._metadata[i])
            for i in top
            if scores[i] > 0
        ]

    def values(self, key: str, ids: Sequence[str]) -> list[Any]:
        """The metadata value `key` of each chunk in `ids` as the index holds it now (None where unknown)."""
        with self._mutex:
            self._ensure_matrix()
            cached = self._cached()
            column = cached.get(f"values:{key}")
            if column is None:
                values = (meta.get(key) for meta in self._metadata)
                column = cached[f"values:{key}"] = dict(zip(self._ids, values, strict=True))
            return [column.get(i) for i in ids]

    def _cached(self) -> dict[str, Any]:
        """What is derived from the loaded metadata (filter masks, value columns), emptied when it is reloaded."""
        loaded, cached = self._masks
        if loaded is not self._metadata:
            cached = {}
            self._masks = (self._metadata, cached)
        return cached

    def _mask(self, filter: Filter) -> np.ndarray:
        """The filter's mask over the loaded chunks, computed once per filter while they stay loaded (a reader's
        access filter repeats on every query)."""
        masks = self._cached()
        key = json.dumps(filter, sort_keys=True, default=str)
        if key not in masks:
            if len(masks) > 64:
                masks.clear()
            masks[key] = metadata_mask(self._metadata, filter)
        return masks[key]


def parent_of(metadata: dict[str, Any]) -> str:
    """The key chunks of one parent share (their spans are comparable; their neighbours are each other)."""
    return json.dumps([str(metadata.get("source", "")), *(metadata.get(key) for key in PARENT_KEYS)])


def metadata_mask(metadata: list[dict[str, Any]], filter: Filter) -> np.ndarray:
    """Which of the chunks (by their metadata) the filter keeps: every key must hold one of its values."""

    def matches(meta: dict[str, Any]) -> bool:
        for key, wanted in filter.items():
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if meta.get(key) not in allowed:
                return False
        return True

    return np.fromiter((matches(m) for m in metadata), dtype=bool, count=len(metadata))
