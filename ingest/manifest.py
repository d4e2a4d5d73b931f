"""What is indexed: per source, its content hash and chunk ids. SQLite beside the store.

Crash-safety protocol: a source is marked *pending* (committed to disk) before the store is
touched for it, the ids of each batch are *staged* (on disk) before the batch is written, and
the mark and the staged ids are cleared in the same transaction that records its new state.
A pending mark found at start-up means a run died mid-source: when the file is ingested again,
its staged chunks are reused (their vectors are not computed twice) and whatever the new run
does not write again is deleted; a pending source that is not ingested again is wiped.

Roots: each ingested folder gets a label (its name, made unique here), the first part of its
files' source ids, so two folders with the same relative names never collide.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.errors import StoreError
from rag.stores.chunk_index import transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY, path TEXT NOT NULL, file_hash TEXT NOT NULL,
    chunk_ids TEXT NOT NULL, chunk_count INTEGER NOT NULL, ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (source TEXT PRIMARY KEY, started_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staged (source TEXT NOT NULL, chunk_id TEXT NOT NULL, PRIMARY KEY (source, chunk_id));
CREATE TABLE IF NOT EXISTS roots (label TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE);
"""


@dataclass
class SourceEntry:
    source: str
    path: str
    file_hash: str
    chunk_ids: list[str]
    ingested_at: str


def manifest_file(settings: Any) -> Path:
    """Where the manifest of the configured store lives: ``ingest.manifest``, else beside the store."""
    return Path(settings.ingest.manifest or settings.store.manifest_path())


class Manifest:
    """The ingest ledger of one store collection; one writer at a time (file lock)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.path.with_suffix(self.path.suffix + ".lock"), "w")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreError(
                f"another ingest is running on this store (lock {self._lock_file.name}); wait for it to finish"
            ) from None
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._mutex = threading.Lock()

    def entries(self) -> dict[str, SourceEntry]:
        with self._mutex:
            rows = self._db.execute("SELECT source, path, file_hash, chunk_ids, ingested_at FROM sources").fetchall()
        return {row[0]: SourceEntry(row[0], row[1], row[2], json.loads(row[3]), row[4]) for row in rows}

    def pending(self) -> list[str]:
        with self._mutex:
            return [row[0] for row in self._db.execute("SELECT source FROM pending ORDER BY source")]

    def model_dimension(self, model: str) -> int | None:
        """The vector size recorded for `model`, so a run with nothing to embed need not load it."""
        with self._mutex:
            rows = dict(self._db.execute("SELECT key, value FROM info").fetchall())
        return int(rows["dimension"]) if rows.get("model") == model and "dimension" in rows else None

    def record_model(self, model: str, dimension: int) -> None:
        with self._mutex, self._transaction():
            self._db.execute("INSERT OR REPLACE INTO info VALUES ('model', ?)", (model,))
            self._db.execute("INSERT OR REPLACE INTO info VALUES ('dimension', ?)", (str(dimension),))

    def settings_fingerprint(self) -> str | None:
        """The fingerprint of the loader/splitter/model settings the indexed chunks were made with."""
        with self._mutex:
            row = self._db.execute("SELECT value FROM info WHERE key = 'settings'").fetchone()
        return row[0] if row else None

    def record_settings_fingerprint(self, fingerprint: str) -> None:
        with self._mutex:
            self._db.execute("INSERT OR REPLACE INTO info VALUES ('settings', ?)", (fingerprint,))

    def record_access_keys(self, keys: set[str]) -> None:
        """Add to the access keys this store's chunks may carry (rag/stores/restricted.py), before they are written:
        a reader's restriction is computed from them, so a key never appears in the store before it is known."""
        with self._mutex, self._transaction():
            row = self._db.execute("SELECT value FROM info WHERE key = 'access_keys'").fetchone()
            known = set(json.loads(row[0])) if row else set()
            if not keys <= known:
                value = json.dumps(sorted(known | keys))
                self._db.execute("INSERT OR REPLACE INTO info VALUES ('access_keys', ?)", (value,))

    def root_label(self, root: Path, record: bool = True) -> str:
        """The label of an ingest root in source ids: its folder name, with ``-2``, ``-3``… when another folder
        of that name already holds sources here. Recorded (unless `record` is false, as in a dry run)."""
        from ingest.discover import folder_label

        path = str(root)
        with self._mutex:
            row = self._db.execute("SELECT label FROM roots WHERE path = ?", (path,)).fetchone()
            if row:
                return row[0]
            base, number = folder_label(root), 1
            while True:
                label = base if number == 1 else f"{base}-{number}"
                owner = self._db.execute("SELECT path FROM roots WHERE label = ?", (label,)).fetchone()
                used = self._db.execute(
                    "SELECT 1 FROM sources WHERE source >= ? AND source < ? LIMIT 1", (label + "/", label + "0")
                ).fetchone()
                if owner is None or not used:
                    break
                number += 1
            if record:
                with self._transaction():
                    self._db.execute("DELETE FROM roots WHERE label = ?", (label,))
                    self._db.execute("INSERT INTO roots VALUES (?, ?)", (label, path))
            return label

    def begin(self, source: str) -> None:
        """Durably mark `source` as being changed, before the store is touched for it."""
        with self._mutex:
            self._db.execute("INSERT OR REPLACE INTO pending VALUES (?, ?)", (source, _now()))

    def stage(self, source: str, chunk_ids: list[str]) -> None:
        """Durably note ids about to be written for a pending `source` (write-ahead: before the store sees them)."""
        with self._mutex, self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO staged VALUES (?, ?)", [(source, i) for i in chunk_ids])

    def staged(self, source: str) -> set[str]:
        """The ids a killed run may have written for `source` since its last commit."""
        with self._mutex:
            return {row[0] for row in self._db.execute("SELECT chunk_id FROM staged WHERE source = ?", (source,))}

    def commit(self, source: str, path: str, file_hash: str, chunk_ids: list[str]) -> None:
        """Record the source's new state and clear its pending mark and staged ids, atomically."""
        with self._mutex, self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                (source, path, file_hash, json.dumps(chunk_ids), len(chunk_ids), _now()),
            )
            self._db.execute("DELETE FROM pending WHERE source = ?", (source,))
            self._db.execute("DELETE FROM staged WHERE source = ?", (source,))

    def forget(self, source: str) -> None:
        """Drop the source, its pending mark and staged ids, atomically (after its chunks left the store)."""
        with self._mutex, self._transaction():
            self._db.execute("DELETE FROM sources WHERE source = ?", (source,))
            self._db.execute("DELETE FROM pending WHERE source = ?", (source,))
            self._db.execute("DELETE FROM staged WHERE source = ?", (source,))

    def _transaction(self):
        return transaction(self._db)

    def close(self) -> None:
        self._db.close()
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()


