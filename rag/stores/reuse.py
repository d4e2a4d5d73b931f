"""One place for "the stored vector, else embed": answers (the relevance gate, re-ranking), ingest (unchanged chunks
of a changed file, a resumed file's written chunks, repeated text) and the Ray driver all ask it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.stores.base import VectorStore


def fetch_from(store: VectorStore | None) -> Callable[[list[str]], dict[str, np.ndarray]]:
    """A fetch for :func:`stored_or_embedded` reading `store` (nothing when None)."""
    if store is None:
        return lambda ids: {}
    return lambda ids: {row.id: row.vector for row in store.get(ids, include_vectors=True) if row.vector is not None}


def stored_or_embedded(
    ids: Sequence[str],
    texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    fetch: Callable[[list[str]], dict[str, np.ndarray]],
    *,
    stored: Callable[[str], bool] | None = None,
    cache: dict[str, np.ndarray] | None = None,
    keys: Sequence[str] | None = None,
    cache_limit: int = 0,
) -> tuple[np.ndarray, int]:
    """Vectors for chunks (`ids`, `texts`): what `fetch` finds under the id (asked for the ids `stored` accepts; all
    when None), else ``cache[key]``, else `embed`-ded — each distinct text once, added to `cache` (up to
    `cache_limit`). Returns the vectors (float32 rows) and how many distinct texts were embedded."""
    vectors: list[np.ndarray | None] = [None] * len(ids)
    lookup = [i for i in ids if stored is None or stored(i)]
    found = fetch(lookup) if lookup else {}
    missing: dict[str, list[int]] = {}
    for position, (chunk_id, text) in enumerate(zip(ids, texts, strict=True)):
        known = found.get(chunk_id)
        if known is None and cache is not None and keys is not None:
            known = cache.get(keys[position])
        if known is not None:
            vectors[position] = np.asarray(known, dtype=np.float32)
        else:
            missing.setdefault(text, []).append(position)
    if missing:
        distinct = list(missing)
        for text, vector in zip(distinct, embed(distinct), strict=True):
            for position in missing[text]:
                vectors[position] = vector
            if cache is not None and keys is not None and len(cache) < cache_limit:
                cache[keys[missing[text][0]]] = vector
    if not vectors:
        return np.zeros((0, 0), dtype=np.float32), 0
    return np.vstack(vectors).astype(np.float32), len(missing)
