"""Ingest speed and retrieval quality per embedding setup, side by side in one run (SciFact).

    .venv/bin/python bench/embedder_bench.py [--limit N] [--setups torch-minilm,onnx-minilm-q,...] [--langchain]

Each setup ingests the SciFact corpus through our ingest (default chunking) into a fresh store in its own
subprocess (model load timed apart, peak RSS of that process), then scores dense and hybrid retrieval on the
test claims whose cited abstracts are in the corpus. With --langchain the stock LangChain pipeline
(RecursiveCharacterTextSplitter 1000/100 → Chroma.from_documents, the packaged MiniLM) runs too, so every
setup's time has its ratio to it. Not a test: numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "datasets" / "scifact"

TORCH_MINILM = {"provider": "sentence_transformers", "model": "all-MiniLM-L6-v2"}
CHUNKS_128 = {"chunk_size": 128, "chunk_overlap": 16}
WINDOW = {"chunk_size": 0, "chunk_overlap": 0}
# name -> (embedding section, splitter section, store.sparse.enabled, hybrid alpha: each model's own)
SETUPS: dict[str, tuple[dict, dict, bool, float]] = {
    "torch-minilm (128)": (TORCH_MINILM, CHUNKS_128, False, 0.5),
    "onnx-minilm-q (128)": ({"provider": "onnx", "model": "all-minilm-l6-v2-q"}, CHUNKS_128, False, 0.5),
    "onnx-bge-small-q (128)": ({"provider": "onnx", "model": "bge-small-en-v1.5-q"}, CHUNKS_128, False, 0.6),
    "onnx-bge-small-q (window)": ({"provider": "onnx", "model": "bge-small-en-v1.5-q"}, WINDOW, False, 0.6),
    "onnx-e5-small-q (window)": ({"provider": "onnx", "model": "e5-small-v2-q"}, WINDOW, False, 0.6),
    "torch-minilm (128) + splade": (TORCH_MINILM, CHUNKS_128, True, 0.5),
}
DEFAULT_SETUPS = ["torch-minilm (128)", "onnx-minilm-q (128)", "onnx-bge-small-q (window)"]


def work_setup(name: str, corpus: str, store: str) -> dict:
    from eval.beir import load_beir
    from eval.retrieval import chunk_depth, eval_settings, evaluate_config, preset_settings, run_config
    from ingest.run import ingest
    from rag.config import load_config
    from rag.embeddings import build_embedder
    from rag.retrievers import build_retriever
    from rag.stores import build_store

    embedding, splitter, sparse, alpha = SETUPS[name]
    dataset = load_beir(Path(corpus).parent, "test")
    base = load_config()
    data = base.model_dump(by_alias=True)
    data["embedding"].update(embedding)
    data["splitter"].update(splitter)
    data["retriever"]["hybrid"]["alpha"] = alpha
    data["store"]["sparse"]["enabled"] = sparse
    settings = eval_settings(type(base)(**data), dataset, Path(store))
    started = time.perf_counter()
    embedder = build_embedder(settings.embedding)
    embedder.warm_up()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    report = ingest([Path(corpus)], settings, embedder=embedder)
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store_ = build_store(settings.store, embedder.name, embedder.dimension)
    with Path(corpus).open() as handle:
        documents = {json.loads(line)["_id"] for line in handle}
    dataset.qrels = {q: d for q, d in dataset.qrels.items() if set(d) <= documents}
    dataset.queries = {q: dataset.queries[q] for q in dataset.qrels}
    depth = chunk_depth(store_.count(), len(documents))
    quality = {}
    presets = ["dense", "hybrid"] + (["hybrid_sparse"] if sparse else [])
    for preset in presets:
        run_settings, _ = preset_settings(settings, preset, None)
        retriever = build_retriever(run_settings, embedder=embedder, store=store_)
        retriever.warm_up()
        run, latencies = run_config(preset, retriever, dataset, sorted(dataset.queries), depth)
        result = evaluate_config(preset, run_settings.retriever, run, latencies, dataset, 0.0)
        quality[preset] = {"ndcg@10": result.metrics["ndcg@10"], "p50_ms": result.latency["p50_ms"]}
    store_.close()
    return {
        "seconds": seconds,
        "model_load_s": load_s,
        "chunks": report.chunks_written,
        "rss_mb": rss,
        "queries": len(dataset.queries),
        "quality": quality,
    }


def work_langchain(corpus: str, store: str) -> dict:
    sys.path.insert(0, str(REPO / "bench"))
    from ingest_bench import work_langchain as langchain

    return langchain(corpus, store, 0)


WORKERS = {"setup": work_setup, "langchain": work_langchain}


def spawn(name: str, *args) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(REPO)}
    env["TOKENIZERS_PARALLELISM"] = "false"
    result = subprocess.run(
        [sys.executable, __file__, "--worker", name, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"worker {name} {args[:1]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N abstracts (quick runs)")
    parser.add_argument("--setups", default=",".join(DEFAULT_SETUPS), help=f"comma-separated, of {', '.join(SETUPS)}")
    parser.add_argument("--langchain", action="store_true", help="also time the stock LangChain pipeline")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--worker")
    parser.add_argument("args", nargs="?")
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(WORKERS[options.worker](*json.loads(options.args))))
        return

    from rich.console import Console
    from rich.table import Table

    names = [name.strip() for name in options.setups.split(",") if name.strip()]
    unknown = [name for name in names if name not in SETUPS]
    if unknown:
        raise SystemExit(f"unknown setups {unknown}; choose from {', '.join(SETUPS)}")
    work = Path(tempfile.mkdtemp(prefix="embedder-bench-"))
    corpus = work / "scifact" / "corpus.jsonl"
    corpus.parent.mkdir()
    (corpus.parent / "qrels").mkdir()
    with (SCIFACT / "corpus.jsonl").open() as source, corpus.open("w") as target:
        for number, line in enumerate(source):
            if options.limit and number >= options.limit:
                break
            target.write(line)
    for name in ("queries.jsonl", "qrels/test.tsv"):
        (corpus.parent / name).write_bytes((SCIFACT / name).read_bytes())
    console = Console(width=220)
    results = {}
    for name in names:
        results[name] = spawn("setup", name, str(corpus), str(work / f"store-{len(results)}"))
        console.print(f"{name}: {results[name]}")
    langchain = spawn("langchain", str(corpus), str(work / "langchain")) if options.langchain else None
    if langchain:
        console.print(f"langchain: {langchain}")
    reference = results.get("torch-minilm (128)")
    table = Table(
        title=f"Embedding setups — SciFact, {sum(1 for _ in corpus.open())} abstracts, {os.cpu_count()} cores"
    )
    columns = ["setup", "ingest s", "chunks/s", "vs torch MiniLM", "vs LangChain", "peak RSS MB", "model load s"]
    columns += ["dense nDCG@10", "hybrid nDCG@10", "3-signal nDCG@10", "hybrid p50 ms"]
    for column in columns:
        table.add_column(column)
    for name, r in results.items():
        q = r["quality"]
        table.add_row(
            name,
            f"{r['seconds']:.1f}",
            f"{r['chunks'] / r['seconds']:.1f}",
            f"{reference['seconds'] / r['seconds']:.2f}×" if reference else "–",
            f"{langchain['seconds'] / r['seconds']:.2f}×" if langchain else "–",
            f"{r['rss_mb']:.0f}",
            f"{r['model_load_s']:.1f}",
            f"{q['dense']['ndcg@10']:.4f}",
            f"{q['hybrid']['ndcg@10']:.4f}",
            f"{q['hybrid_sparse']['ndcg@10']:.4f}" if "hybrid_sparse" in q else "–",
            f"{q['hybrid']['p50_ms']:.1f}",
        )
    console.print(table)
    console.print(
        f"(quality on the {next(iter(results.values()))['queries']} test claims whose abstracts are in the corpus)"
    )
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "embedder_bench.json").write_text(json.dumps({"setups": results, "langchain": langchain}, indent=2))


if __name__ == "__main__":
    main()
