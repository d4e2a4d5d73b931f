"""Search latency with per-document access (rag/stores/restricted.py) against the same search without it, at SciFact
size, for Chroma, Milvus Lite, Neo4j and the BM25 keyword index — side by side in one process.

    .venv/bin/python bench/access_bench.py [--dataset ../shared/datasets/scifact] [--k 10] [--no-neo4j]

The SciFact abstracts and their bge-small vectors come from the store `python -m eval retrieval` built under
.rag/eval/ (ingested first when missing). Each abstract gets an access key by a hash of its id: 15 % everyone
("*"), 5 % "legal", the rest split over "hr", "eng" and "sales". Two readers: one in "eng" (sees ~42 %) and one in
"legal" (sees ~20 %). Each of the 300 test claims is searched once per row after a warm-up (vectors embedded
beforehand: the store's time only). Recall@k compares a restricted search with the exact top k of the chunks that
reader may see (numpy, brute force): a filter that loses hits shows here.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.retrieval_bench import eval_store, percentile  # noqa: E402


def access_of(source: str) -> str:
    bucket = int(hashlib.sha256(source.encode()).hexdigest()[:8], 16) % 100
    if bucket < 15:
        return "*"
    if bucket < 20:
        return "legal"
    return ("hr", "eng", "sales")[bucket % 3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "datasets" / "scifact"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-neo4j", action="store_true", help="skip the Neo4j rows (no Java)")
    options = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from rag.config import load_config
    from rag.documents import Chunk
    from rag.retrievers import build_retriever
    from rag.stores import build_store, store_options
    from rag.stores.keyword import BM25Index
    from rag.stores.restricted import ACCESS_FIELD, Restriction, restrict, restrict_index

    console = Console()
    dataset, settings, embedder = eval_store(options.dataset)
    source = build_store(settings.store, embedder.name, embedder.dimension)
    rows = source.get(include_vectors=True)
    source.close()
    chunks = [Chunk(r.id, r.text, {**r.metadata, ACCESS_FIELD: access_of(str(r.metadata["record_id"]))}) for r in rows]
    matrix = np.vstack([r.vector for r in rows]).astype(np.float32)
    queries = [dataset.queries[q] for q in sorted(dataset.queries)]
    vectors = [embedder.embed_query(q) for q in queries]
    known = {c.metadata[ACCESS_FIELD] for c in chunks}
    counts = {key: sum(c.metadata[ACCESS_FIELD] == key for c in chunks) for key in known}
    readers = {name: Restriction.of({name}, known, chunks=counts) for name in ("eng", "legal")}
    share = {name: np.mean([r.allows(c.metadata) for c in chunks]) for name, r in readers.items()}
    console.print(
        f"{len(chunks)} chunks of {len({c.metadata['record_id'] for c in chunks})} abstracts; {len(queries)} queries; "
        + ", ".join(f"reader {name} sees {share[name]:.0%}" for name in readers)
    )

    def exact(reader: Restriction, vector: np.ndarray, k: int) -> set[str]:
        allowed = np.array([reader.allows(c.metadata) for c in chunks])
        scores = np.where(allowed, matrix @ vector / np.linalg.norm(matrix, axis=1), -np.inf)
        return {chunks[i].id for i in np.argsort(-scores)[:k]}

    truth = {name: [exact(r, v, options.k) for v in vectors] for name, r in readers.items()}
    table = Table(title=f"search(k={options.k}) with and without the access filter")
    for column in ("store", "reader", "p50 ms", "p95 ms", "p50 ratio", "hits", f"recall@{options.k}"):
        table.add_column(column, justify="left" if column in ("store", "reader") else "right")

    def measure(label: str, reader: str, search, base_p50: float | None, expected: list[set[str]] | None) -> float:
        search(0)
        times, counts, recalls = [], [], []
        for i in range(len(vectors)):
            started = time.perf_counter()
            hits = search(i)
            times.append((time.perf_counter() - started) * 1000)
            counts.append(len(hits))
            if expected is not None:
                recalls.append(len({h.id for h in hits} & expected[i]) / options.k)
        p50 = percentile(times, 0.5)
        table.add_row(
            label,
            reader,
            f"{p50:.2f}",
            f"{percentile(times, 0.95):.2f}",
            "anchor" if base_p50 is None else f"{p50 / base_p50:.2f}×",
            f"{statistics.mean(counts):.1f}",
            f"{statistics.mean(recalls):.3f}" if recalls else "",
        )
        return p50

    kinds = {
        "chroma": lambda folder: {"kind": "chroma", "path": str(folder / "chroma"), "collection": "access"},
        "milvus lite": lambda folder: {"kind": "milvus", "path": str(folder / "lite.db"), "collection": "access"},
    }
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not options.no_neo4j:
            import importlib.util
            import os

            spec = importlib.util.spec_from_file_location("neo4j_local", REPO / "scripts" / "neo4j" / "neo4j_local.py")
            neo4j_local = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(neo4j_local)
            server = neo4j_local.start(folder / "neo4j", password="bench-password")
            os.environ["NEO4J_PASSWORD"] = "bench-password"
            kinds["neo4j"] = lambda f: {"kind": "neo4j", "uri": server.uri, "collection": "access", "state": str(f)}
        try:
            for label, options_of in kinds.items():
                store = build_store(store_options(options_of(folder)), embedder.name, embedder.dimension)
                for start in range(0, len(chunks), 1000):
                    store.upsert(chunks[start : start + 1000], matrix[start : start + 1000])
                base = measure(label, "everything", lambda i, s=store: s.search(vectors[i], options.k), None, None)
                for name, reader in readers.items():
                    view = restrict(store, reader)
                    measure(label, name, lambda i, v=view: v.search(vectors[i], options.k), base, truth[name])
                if label == "chroma":  # the default strategy end to end: dense (50 deep) + BM25 + fusion
                    run = load_config().model_copy(deep=True)
                    run.store = store_options(options_of(folder))
                    every = build_retriever(run, embedder=embedder, store=store)
                    row = "chroma · hybrid retriever"
                    base = measure(row, "everything", lambda i, r=every: r.retrieve(queries[i], options.k), None, None)
                    for name, reader in readers.items():
                        some = build_retriever(run, embedder=embedder, store=store, restriction=reader)
                        measure(row, name, lambda i, r=some: r.retrieve(queries[i], options.k), base, None)
                store.close()
            index = BM25Index(folder / "bm25.sqlite")
            index.upsert(chunks)
            index.flush()
            base = measure("bm25 index", "everything", lambda i: index.search(queries[i], options.k), None, None)
            for name, reader in readers.items():
                view = restrict_index(index, reader)
                measure("bm25 index", name, lambda i, v=view: v.search(queries[i], options.k), base, None)
            index.close()
        finally:
            if server is not None:
                server.stop()
    console.print(table)


if __name__ == "__main__":
    main()