def read_sources(path: str | Path) -> list[tuple[str, str, int, str]]:
    """(source, path, chunk count, ingested at) of every indexed source, read-only and without the
    writer's lock (WAL lets readers in while an ingest writes). [] when nothing was ingested yet."""
    path = Path(path)
    if not path.is_file():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT source, path, chunk_count, ingested_at FROM sources ORDER BY source").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        db.close()


def recorded_hash(digest: str, access: str) -> str:
    """What the manifest keeps as a file's hash: its bytes' hash and its access key, so a change of who may read a
    file re-ingests it (new metadata, same vectors)."""
    return f"{digest}:{access}"


def read_access(path: str | Path) -> tuple[dict[str, str], set[str]]:
    """({source: access key}, every key the store's chunks may carry), read-only like :func:`read_sources`. A source
    ingested before access keys existed has the key "" (no restricted reader sees its chunks until it is re-ingested,
    which the next run does)."""
    path = Path(path)
    if not path.is_file():
        return {}, set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT source, file_hash FROM sources").fetchall()
        known = db.execute("SELECT value FROM info WHERE key = 'access_keys'").fetchone()
    except sqlite3.OperationalError:
        return {}, set()
    finally:
        db.close()
    by_source = {source: digest.partition(":")[2] for source, digest in rows}
    return by_source, set(json.loads(known[0])) if known else set()


def read_chunk_ids(path: str | Path, source: str) -> list[str]:
    """The chunk ids of one indexed source, read-only like :func:`read_sources` ([] when unknown)."""
    path = Path(path)
    if not path.is_file():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT chunk_ids FROM sources WHERE source = ?", (source,)).fetchone()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
    return json.loads(row[0]) if row else []


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
