"""On-disk cache of LLM rewrites (queries, hypothetical passages, rerank verdicts).

Keyed by (prompt version, model, kind, input): an evaluation re-run asks the LLM nothing it was
asked before, and a changed prompt or model never reuses stale output.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


class RewriteCache:
    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        self._mutex = threading.Lock()
        self.hits = 0
        self.misses = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS rewrites (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get_or_compute(self, parts: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The cached value for `parts`, else `compute()` stored (JSON-serialisable values only)."""
        key = self.key(*parts)
        if self._db is not None:
            with self._mutex:
                row = self._db.execute("SELECT value FROM rewrites WHERE key = ?", (key,)).fetchone()
            if row is not None:
                self.hits += 1
                return json.loads(row[0])
        self.misses += 1
        value = compute()
        if self._db is not None:
            with self._mutex:
                self._db.execute("INSERT OR REPLACE INTO rewrites VALUES (?, ?)", (key, json.dumps(value)))
        return value

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
