"""Ingest engines side by side on one SciFact subset: the local engine (threads) vs Ray with 1 and 2 actors.

    .venv/bin/python bench/scale_bench.py [--limit 1000] [--model all-minilm-l6-v2-q]
    .venv/bin/python bench/scale_bench.py --simulate 1,8,16,32,64 [--limit 1000]

Each run ingests the same abstracts into a fresh Chroma store in its own subprocess (Ray's local cluster
start-up counted in the Ray rows: it is what a user waits for). ``--simulate`` stands in for a larger cluster:
each Ray worker parses and splits for real but, instead of running the model, sleeps the per-chunk time the
real model was measured to take on one core here, so the overheads around the model (Ray's round trips, the
driver's single writer, the store's insert rate, the manifest) show as the worker count grows; a local-engine
run with an instant model gives the driver's own ceiling. Not a test: numbers go to docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

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


class SleepingEmbedder:
    """The real model's tokenizer, but embedding costs a measured sleep per text (a simulated worker's model)."""

    def __init__(self, model: str, seconds_per_chunk: float):
        from tokenizers import Tokenizer

        from rag.embeddings.onnx import KNOWN
        from rag.packaged.encoders import pull_encoder

        self.name, self.dimension, self.max_tokens = model, 384, KNOWN[model].max_length - 2
        self.seconds = seconds_per_chunk
        self._tokenizer = Tokenizer.from_file(str(pull_encoder(model, download=False) / "tokenizer.json"))
        self._tokenizer.no_truncation()  # the file truncates at the model window: counts would stop there
        self._tokenizer.no_padding()
        rows = np.random.default_rng(0).standard_normal((4096, self.dimension))
        self._rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    def warm_up(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.seconds * len(texts))
        return self._rows[[zlib.crc32(text.encode()) % 4096 for text in texts]]


def seconds_per_chunk(model: str, corpus: Path) -> float:
    """The real model on one core: seconds per 128-token chunk (batches of 32, after a warm-up)."""
    from rag.embeddings.onnx import OnnxEmbedder

    embedder = OnnxEmbedder(model, threads=1)
    texts = []
    for path in sorted(corpus.iterdir())[:256]:
        words = json.loads(path.read_text())["text"].split()
        while embedder.count_tokens(" ".join(words)) > 128:
            words = words[:-8]
        texts.append(" ".join(words))
    embedder.embed_documents(texts[:32])
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return (time.perf_counter() - started) / len(texts)


def simulated(workers: int, corpus: str, store: str, model: str, seconds: float) -> dict:
    """One simulated-cluster run: ``workers`` Ray actors (0 = the local engine) with sleeping models."""
    from ingest import ray_engine
    from ingest.chunking import ChunkMaker
    from ingest.run import ingest
    from rag.config import Settings

    class SleepingWorker(ray_engine.IngestWorker):
        def __init__(self, settings_json: str, ingested_at: str):
            self.settings = ray_engine._Exact.model_validate_json(settings_json)
            self.embedder = SleepingEmbedder(model, seconds)
            self.maker = ChunkMaker(self.settings, self.embedder, ingested_at)

    seen: list[tuple[float, int]] = []

    class TimedPipeline(ray_engine.RayIngestPipeline):
        worker_class = SleepingWorker

        def _handle(self, job, result, writes):
            seen.append((time.perf_counter(), len(result.get("chunks") or [])))
            super()._handle(job, result, writes)

    ray_engine.RayIngestPipeline = TimedPipeline  # ingest.run imports it at run time
    cpus = os.cpu_count() or 1
    settings = Settings(
        embedding={"provider": "onnx", "model": model},
        splitter={"chunk_size": 128, "chunk_overlap": 16},
        store={"path": store, "collection": "scale"},
        ingest={
            "engine": "ray" if workers else "local",
            "ray": {"workers": max(workers, 1), "num_cpus": cpus, "cpus_per_worker": cpus / max(workers, 1)},
        },
        loaders={"json": {"text_fields": ["title", "text"], "metadata_fields": [], "id_field": "_id"}},
    )
    # The local engine's row gets an instant model: the ceiling of one process's loader, splitter and writer.
    driver_model = SleepingEmbedder(model, seconds if workers else 0.0)
    started = time.perf_counter()
    report = ingest([Path(corpus)], settings, embedder=driver_model)
    wall = time.perf_counter() - started
    steady = None
    if len(seen) > 1:  # from the first finished file to the last: the actors' start-up left out
        steady = sum(n for _, n in seen[1:]) / (seen[-1][0] - seen[0][0])
    return {"seconds": wall, "chunks": report.chunks_written, "steady": steady}


def simulate_table(args, corpus: Path, work: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    seconds = seconds_per_chunk(args.model, corpus)
    Console().print(f"{args.model} on one core: {seconds * 1000:.1f} ms per 128-token chunk")
    counts = [0] + [int(n) for n in args.simulate.split(",")]
    table = Table(
        title=f"Simulated cluster: {args.limit} abstracts (one file each), each worker's model sleeps "
        f"{seconds * 1000:.1f} ms/chunk ({args.model} measured on one core), {os.cpu_count()} CPUs, Chroma"
    )
    for column in ("engine", "chunks", "wall s", "steady chunks/s", "ideal (workers / model time)", "of ideal"):
        table.add_column(column, justify="right")
    for workers in counts:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
        payload = json.dumps([workers, str(corpus), str(work / f"sim-{workers}"), args.model, seconds])
        done = subprocess.run(
            [sys.executable, __file__, "--simulated", payload], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        result = json.loads(next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{")))
        rate = result["steady"] or result["chunks"] / result["seconds"]
        ideal = workers / seconds if workers else None
        table.add_row(
            f"Ray, {workers} simulated workers" if workers else "local engine, instant model (driver ceiling)",
            str(result["chunks"]),
            f"{result['seconds']:.1f}",
            f"{rate:,.0f}",
            f"{ideal:,.0f}" if ideal else "–",
            f"{rate / ideal:.0%}" if ideal else "–",
        )
        Console().print(f"done: {workers} workers, {rate:,.0f} chunks/s")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--model", default="all-minilm-l6-v2-q")
    parser.add_argument("--simulate", help="comma-separated worker counts for a simulated larger cluster")
    parser.add_argument("--worker")
    parser.add_argument("--simulated")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))))
        return
    if args.simulated:
        print(json.dumps(simulated(*json.loads(args.simulated))))
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
    if args.simulate:
        simulate_table(args, corpus, work)
        return
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
