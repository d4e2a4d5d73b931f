"""A BM25 keyword index (bm25s) kept in step with a vector store, persisted beside it.

Chunks (text, tokens, place in their document) are stored in SQLite, so an upsert or delete touches
only its own rows. BM25's statistics (idf, average length) are global, so the score matrix is rebuilt
when the index is next searched or flushed (ingest flushes), and saved with the generation it reflects.

Context window: with ``context: n`` each chunk is indexed with the text of the n chunks on each side
in the same document (overlap removed). Small chunks suit embeddings, but BM25 on a 128-token piece
misses the terms of the rest of the abstract: on SciFact the window lifts chunk-level BM25 from
0.644 to 0.68 nDCG@10, the whole-document level (docs/benchmarks.md). Hits are still single chunks.

``KeywordIndexedStore`` wraps a vector store so that every upsert and delete (ingest, recovery,
pruning, failed files) reaches both: the keyword index cannot keep stale terms.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.documents import Chunk, Hit
from rag.stores.base import Filter, StoredChunk, VectorStore

if TYPE_CHECKING:
    from rag.stores.base import StoreOptions

log = logging.getLogger(__name__)


def _bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import and logs every build
    return bm25s


_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, parent TEXT NOT NULL, position INTEGER NOT NULL,
    span_start INTEGER, span_end INTEGER, metadata TEXT NOT NULL, text TEXT NOT NULL, tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Bump when the tokenizer or the table changes: an index of another version is emptied and refilled.
INDEX_VERSION = "2:bm25s-en-stop-snowball"
# Chunks of one parent share a coordinate system for their character spans (a record, a row group, a page).
_PARENT_KEYS = ("record", "row", "page")


def keyword_index_path(cfg: StoreOptions) -> Path:
    """Where the keyword index of this store lives (the store's options decide: beside the manifest)."""
    return cfg.keyword_index_path()


class Tokenizer:
    """The one tokenizer of documents and queries: lower-case words, stopwords out, Snowball stems."""

    def __init__(self) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, texts: list[str]) -> list[list[str]]:
        return _bm25s().tokenize(texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)


