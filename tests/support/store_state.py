"""Everything a store holds that a user could tell apart: rows (ids, texts, metadata), vectors, and the top-10
search results of a few questions. A store after a crash and a rerun, or after incremental runs, must equal a clean
run's in all three. The top-10s are compared twice: by exact cosine over the stored vectors (must be equal), and
through the configured retriever (at most one hit of ten may differ: HNSW search is approximate and its graph depends
on the order vectors were inserted in, which a resumed run changes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.search import search
from rag.stores import build_store

# Questions over examples/docs (and anything else: only the equality of the two result lists matters).
QUERIES = [
    "How long does a full charge of the battery take?",
    "What does error E07 mean?",
    "How do I claim the warranty?",
    "Who won the Stanley Cup in 1993?",
    "What did Northwind announce in its press release?",
    "Here's to the crazy ones",
    "Where is IBM headquartered?",
    "torque sensor",
]


@dataclass
class StoreState:
    rows: dict[str, tuple[str, dict]]  # id -> (text, metadata without the ingest time)
    vectors: dict[str, np.ndarray]
    top: dict[str, list[tuple[str, float]]]  # question -> (id, score) of the top hits of the configured retriever
    exact: dict[str, list[tuple[str, float]]]  # question -> (id, cosine) of the exact dense top 12


def state_of(settings, embedder) -> StoreState:
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        stored = store.get(include_vectors=True)
        count = store.count()
    finally:
        store.close()
    rows = {row.id: (row.text, {k: v for k, v in row.metadata.items() if k != "ingested_at"}) for row in stored}
    vectors = {row.id: np.asarray(row.vector, dtype=np.float32) for row in stored}
    top = {q: [(h.id, h.score) for h in search(settings, q, k=12, embedder=embedder)] for q in QUERIES} if count else {}
    return StoreState(rows, vectors, top, exact_tops(vectors, embedder))


def exact_tops(vectors: dict[str, np.ndarray], embedder) -> dict[str, list[tuple[str, float]]]:
    if not vectors:
        return {}
    ids = sorted(vectors)
    matrix = np.vstack([vectors[i] for i in ids]).astype(np.float64)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    queries = np.asarray([embedder.embed_query(q) for q in QUERIES], dtype=np.float64)
    tops = {}
    for question, vector in zip(QUERIES, queries, strict=True):
        scores = matrix @ (vector / np.linalg.norm(vector))
        order = np.argsort(-scores, kind="stable")[:12]
        tops[question] = [(ids[i], float(scores[i])) for i in order]
    return tops


def vector_agreement(state: StoreState, clean: StoreState) -> tuple[int, float]:
    """(how many vectors are not bit-equal, the lowest cosine) over the ids both hold."""
    shared = sorted(set(state.vectors) & set(clean.vectors))
    if not shared:
        return 0, 1.0
    a = np.vstack([state.vectors[i] for i in shared])
    b = np.vstack([clean.vectors[i] for i in shared])
    cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return int((a != b).any(axis=1).sum()), float(cosines.min())


def top10(hits: list[tuple[str, float]], tolerance: float = 1e-5) -> list[list[str]]:
    """A top-10 as a user sees it: the order of the ids, up to float noise — hits whose scores are within
    `tolerance` of each other form one group (any order inside it), and the group at the cut keeps only its size
    when it runs past the tenth place (which of the tied hits is tenth is noise). Scores themselves may move a
    little (hybrid normalises by its candidates' range) without changing what is shown."""
    ranked = sorted(hits, key=lambda pair: -pair[1])
    groups: list[list[tuple[str, float]]] = []
    for id_, score in ranked:
        if groups and groups[-1][-1][1] - score <= tolerance:
            groups[-1].append((id_, score))
        else:
            groups.append([(id_, score)])
    shown: list[list[str]] = []
    count = 0
    for group in groups:
        if count >= 10:
            break
        if count + len(group) > 10:
            shown.append([f"(one of {len(group)} tied)"] * (10 - count))
        else:
            shown.append(sorted(id_ for id_, _ in group))
        count += len(group)
    return shown


def same_tops(state: StoreState, clean: StoreState) -> dict[str, tuple]:
    """The questions whose top-10 differ: beyond float noise by exact cosine, or by more than one hit of ten through
    the configured retriever (approximate search at the margin): question -> (state's, clean's)."""
    differ = {
        q: (top10(state.exact.get(q, [])), top10(clean.exact[q]))
        for q in clean.exact
        if top10(state.exact.get(q, [])) != top10(clean.exact[q])
    }
    for q in clean.top:
        ours = {id_ for id_, _ in sorted(state.top.get(q, []), key=lambda pair: -pair[1])[:10]}
        theirs = {id_ for id_, _ in sorted(clean.top[q], key=lambda pair: -pair[1])[:10]}
        if len(theirs - ours) > 1:
            differ[q] = (top10(state.top.get(q, [])), top10(clean.top[q]))
    return differ


def assert_same_store(state: StoreState, clean: StoreState, exact: bool = False) -> None:
    """Rows equal, every vector at cosine >= 0.9999 of the clean run's, same top-10s. `exact`: cosine >= 1 - 1e-6, for
    an embedder whose output is bit-equal whatever the batch (the int8 ONNX models): only the store's own float
    handling may differ then (hnswlib re-normalises a vector that is written again, moving its last bits)."""
    assert set(state.rows) == set(clean.rows), (
        f"lost {sorted(set(clean.rows) - set(state.rows))[:5]}, extra {sorted(set(state.rows) - set(clean.rows))[:5]}"
    )
    assert state.rows == clean.rows
    differing, lowest = vector_agreement(state, clean)
    assert lowest >= 0.9999, f"{differing} vectors differ from a clean run's, the lowest cosine {lowest:.6f}"
    if exact:
        assert lowest >= 1 - 1e-6, f"{differing} vectors differ from a clean run's, the lowest cosine {lowest:.8f}"
    differ = same_tops(state, clean)
    assert not differ, f"other top-10s than a clean run's: {differ}"
