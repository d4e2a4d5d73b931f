"""Retrieval latency per strategy at SciFact size, side by side in one process, with a stage breakdown.

    .venv/bin/python bench/retrieval_bench.py [--dataset ../shared/datasets/scifact] [--k 10]

Uses the store `python -m eval retrieval` built under .rag/eval/ (it runs that ingest first when missing).
Each of the 300 test claims is retrieved once per strategy (k=10, the default candidates) after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def eval_store(dataset_path: str):
    """(dataset, settings, embedder) of the BEIR collection's store under .rag/eval/ (`python -m eval retrieval`
    builds the same), ingested first when missing."""
    from eval.beir import load_beir
    from eval.retrieval import eval_settings
    from ingest.run import ingest
    from rag.config import load_config
    from rag.embeddings import build_embedder

    dataset = load_beir(dataset_path)
    settings = eval_settings(load_config(), dataset, REPO / ".rag" / "eval")
    embedder = build_embedder(settings.embedding)
    ingest([dataset.corpus], settings, embedder=embedder)
    return dataset, settings, embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "datasets" / "scifact"))
    parser.add_argument("--k", type=int, default=10)
    options = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from eval.retrieval import preset_settings
    from rag.retrievers import build_retriever
    from rag.stores import build_store

    console = Console()
    dataset, settings, embedder = eval_store(options.dataset)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    queries = [dataset.queries[q] for q in sorted(dataset.queries)]
    table = Table(title=f"retrieve(query, k={options.k}) over {store.count()} chunks, {len(queries)} queries")
    for column in ("strategy", "p50 ms", "p95 ms", "mean ms"):
        table.add_column(column, justify="right" if column != "strategy" else "left")

    def measure(label: str, call) -> None:
        call(queries[0])
        times = []
        for query in queries:
            embedder.clear_query_cache()  # time the model, not the cache
            started = time.perf_counter()
            call(query)
            times.append((time.perf_counter() - started) * 1000)
        table.add_row(
            label, f"{percentile(times, 0.5):.1f}", f"{percentile(times, 0.95):.1f}", f"{statistics.mean(times):.1f}"
        )

    retrievers = {}
    for name in ("dense", "bm25", "hybrid", "hybrid_rrf"):
        run_settings, _ = preset_settings(settings, name, None)
        retrievers[name] = build_retriever(run_settings, embedder=embedder, store=store)
    hybrid = retrievers["hybrid"]
    vector = embedder.embed_query(queries[0])
    measure("  stage: embed the query", embedder.embed_query)
    measure(f"  stage: vector search ({hybrid.candidates})", lambda q: store.search(vector, hybrid.candidates))
    measure(f"  stage: BM25 ({hybrid.candidates})", lambda q: hybrid.bm25.search(q, hybrid.candidates))
    for name, retriever in retrievers.items():
        measure(name, lambda q, r=retriever: r.retrieve(q, options.k))
    console.print(table)
    store.close()


if __name__ == "__main__":
    main()