class BM25Index:
    """BM25 over chunk texts; ``search`` returns Hits with the chunk text left empty (the store has it)."""

    def __init__(self, path: str | Path, *, k1: float = 1.5, b: float = 0.75, method: str = "lucene", context: int = 2):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.params = {"k1": k1, "b": b, "method": method}
        self.context = context
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript("CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
        if self._info("version") != INDEX_VERSION:
            log.info("keyword index %s is of another version; it is rebuilt from the store", self.path)
            self._db.execute("DROP TABLE IF EXISTS chunks")
        self._db.executescript(_SCHEMA)
        self._mutex = threading.RLock()
        self._tokenizer: Tokenizer | None = None
        self._matrix: Any = None  # bm25s.BM25
        self._ids: list[str] = []
        self._metadata: list[dict[str, Any]] = []
        self._loaded_generation = -1
        self.closed = False
        self._set_info("version", INDEX_VERSION)

    # -- writes ----------------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        tokens = self.tokenize([chunk.text for chunk in chunks])
        rows = []
        for chunk, words in zip(chunks, tokens, strict=True):
            meta = chunk.metadata
            source = str(meta.get("source", ""))
            parent = json.dumps([source, *(meta.get(key) for key in _PARENT_KEYS)])
            position = int(meta.get("chunk_index", 0))
            start, end = meta.get("start"), meta.get("end")
            rows.append((chunk.id, source, parent, position, start, end, json.dumps(meta), chunk.text, " ".join(words)))
        with self._mutex, self._db:
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._bump()

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        with self._mutex, self._db:
            if ids:
                self._db.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in ids])
            if source is not None:
                self._db.execute("DELETE FROM chunks WHERE source = ?", (source,))
            self._bump()

    def clear(self) -> None:
        with self._mutex, self._db:
            self._db.execute("DELETE FROM chunks")
            self._bump()

    def _bump(self) -> None:
        self._db.execute(
            "INSERT INTO info VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- reads -----------------------------------------------------------------------------------
    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT id FROM chunks")}

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        if self._tokenizer is None:
            self._tokenizer = Tokenizer()
        return self._tokenizer(texts)

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top-k chunks by BM25 score (score > 0 only); `filter` as in the vector stores."""
        with self._mutex:
            self._ensure_matrix()
            if not self._ids:
                return []
            terms = self.tokenize([query])[0]
            scores = self._matrix.get_scores(terms) if terms else np.zeros(len(self._ids), dtype=np.float32)
            if filter:
                scores = np.where(self._mask(filter), scores, 0.0)
            k = min(k, len(self._ids))
            top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
            top = top[np.argsort(-scores[top], kind="stable")]
            return [
                Hit(id=self._ids[i], text="", score=float(scores[i]), metadata=self._metadata[i])
                for i in top
                if scores[i] > 0
            ]

    def same_params(self, k1: float, b: float, method: str, context: int) -> bool:
        return self.params == {"k1": k1, "b": b, "method": method} and self.context == context

    def flush(self) -> None:
        """Rebuild and save the score matrix now (ingest calls this, so the first query is fast)."""
        with self._mutex:
            self._ensure_matrix()

    def close(self) -> None:
        self._db.close()
        self.closed = True

    def _generation(self) -> int:
        return int(self._info("generation") or 0)

    def _ensure_matrix(self) -> None:
        generation = self._generation()
        if generation == self._loaded_generation:
            return
        # One saved matrix per parameter set, so indexes with other params beside it do not overwrite it.
        digest = hashlib.sha256(json.dumps(self._stamp(0), sort_keys=True).encode()).hexdigest()[:8]
        saved = self.path.with_suffix(f".{digest}.bm25s")
        stamp = saved / "generation.json"
        if stamp.exists() and json.loads(stamp.read_text()) == self._stamp(generation):
            self._load(saved)
        else:
            self._build(saved, generation)
        self._loaded_generation = generation

    def _build(self, saved: Path, generation: int) -> None:
        bm25s = _bm25s()

        rows = self._db.execute(
            "SELECT id, metadata, tokens, parent, text, span_start, span_end FROM chunks ORDER BY parent, position"
        ).fetchall()
        self._ids = [row[0] for row in rows]
        self._metadata = [json.loads(row[1]) for row in rows]
        if not rows:
            self._matrix = None
            return
        corpus = self.tokenize(_windows(rows, self.context)) if self.context > 0 else [row[2].split() for row in rows]
        matrix = bm25s.BM25(**self.params)
        matrix.index(corpus, show_progress=False)
        self._matrix = matrix
        staging = saved.with_name(saved.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        matrix.save(str(staging), show_progress=False)
        (staging / "ids.json").write_text(json.dumps(self._ids))
        (staging / "generation.json").write_text(json.dumps(self._stamp(generation)))
        shutil.rmtree(saved, ignore_errors=True)
        staging.rename(saved)

    def _stamp(self, generation: int) -> dict[str, Any]:
        return {"generation": generation, "context": self.context, **self.params}

    def _load(self, saved: Path) -> None:
        bm25s = _bm25s()

        self._matrix = bm25s.BM25.load(str(saved), show_progress=False)
        self._ids = json.loads((saved / "ids.json").read_text())
        metadata = dict(self._db.execute("SELECT id, metadata FROM chunks"))
        self._metadata = [json.loads(metadata[i]) for i in self._ids]

    def _mask(self, filter: Filter) -> np.ndarray:
        def matches(metadata: dict[str, Any]) -> bool:
            for key, wanted in filter.items():
                allowed = wanted if isinstance(wanted, list) else [wanted]
                if metadata.get(key) not in allowed:
                    return False
            return True

        return np.fromiter((matches(m) for m in self._metadata), dtype=bool, count=len(self._metadata))

    def _info(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_info(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (key, value))


def _windows(rows: list[tuple], context: int) -> list[str]:
    """Per chunk (rows ordered by parent, position): its text with `context` neighbours on each side,
    stitched without the overlap the splitter repeats (spans are character offsets in the parent)."""
    texts: list[str] = []
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end][3] == rows[start][3]:
            end += 1
        group = rows[start:end]
        for i in range(len(group)):
            window = group[max(0, i - context) : i + context + 1]
            parts = [window[0][4]]
            for previous, row in itertools.pairwise(window):
                overlap = (previous[6] - row[5]) if None not in (previous[6], row[5]) else 0
                parts.append(row[4][overlap:] if 0 < overlap < len(row[4]) else row[4])
            texts.append(" ".join(parts))
        start = end
    return texts


class KeywordIndexedStore:
    """A vector store whose writes also reach its keyword index; reads go to the vector store."""

    def __init__(self, store: VectorStore, keyword: BM25Index):
        self.store = store
        self.keyword = keyword
        self.location = store.location

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.store.upsert(chunks, vectors)
        self.keyword.upsert(chunks)

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        self.store.delete(ids=ids, source=source)
        self.keyword.delete(ids=ids, source=source)

    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[Hit]:
        return self.store.search(vector, k=k, filter=filter)

    def count(self) -> int:
        return self.store.count()

    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        return self.store.get(ids, include_vectors=include_vectors)

    def close(self) -> None:
        if self.keyword.closed:  # closing twice is harmless, as for the stores themselves
            return
        try:
            self.keyword.flush()
        finally:
            self.keyword.close()
            self.store.close()


def sync_keyword_index(keyword: BM25Index, store: VectorStore, batch: int = 2000) -> int:
    """Make the keyword index hold exactly the store's chunks (for stores built before it existed,
    or after a crash between the two writes); returns how many chunks changed."""
    stored = store.get()
    wanted = {row.id: row for row in stored}
    have = keyword.ids()
    stale = sorted(have - set(wanted))
    missing = [wanted[i] for i in wanted if i not in have]
    if stale:
        keyword.delete(ids=stale)
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        keyword.upsert([Chunk(id=row.id, text=row.text, metadata=row.metadata) for row in part])
    return len(stale) + len(missing)
