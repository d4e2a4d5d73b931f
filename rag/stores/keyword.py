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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.documents import Chunk, Hit, indexed_text
from rag.faults import crash_point
from rag.stores.base import AddsNew, Filter, StoredChunk, VectorStore
from rag.stores.bm25_matrix import SUMMED_METHODS, index_from_parts
from rag.stores.chunk_index import ChunkIndex, parent_of, transaction

if TYPE_CHECKING:
    from rag.stores.base import StoreOptions

log = logging.getLogger(__name__)


def load_bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import and logs every build
    return bm25s


_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, parent TEXT NOT NULL, position INTEGER NOT NULL,
    span_start INTEGER, span_end INTEGER, metadata TEXT NOT NULL, text TEXT NOT NULL, tokens TEXT NOT NULL
);
-- a chunk's neighbours (window(): 60 ms a call by scanning 67k rows, 0.05 ms with it) and the build's order
CREATE INDEX IF NOT EXISTS chunks_parent ON chunks(parent, position);
"""
# Bump when the tokenizer or the table changes: an index of another version is emptied and refilled.
INDEX_VERSION = "2:bm25s-en-stop-snowball"


def keyword_index_path(cfg: StoreOptions) -> Path:
    """Where the keyword index of this store lives (the store's options decide: beside the manifest)."""
    return cfg.keyword_index_path()


class Tokenizer:
    """The one tokenizer of documents and queries: lower-case words, stopwords out, Snowball stems."""

    def __init__(self) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, texts: list[str]) -> list[list[str]]:
        return load_bm25s().tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )


