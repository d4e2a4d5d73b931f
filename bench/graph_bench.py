"""The graph store side by side with Chroma on one SciFact subset: ingest speed, retrieval quality, latency.

    .venv/bin/python bench/graph_bench.py [--limit 1000] [--model all-minilm-l6-v2-q]

Starts its own Neo4j (scripts/neo4j), ingests the first N abstracts into Chroma, into Neo4j, and into Neo4j with
the fast entity extractor; scores dense, hybrid and graph retrieval (hybrid seeds, expanded through shared entities
and neighbouring chunks) on the SciFact test claims whose cited abstracts are in the subset (nDCG@10, recall@10,
p50/p95 ms); and a *bridge* set built from the graph itself: for an entity that exactly two abstracts mention,
the query is one abstract's title and the gold is the other abstract — a question the text of the query cannot
reach, only the link can (it is built to need the graph: read it as "does the expansion work", not as a fair
benchmark). Not a test: numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "datasets" / "scifact"


def neo4j_local():
    spec = importlib.util.spec_from_file_location("neo4j_local", REPO / "scripts" / "neo4j" / "neo4j_local.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000, help="the first N abstracts of the corpus")
    parser.add_argument("--model", default="all-minilm-l6-v2-q", help="the ONNX embedder (both stores)")
    parser.add_argument("--bridges", type=int, default=100)
    args = parser.parse_args()
    os.environ.update({"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"})

    from rich.console import Console
    from rich.table import Table

    from eval.beir import load_beir
    from eval.ir_metrics import evaluate
    from eval.retrieval import chunk_depth, eval_settings, preset_settings, run_config
    from ingest.run import ingest
    from rag.config import Settings
    from rag.embeddings import build_embedder
    from rag.retrievers import build_retriever
    from rag.stores import base_store, build_store

    console = Console()
    work = Path(tempfile.mkdtemp(prefix="graph-bench-"))
    corpus = work / "corpus.jsonl"
    with (SCIFACT / "corpus.jsonl").open() as source, corpus.open("w") as target:
        for number, line in enumerate(source):
            if number >= args.limit:
                break
            target.write(line)
    documents = {json.loads(line)["_id"]: json.loads(line) for line in corpus.open()}
    dataset = load_beir(SCIFACT, "test")
    dataset.qrels = {q: d for q, d in dataset.qrels.items() if set(d) <= set(documents)}
    dataset.queries = {q: dataset.queries[q] for q in dataset.qrels}

    server = neo4j_local().start(work / "neo4j", password="graph-bench")
    os.environ["NEO4J_PASSWORD"] = "graph-bench"
    base = {
        "embedding": {"provider": "onnx", "model": args.model},
        "splitter": {"chunk_size": 128, "chunk_overlap": 16},
    }
    stores = {
        "chroma": {"kind": "chroma", "path": str(work / "chroma"), "collection": "bench"},
        "neo4j": {"kind": "neo4j", "uri": server.uri, "collection": "bench", "state": str(work / "n1")},
        "neo4j + fast entities": {
            "kind": "neo4j",
            "uri": server.uri,
            "collection": "bench_e",
            "state": str(work / "n2"),
        },
    }
    embedder = build_embedder(Settings(**base).embedding)
    embedder.warm_up()
    rows, built = [], {}
    try:
        for name, store in stores.items():
            extra = {"ingest": {"entities": {"extractor": "fast"}}} if "entities" in name else {}
            settings = eval_settings(Settings(**base, store=store, **extra), dataset, work / name.replace(" ", "_"))
            settings = settings.model_copy(update={"store": Settings(store=store).store})
            started = time.perf_counter()
            report = ingest([corpus], settings, embedder=embedder)
            seconds = time.perf_counter() - started
            built[name] = settings
            rows.append((name, report.chunks_written, seconds))
        table = Table(title=f"Ingest: SciFact first {args.limit} abstracts, {args.model}, 128-token chunks")
        for column in ("store", "chunks", "seconds", "chunks/s", "vs Chroma"):
            table.add_column(column, justify="right")
        chroma_rate = rows[0][1] / rows[0][2]
        for name, chunks, seconds in rows:
            table.add_row(
                name, str(chunks), f"{seconds:.1f}", f"{chunks / seconds:.1f}", f"{chunks / seconds / chroma_rate:.2f}×"
            )
        console.print(table)

        quality = Table(
            title=f"Retrieval: {len(dataset.queries)} SciFact test claims with their abstracts in the subset"
        )
        for column in ("strategy", "store", "nDCG@10", "recall@10", "p50 ms", "p95 ms"):
            quality.add_column(column, justify="right")
        graph_settings = built["neo4j + fast entities"]
        runs = [
            ("dense", "chroma", preset_settings(built["chroma"], "dense", None)[0]),
            ("hybrid", "chroma", preset_settings(built["chroma"], "hybrid", None)[0]),
            ("hybrid", "neo4j", preset_settings(graph_settings, "hybrid", None)[0]),
        ]
        for seeds in (3, 1):
            retriever_cfg = graph_settings.retriever.model_copy(update={"strategy": "graph", "base": "hybrid"})
            retriever_cfg = retriever_cfg.with_section("graph", seeds=seeds)
            runs.append(
                (
                    f"graph (hybrid seeds {seeds})",
                    "neo4j",
                    graph_settings.model_copy(update={"retriever": retriever_cfg}),
                )
            )
        retrievers = {}
        for strategy, store_name, settings in runs:
            store = build_store(settings.store, embedder.name, embedder.dimension)
            retriever = build_retriever(settings, embedder=embedder, store=store)
            retriever.warm_up()
            retrievers[(strategy, store_name)] = (retriever, store)
            depth = chunk_depth(store.count(), len(documents))
            run, latencies = run_config(strategy, retriever, dataset, sorted(dataset.queries), depth)
            metrics = evaluate(run, {q: dataset.qrels[q] for q in run})
            quality.add_row(
                strategy, store_name, f"{metrics['ndcg@10']:.4f}", f"{metrics['recall@10']:.4f}",
                f"{1000 * percentile(latencies, 0.5):.1f}", f"{1000 * percentile(latencies, 0.95):.1f}",
            )  # fmt: skip
        console.print(quality)

        # The bridge set: entities mentioned by exactly two abstracts.
        graph = base_store(retrievers[("graph (hybrid seeds 3)", "neo4j")][1])
        records, _, _ = graph.driver.execute_query(
            f"MATCH (c:{graph.chunk_label})-[:MENTIONS]->(e:{graph.entity_label}) "
            "WITH e, collect(DISTINCT c.record_id) AS docs WHERE size(docs) = 2 RETURN e.name AS name, docs",
            database_=graph.database,
        )
        records = sorted(records, key=lambda r: r["name"])
        random.Random(0).shuffle(records)
        bridges = [(r["name"], r["docs"][0], r["docs"][1]) for r in records[: args.bridges]]
        table = Table(title=f"Bridge set: {len(bridges)} pairs of abstracts linked by an entity only the two mention")
        for column in ("strategy", "other abstract in top 5", "in top 10"):
            table.add_column(column, justify="right")
        for key in (("hybrid", "neo4j"), ("graph (hybrid seeds 3)", "neo4j"), ("graph (hybrid seeds 1)", "neo4j")):
            retriever, _ = retrievers[key]
            hit5 = hit10 = 0
            for _, first, second in bridges:
                ranked: list[str] = []
                for hit in retriever.retrieve(documents[first]["title"], k=30):
                    if hit.metadata.get("record_id") not in ranked:
                        ranked.append(hit.metadata.get("record_id"))
                hit5 += second in ranked[:5]
                hit10 += second in ranked[:10]
            table.add_row(key[0], f"{hit5 / max(1, len(bridges)):.3f}", f"{hit10 / max(1, len(bridges)):.3f}")
        console.print(table)
    finally:
        for _, store in locals().get("retrievers", {}).values():
            store.close()
        server.stop()


if __name__ == "__main__":
    main()
