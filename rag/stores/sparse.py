"""A learned-sparse (SPLADE) index kept in step with a vector store, persisted beside it.

Each chunk's term weights are computed once, when it is written, and kept in SQLite (so an upsert or delete
touches only its rows). Searching multiplies the query's few terms into a term × chunk matrix built from those
rows when the index changed.

Context window, as for BM25 (``rag.stores.keyword``): with ``context: n`` a chunk's vector is the element-wise
max of its own and its n neighbours' on each side in the same document. SPLADE pools by max over tokens, so
this is close to encoding the whole window, without running the model on text longer than it reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.documents import Chunk, Hit, indexed_text
from rag.embeddings.splade import SparseVector, SpladeEncoder
from rag.stores.base import Filter
from rag.stores.chunk_index import ChunkIndex, parent_of, transaction


class SparseIndex(ChunkIndex):
    """SPLADE vectors of chunks; ``search`` returns Hits with the text left empty (the store has it)."""

    schema = """
    CREATE TABLE IF NOT EXISTS chunks (
        id TEXT PRIMARY KEY, source TEXT NOT NULL, parent TEXT NOT NULL, position INTEGER NOT NULL,
        metadata TEXT NOT NULL, terms BLOB NOT NULL, weights BLOB NOT NULL
    );
    """

    def __init__(self, path: str | Path, encoder: SpladeEncoder, *, context: int = 0):
        super().__init__(path)
        self._create()
        self.encoder = encoder
        self.context = context
        recorded = self._info("model")
        if recorded is not None and recorded != encoder.name:  # another model's weights cannot be mixed in
            self.clear()
        self._set_info("model", encoder.name)
        self._matrix: Any = None  # scipy CSC, chunks × terms
        self._prepared: dict[str, SparseVector] = {}

    # -- writes ----------------------------------------------------------------------------------
    def prepare(self, chunks: Sequence[Chunk]) -> None:
        """Encode the chunks now, in the caller's thread (ingest: beside the embedding model, not in parallel
        with it, so two models never fight over the cores); ``upsert`` then only writes."""
        wanted = [chunk for chunk in chunks if chunk.id not in self._prepared]
        known = self._stored(chunk.id for chunk in wanted)
        fresh = [chunk for chunk in wanted if chunk.id not in known]
        self._prepared.update(known)
        if fresh:
            texts = [indexed_text(c.text, c.metadata) for c in fresh]
            self._prepared.update(zip((c.id for c in fresh), self.encoder.encode(texts), strict=True))

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        self.prepare(chunks)  # a no-op for what ingest prepared; chunk ids are content hashes, so a stored
        rows = []  # vector of the same id is the same text's and is kept, not encoded again
        for chunk in chunks:
            vector = self._prepared.pop(chunk.id)
            meta = chunk.metadata
            rows.append(
                (
                    chunk.id,
                    str(meta.get("source", "")),
                    parent_of(meta),
                    int(meta.get("chunk_index", 0)),
                    json.dumps(meta),
                    vector.indices.astype(np.int32).tobytes(),
                    vector.values.astype(np.float16).tobytes(),
                )
            )
        with self._mutex, transaction(self._db):
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._bump()

    def _stored(self, ids) -> dict[str, SparseVector]:
        ids = list(ids)
        found: dict[str, SparseVector] = {}
        with self._mutex:
            rows = []
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows += self._db.execute(
                    f"SELECT id, terms, weights FROM chunks WHERE id IN ({marks})", part
                ).fetchall()
        for chunk_id, terms, weights in rows:
            values = np.frombuffer(weights, dtype=np.float16).astype(np.float32)
            found[chunk_id] = SparseVector(np.frombuffer(terms, dtype=np.int32).copy(), values)
        return found

    # -- reads -----------------------------------------------------------------------------------
    def search(self, query: str | SparseVector, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top-k chunks by the dot product of SPLADE weights (score > 0 only)."""
        vector = self.encoder.encode_query(query) if isinstance(query, str) else query
        with self._mutex:
            self._ensure_matrix()
            if not self._ids or not len(vector.indices):
                return []
            columns = self._matrix[:, vector.indices]
            return self._top(np.asarray(columns @ vector.values, dtype=np.float32).ravel(), k, filter)

    def _ensure_matrix(self) -> None:
        generation = self._generation()
        if generation == self._loaded_generation:
            return
        from scipy import sparse

        rows = self._db.execute(
            "SELECT id, metadata, parent, terms, weights FROM chunks ORDER BY parent, position"
        ).fetchall()
        self._ids = [row[0] for row in rows]
        self._metadata = [json.loads(row[1]) for row in rows]
        indices = [np.frombuffer(row[3], dtype=np.int32) for row in rows]
        values = [np.frombuffer(row[4], dtype=np.float16).astype(np.float32) for row in rows]
        pointers = np.zeros(len(rows) + 1, dtype=np.int64)
        pointers[1:] = np.cumsum([len(i) for i in indices])
        shape = (len(rows), self.encoder.vocabulary_size)
        matrix = sparse.csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0, np.float32),
                np.concatenate(indices) if indices else np.zeros(0, np.int32),
                pointers,
            ),
            shape=shape,
        )
        if self.context > 0 and rows:
            matrix = _window_max(matrix, [row[2] for row in rows], self.context)
        self._matrix = matrix.tocsc()
        self._loaded_generation = generation


def _window_max(matrix: Any, parents: list[str], context: int) -> Any:
    """Each row becomes the element-wise max of itself and the `context` rows on each side with its parent
    (rows are ordered by parent, then position)."""
    from scipy import sparse

    n = matrix.shape[0]
    labels = np.unique(np.array(parents), return_inverse=True)[1]
    result = matrix
    for offset in range(1, context + 1):
        for shift in (offset, -offset):
            source = np.arange(n) + shift
            valid = (source >= 0) & (source < n)
            valid[valid] &= labels[source[valid]] == labels[valid]
            rows = np.flatnonzero(valid)
            picker = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, source[rows])), shape=(n, n))
            result = result.maximum(picker @ matrix)
    return result
