"""Ingest engines side by side on one SciFact subset: the local engine (threads) vs Ray with 1 and 2 actors.

    .venv/bin/python bench/scale_bench.py [--limit 1000] [--model all-minilm-l6-v2-q]

Each run ingests the same abstracts into a fresh Chroma store in its own subprocess (Ray's local cluster
start-up counted in the Ray rows: it is what a user waits for). Not a test: numbers go to docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "datasets" / "scifact"


def worker(engine: str, workers: int, corpus: str, store: str, model: str) -> dict:
    from ingest.run import ingest
    from rag.config import Settings
    from rag.embeddings import build_embedder

    settings = Settings(
        embedding={"provider": "onnx", "model": model},
        splitter={"chunk_size": 128, "chunk_overlap": 16},
        store={"path": store, "collection": "scale"},
        ingest={"engine": engine, "ray": {"workers": workers, "num_cpus": os.cpu_count()}},
        loaders={"json": {"text_fields": ["title", "text"], "metadata_fields": [], "id_field": "_id"}},
    )
    embedder = build_embedder(settings.embedding)
    embedder.warm_up()
    started = time.perf_counter()
    report = ingest([Path(corpus)], settings, embedder=embedder)
    return {"seconds": time.perf_counter() - started, "chunks": report.chunks_written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--model", default="all-minilm-l6-v2-q")
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))))
        return
    from rich.console import Console
    from rich.table import Table

    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    # The abstracts one per file: the unit Ray distributes is a file.
    corpus = work / "corpus"
    corpus.mkdir()
    with (SCIFACT / "corpus.jsonl").open() as source:
        for number, line in enumerate(source):
            if number >= args.limit:
                break
            (corpus / f"{json.loads(line)['_id']}.jsonl").write_text(line)
    rows = []
    for engine, workers in (("local", 1), ("ray", 1), ("ray", 2)):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
        store = work / f"{engine}-{workers}"
        payload = json.dumps([engine, workers, str(corpus), str(store), args.model])
        done = subprocess.run([sys.executable, __file__, "--worker", payload], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((f"{engine}" + (f", {workers} actor{'s' * (workers > 1)}" if engine == "ray" else ""), result))
    table = Table(
        title=f"Ingest engines: {args.limit} SciFact abstracts (one file each), {args.model}, {os.cpu_count()} CPUs"
    )
    for column in ("engine", "chunks", "seconds", "chunks/s", "vs local"):
        table.add_column(column, justify="right")
    base = rows[0][1]["chunks"] / rows[0][1]["seconds"]
    for name, result in rows:
        rate = result["chunks"] / result["seconds"]
        table.add_row(name, str(result["chunks"]), f"{result['seconds']:.1f}", f"{rate:.1f}", f"{rate / base:.2f}×")
    Console().print(table)


if __name__ == "__main__":
    main()
