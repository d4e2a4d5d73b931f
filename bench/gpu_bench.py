"""End-to-end ingest against the model alone: how much of raw encode speed the pipeline keeps.

    .venv/bin/python bench/gpu_bench.py --device cuda --precision fp16 --batch 1024 --texts 200000 \
        --store milvus --milvus-uri http://127.0.0.1:19530            # on a GPU machine
    .venv/bin/python bench/gpu_bench.py --texts 4000                   # the same rows on this CPU

Three rows on the same ~256-token texts (SciFact abstracts, cut or joined to 256 word pieces): the model alone
(``embed_documents`` on the whole list), the pipeline with an instant model (load + split + write: the ceiling
of everything around the model), and the real ingest (``python -m ingest``'s code path) into the chosen store.
The issue's goal on a GPU is end to end ≥ 50% of raw encode. Not a test: numbers go to docs/scaling.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "datasets" / "scifact"
TOKENS = 256


class InstantEmbedder:
    """A model that costs nothing: unit vectors from the text's hash (the pipeline's ceiling)."""

    def __init__(self, like):
        self.name, self.dimension, self.max_tokens = "instant", like.dimension, like.max_tokens
        self.count_tokens = like.count_tokens
        self.token_starts = getattr(like, "token_starts", None)
        self.tokenizer = getattr(like, "tokenizer", None)
        rows = np.random.default_rng(0).standard_normal((4096, self.dimension))
        self._rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    def warm_up(self) -> None:
        pass

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        keys = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=4).digest(), "little") % 4096 for t in texts]
        return self._rows[keys]

    embed_query = None


def texts_of(count: int, model) -> list[str]:
    """SciFact abstracts cut (or joined) to TOKENS word pieces, each distinct."""
    words: list[str] = []
    with (SCIFACT / "corpus.jsonl").open() as source:
        for line in source:
            words.extend(json.loads(line)["text"].split())
            if len(words) > 400_000:
                break
    texts, start = [], 0
    while len(texts) < count:
        piece = words[start % len(words) : start % len(words) + 200]
        text = " ".join(piece)
        while model.count_tokens(text) > TOKENS - 16:
            text = text.rsplit(" ", 8)[0]
        texts.append(f"[{len(texts)}] {text}")
        start += 173
    return texts


def write_corpus(texts: list[str], folder: Path, per_file: int) -> None:
    folder.mkdir(parents=True)
    for number in range(0, len(texts), per_file):
        rows = [{"_id": str(i), "text": t} for i, t in enumerate(texts[number : number + per_file], number)]
        (folder / f"part-{number // per_file:05d}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def ingest_rate(corpus: Path, store_dir: Path, args, embedder) -> tuple[int, float]:
    from ingest.run import ingest
    from rag.config import Settings

    store = {"kind": args.store, "collection": f"gpu{time.monotonic_ns() % 10**9}"}
    if args.store == "chroma":
        store["path"] = str(store_dir)
    elif args.milvus_uri:
        store["uri"] = args.milvus_uri
    else:
        store["uri"] = str(store_dir / "milvus.db")
    settings = Settings(
        embedding={"provider": args.provider, "model": args.model, "device": args.device,
                   "precision": args.precision, "batch_size": args.batch},
        splitter={"chunk_size": TOKENS, "chunk_overlap": 0},
        store=store,
        ingest={"window": max(args.batch, 512), "engine": args.engine},
        loaders={"json": {"text_fields": ["text"], "metadata_fields": [], "id_field": "_id"}},
    )  # fmt: skip
    started = time.perf_counter()
    report = ingest([corpus], settings, embedder=embedder)
    return report.chunks_written, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--provider", default="sentence_transformers")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--store", default="chroma", choices=["chroma", "milvus"])
    parser.add_argument("--milvus-uri", help="a Milvus server; default Milvus Lite in a temporary folder")
    parser.add_argument("--engine", default="local", choices=["local", "ray"])
    parser.add_argument("--per-file", type=int, default=1000, help="texts per JSONL file")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rich.console import Console
    from rich.table import Table

    from rag.config import Settings
    from rag.embeddings import build_embedder

    model = build_embedder(
        Settings(
            embedding={"provider": args.provider, "model": args.model, "device": args.device,
                       "precision": args.precision, "batch_size": args.batch}
        ).embedding
    )  # fmt: skip
    model.warm_up()
    texts = texts_of(args.texts, model)
    model.embed_documents(texts[: args.batch])  # kernels compiled, memory allocated
    started = time.perf_counter()
    model.embed_documents(texts)
    raw = len(texts) / (time.perf_counter() - started)

    work = Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    write_corpus(texts, work / "corpus", args.per_file)
    rows = [("model alone (embed_documents)", len(texts), len(texts) / raw)]
    for name, embedder in (("pipeline, instant model", InstantEmbedder(model)), ("end to end", model)):
        store_dir = work / name.replace(" ", "-").replace(",", "")
        store_dir.mkdir()
        chunks, seconds = ingest_rate(work / "corpus", store_dir, args, embedder)
        rows.append((name, chunks, seconds))
    device = getattr(model, "device", "cpu")
    table = Table(
        title=f"{args.model} {args.precision} on {device}, batch {args.batch}, {len(texts)} texts of ≤{TOKENS} "
        f"tokens, into {args.store} ({args.engine} engine), {os.cpu_count()} CPUs"
    )
    for column in ("row", "chunks", "seconds", "chunks/s", "of raw encode"):
        table.add_column(column, justify="right")
    for name, chunks, seconds in rows:
        rate = chunks / seconds
        table.add_row(name, str(chunks), f"{seconds:.1f}", f"{rate:,.0f}", f"{rate / raw:.0%}")
    Console().print(table)


if __name__ == "__main__":
    main()