class BM25Index(ChunkIndex):
    """BM25 over chunk texts; ``search`` returns Hits with the chunk text left empty (the store has it)."""

    schema = _SCHEMA

    def __init__(self, path: str | Path, *, k1: float = 1.5, b: float = 0.75, method: str = "lucene", context: int = 2):
        super().__init__(path)
        self.params = {"k1": k1, "b": b, "method": method}
        self.context = context
        if self._info("version") != INDEX_VERSION:
            log.info("keyword index %s is of another version; it is rebuilt from the store", self.path)
            self._db.execute("DROP TABLE IF EXISTS chunks")
        self._create()
        self._tokenizer: Tokenizer | None = None
        self._matrix: Any = None  # bm25s.BM25
        self._set_info("version", INDEX_VERSION)

    # -- writes ----------------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        tokens = [chunk.terms or "" for chunk in chunks]  # made where the chunk was split (ingest's parse child)
        if self.context == 0:  # this chunk's own tokens are what is indexed; with a window, the build makes them
            unmade = [i for i, chunk in enumerate(chunks) if not chunk.terms or chunk.metadata.get("context")]
            made = self.tokenize([indexed_text(chunks[i].text, chunks[i].metadata) for i in unmade]) if unmade else []
            for i, words in zip(unmade, made, strict=True):
                tokens[i] = " ".join(words)
        rows = []
        for chunk, words in zip(chunks, tokens, strict=True):
            meta = chunk.metadata
            source = str(meta.get("source", ""))
            parent = parent_of(meta)
            position = int(meta.get("chunk_index", 0))
            start, end = meta.get("start"), meta.get("end")
            rows.append((chunk.id, source, parent, position, start, end, json.dumps(meta), chunk.text, words))
        with self._mutex, transaction(self._db):
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._bump()

    # -- reads -----------------------------------------------------------------------------------
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
            return self._top(scores, k, filter)

    def window(self, chunk_id: str, neighbours: int) -> list[dict[str, Any]]:
        """The chunk and up to `neighbours` chunks on each side in its parent, in order (``[]`` if unknown)."""
        with self._mutex:
            found = self._db.execute("SELECT parent, position FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
            if found is None:
                return []
            rows = self._db.execute(
                "SELECT id, text, span_start, span_end, metadata FROM chunks "
                "WHERE parent = ? AND position BETWEEN ? AND ? ORDER BY position",
                (found[0], found[1] - neighbours, found[1] + neighbours),
            ).fetchall()
        return [{"id": r[0], "text": r[1], "start": r[2], "end": r[3], "metadata": json.loads(r[4])} for r in rows]

    def same_params(self, k1: float, b: float, method: str, context: int) -> bool:
        return self.params == {"k1": k1, "b": b, "method": method} and self.context == context

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
        bm25s = load_bm25s()

        rows = self._db.execute(
            "SELECT id, metadata, tokens, parent, text, span_start, span_end FROM chunks ORDER BY parent, position"
        ).fetchall()
        self._ids = [row[0] for row in rows]
        self._metadata = [json.loads(row[1]) for row in rows]
        if not rows:
            self._matrix = None
            return
        if self.context > 0:
            parts, plans = _window_parts(rows, self.context, self.tokenize)
        else:  # rows written while a context window was set may have no tokens of their own: made now
            parts = [row[2].partition("\n")[0].split() for row in rows]
            missing = [i for i, row in enumerate(rows) if not row[2]]
            made = self.tokenize([indexed_text(rows[i][4], json.loads(rows[i][1])) for i in missing]) if missing else []
            for i, words in zip(missing, made, strict=True):
                parts[i] = words
            plans = [[i] for i in range(len(parts))]
        matrix = bm25s.BM25(**self.params)
        if matrix.method in SUMMED_METHODS:  # each part counted once (rag/stores/bm25_matrix.py)
            index_from_parts(matrix, parts, plans)
        else:
            matrix.index([[token for part in plan for token in parts[part]] for plan in plans], show_progress=False)
        self._matrix = matrix
        staging = saved.with_name(saved.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        matrix.save(str(staging), show_progress=False)
        (staging / "ids.json").write_text(json.dumps(self._ids))
        (staging / "generation.json").write_text(json.dumps(self._stamp(generation)))
        crash_point("rebuild")
        shutil.rmtree(saved, ignore_errors=True)
        staging.rename(saved)

    def _stamp(self, generation: int) -> dict[str, Any]:
        return {"generation": generation, "context": self.context, **self.params}

    def _load(self, saved: Path) -> None:
        bm25s = load_bm25s()

        self._matrix = bm25s.BM25.load(str(saved), show_progress=False)
        self._ids = json.loads((saved / "ids.json").read_text())
        metadata = dict(self._db.execute("SELECT id, metadata FROM chunks"))
        self._metadata = [json.loads(metadata[i]) for i in self._ids]


def _parents(rows: list[tuple]) -> list[list[tuple]]:
    """Rows (ordered by parent, position) grouped by their parent document."""
    return [list(group) for _, group in itertools.groupby(rows, key=lambda row: row[3])]


def _tail(previous: tuple, row: tuple) -> str:
    """A row's text without the overlap the splitter repeated from the row before it (spans: character offsets)."""
    return tail_of(row[4], previous[6], row[5])


def tail_of(text: str, previous_end: int | None, start: int | None) -> str:
    """A chunk's text without what it repeats of the chunk before it in its document (which ended at
    `previous_end`; this one starts at `start`)."""
    overlap = (previous_end - start) if None not in (previous_end, start) else 0
    return text[overlap:] if 0 < overlap < len(text) else text


def chunk_terms(texts: list[str], tails: list[str], tokenize: Callable[[list[str]], list[list[str]]]) -> list[str]:
    """The keyword index's tokens of chunks, made where they are split (ingest's parse child, on another core) so
    the index is not tokenized at the end of a run: per chunk its text's tokens, then, on the next lines, how many
    characters its tail skips and the tail's tokens (the window build stitches texts and tails: ``_window_tokens``)."""
    made = tokenize([*texts, *(tail for text, tail in zip(texts, tails, strict=True) if tail != text)])
    tail_tokens = iter(made[len(texts) :])
    terms = []
    for text, tail, words in zip(texts, tails, made[: len(texts)], strict=True):
        skipped = len(text) - len(tail)
        terms.append(f"{' '.join(words)}\n{skipped}\n{' '.join(next(tail_tokens) if skipped else words)}")
    return terms


def _known_tokens(rows: list[tuple]) -> dict[str, list[str]]:
    """Text → tokens, as the rows' stored terms give them (a chunk's text and its tail; see ``chunk_terms``)."""
    known: dict[str, list[str]] = {}
    for row in rows:
        whole, found, rest = row[2].partition("\n")
        if not found:
            continue
        skipped, _, tail = rest.partition("\n")
        known[row[4]] = whole.split()
        if int(skipped):
            known[row[4][int(skipped) :]] = tail.split()
    return known


def _windows(rows: list[tuple], context: int) -> list[str]:
    """Per chunk (rows ordered by parent, position): its text with `context` neighbours on each side,
    stitched without the overlap the splitter repeats, after the chunk's own contextual header when it has one."""
    texts: list[str] = []
    for group in _parents(rows):
        for i in range(len(group)):
            window = group[max(0, i - context) : i + context + 1]
            parts = [window[0][4]] + [_tail(previous, row) for previous, row in itertools.pairwise(window)]
            texts.append(indexed_text(" ".join(parts), json.loads(group[i][1])))
    return texts


def _window_tokens(
    rows: list[tuple], context: int, tokenize: Callable[[list[str]], list[list[str]]]
) -> list[list[str]]:
    """The tokens of ``_windows(rows, context)``."""
    parts, plans = _window_parts(rows, context, tokenize)
    return [[token for part in plan for token in parts[part]] for plan in plans]


def _window_parts(
    rows: list[tuple], context: int, tokenize: Callable[[list[str]], list[list[str]]]
) -> tuple[list[list[str]], list[list[int]]]:
    """The windows of ``_windows(rows, context)`` as parts: the tokens of each distinct text (a header, a chunk's text,
    its tail), tokenized once instead of once per window it is in, and per window the parts it is made of in order
    (the tokenizer finds words, so a window's tokens are its parts' tokens one after another)."""
    texts: dict[str, int] = {}  # each distinct header, chunk text and chunk tail, tokenized once

    def ref(text: str) -> int:
        return texts.setdefault(text, len(texts))

    plans: list[list[int]] = []
    for group in _parents(rows):
        whole = [ref(row[4]) for row in group]
        tails = [whole[0]] + [ref(_tail(previous, row)) for previous, row in itertools.pairwise(group)]
        for i in range(len(group)):
            first = max(0, i - context)
            meta = group[i][1]  # parsed only when it holds a header: most chunks have none
            header = json.loads(meta).get("context") if '"context"' in meta else None
            plans.append(([ref(header)] if header else []) + [whole[first]] + tails[first + 1 : i + context + 1])
    known = _known_tokens(rows)
    unknown = [text for text in texts if text not in known]
    known.update(zip(unknown, tokenize(unknown) if unknown else [], strict=True))
    return [known[text] for text in texts], plans


class KeywordIndexedStore:
    """A vector store whose writes also reach its side indexes (BM25, and SPLADE when enabled); reads go to the
    vector store."""

    def __init__(self, store: VectorStore, keyword: BM25Index | None, sparse: Any | None = None):
        self.store = store
        self.keyword = keyword
        self.sparse = sparse  # rag.stores.sparse.SparseIndex
        self.indexes = [index for index in (keyword, sparse) if index is not None]
        self.location = store.location

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self._write(self.store.upsert, chunks, vectors)

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Chunks known not to be stored yet: the store's plain insert where it has one (AddsNew)."""
        self._write(self.store.add if isinstance(self.store, AddsNew) else self.store.upsert, chunks, vectors)

    def _write(self, write: Callable[..., None], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        write(chunks, vectors)
        crash_point("index")
        for index in self.indexes:
            index.upsert(chunks)

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        self.store.delete(ids=ids, source=source)
        crash_point("unindex")
        for index in self.indexes:
            index.delete(ids=ids, source=source)

    def prepare(self, chunks: Sequence[Chunk]) -> None:
        """Let side indexes that run a model (SPLADE) encode `chunks` in the caller's thread before the write."""
        for index in self.indexes:
            getattr(index, "prepare", lambda chunks: None)(chunks)

    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None, **plan: Any) -> list[Hit]:
        return self.store.search(vector, k=k, filter=filter, **plan)

    def count(self) -> int:
        return self.store.count()

    def __getattr__(self, name: str):
        if name in ("nearest", "filters_in_index"):  # the vector store's search plan (rag/stores/restricted.py)
            return getattr(self.store, name)
        raise AttributeError(name)

    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        return self.store.get(ids, include_vectors=include_vectors)

    def close(self) -> None:
        if all(index.closed for index in self.indexes):  # closing twice is harmless, as for the stores themselves
            return
        try:
            for index in self.indexes:
                index.flush()
        finally:
            for index in self.indexes:
                index.close()
            self.store.close()


def sync_index(index: Any, store: VectorStore, batch: int = 2000) -> int:
    """Make a side index (BM25 or SPLADE) hold exactly the store's chunks (for stores built before it existed,
    or after a crash between the two writes); returns how many chunks changed."""
    stored = store.get()
    wanted = {row.id: row for row in stored}
    have = index.ids()
    stale = sorted(have - set(wanted))
    missing = [wanted[i] for i in wanted if i not in have]
    if stale:
        index.delete(ids=stale)
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        index.upsert([Chunk(id=row.id, text=row.text, metadata=row.metadata) for row in part])
    return len(stale) + len(missing)


sync_keyword_index = sync_index
