"""Ingest at the store's speed: the store's raw write, stock LangChain and ours, side by side in one run (issue 31).

    .venv/bin/python bench/pipeline_bench.py                      # Chroma and the Milvus server, instant model
    .venv/bin/python bench/pipeline_bench.py --real 1000          # + the default embedder on the first 1,000 docs
    .venv/bin/python bench/pipeline_bench.py --rows ours-chroma   # one row (for a profiler)
    .venv/bin/python bench/pipeline_bench.py --repeat 3           # medians of 3 interleaved runs (a noisy machine)

The corpus is SciFact (5,183 abstracts in one JSONL file, ../shared/datasets/scifact). The instant embedder
(bench/gpu_bench.py) turns a text into a vector from its hash, so every row measures what is around the model:
  raw-chroma     chromadb `add` of our chunks with ready vectors, in the store's largest batches
  lc-chroma      stock LangChain: Documents -> RecursiveCharacterTextSplitter(1000, 0) -> Chroma.from_documents
  ours-chroma    `ingest()` (python -m ingest's code path) with chunks of 256 model tokens into Chroma
  ours-chroma-small  the same with chunks of --small model tokens (160: about as many chunks as LangChain's 1,000
                 characters make, so chunks/s compares the same number of store rows)
  raw-milvus     pymilvus `insert` of the same chunks into the Milvus server (PyPI `milvus` 2.3.5, started here),
                 its collection created before the clock starts; raw-milvus+create: with the creation (~3 s), as
                 ours-milvus creates its collection inside its clock
  raw-neo4j      the Neo4j 5 server (Maven Central, scripts/neo4j/): `UNWIND $rows AS row CREATE (c:Chunk …)` with
                 each vector set by `db.create.setNodeVectorProperty`, 1,000 rows a transaction, into the same
                 constraint, vector and full-text indexes ours makes (created before the clock)
  ours-neo4j     `ingest()` into the same server (its own collection: labels and indexes made inside the clock)
  ours-milvus    `ingest()` into the same server
With --real N, two more rows on the first N abstracts with the configured embedder: the model alone
(`embed_documents` on our chunks) and `ingest()` end to end. Each ratio is against its anchor in the same run.
Stock LangChain comes from the `bench` extra (langchain-chroma), never a runtime dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from gpu_bench import InstantEmbedder  # noqa: E402

SCIFACT = REPO.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
ROWS = ("raw-chroma", "lc-chroma", "ours-chroma", "ours-chroma-small", "raw-milvus", "ours-milvus", "raw-neo4j",
        "ours-neo4j")  # fmt: skip


def settings_for(store: dict, window: int = 2048, chunk_size: int = 256):
    from rag.config import Settings

    return Settings(
        splitter={"chunk_size": chunk_size, "chunk_overlap": 0},
        store=store,
        ingest={"window": window},
        loaders={"json": {"text_fields": ["title", "text"], "metadata_fields": [], "id_field": "_id"}},
    )


def our_chunks(corpus: Path, embedder) -> list:
    """The chunks ingest() makes of the corpus (the raw rows write exactly these)."""
    from ingest.chunking import ChunkMaker, Job
    from ingest.discover import discover

    settings = settings_for({"kind": "chroma"})
    maker = ChunkMaker(settings, embedder)
    files = discover([corpus], settings.loaders).files
    return [chunk for file in files for chunk in maker.chunks(Job(file, "hash", "new"))]


def raw_chroma(work: Path, chunks: list, vectors: np.ndarray) -> float:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(work / "raw-chroma"), settings=Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("raw-add", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    size = client.get_max_batch_size()
    started = time.perf_counter()
    for start in range(0, len(chunks), size):
        part = chunks[start : start + size]
        collection.add(
            ids=[c.id for c in part],
            embeddings=vectors[start : start + size],
            documents=[c.text for c in part],
            metadatas=[c.metadata for c in part],
        )
    return time.perf_counter() - started


def langchain_chroma(work: Path, corpus: Path, like) -> tuple[int, float]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    instant = InstantEmbedder(like)

    class Instant(Embeddings):
        def embed_documents(self, texts):
            return instant.embed_documents(texts).tolist()

        def embed_query(self, text):
            return instant.embed_documents([text])[0].tolist()

    started = time.perf_counter()
    documents = []
    with corpus.open(encoding="utf-8") as source:
        for line in source:
            row = json.loads(line)
            text = f"{row['title']}\n\n{row['text']}"
            documents.append(Document(page_content=text, metadata={"id": row["_id"]}))
    pieces = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=0).split_documents(documents)
    Chroma.from_documents(
        pieces, Instant(), persist_directory=str(work / "lc-chroma"), collection_name="stock-langchain"
    )
    return len(pieces), time.perf_counter() - started


def ours(work: Path, corpus: Path, store: dict, embedder, chunk_size: int = 256) -> tuple[int, float]:
    from ingest.run import ingest

    settings = settings_for(store, chunk_size=chunk_size)
    started = time.perf_counter()
    report = ingest([corpus], settings, embedder=embedder)
    return report.chunks_written, time.perf_counter() - started


def raw_milvus(
    uri: str, chunks: list, vectors: np.ndarray, dimension: int, collection: str = "raw"
) -> tuple[float, float]:
    """Seconds to create the collection (schema, index, load), and to insert and flush the chunks."""
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri)
    created = time.perf_counter()
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("source", DataType.VARCHAR, max_length=4096)
    schema.add_field("metadata", DataType.JSON)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_collection(collection, schema=schema, index_params=params)
    started = time.perf_counter()
    creating = started - created
    rows = [
        {"id": c.id, "vector": v.tolist(), "text": c.text, "source": c.metadata["source"], "metadata": c.metadata}
        for c, v in zip(chunks, vectors, strict=True)
    ]
    for start in range(0, len(rows), 1000):
        client.insert(collection, rows[start : start + 1000])
    client.flush(collection)
    return creating, time.perf_counter() - started


def raw_neo4j(uri: str, password: str, chunks: list, vectors: np.ndarray, dimension: int, label: str) -> float:
    from neo4j import GraphDatabase

    driver = GraphDatabase.driver(uri, auth=("neo4j", password), notifications_min_severity="OFF")
    for statement in (
        f"CREATE CONSTRAINT {label}_id IF NOT EXISTS FOR (c:{label}) REQUIRE c.id IS UNIQUE",
        f"CREATE INDEX {label}_source IF NOT EXISTS FOR (c:{label}) ON (c.source)",
        f"CREATE FULLTEXT INDEX {label}_text IF NOT EXISTS FOR (c:{label}) ON EACH [c.text]",
        f"CREATE VECTOR INDEX {label}_vector IF NOT EXISTS FOR (c:{label}) ON (c.embedding) OPTIONS {{indexConfig: "
        f"{{`vector.dimensions`: {dimension}, `vector.similarity_function`: 'cosine'}}}}",
        "CALL db.awaitIndexes(300)",
    ):
        driver.execute_query(statement)
    started = time.perf_counter()
    rows = [
        {"id": c.id, "text": c.text, "source": c.metadata["source"], "metadata": json.dumps(c.metadata),
         "vector": v.tolist()}
        for c, v in zip(chunks, vectors, strict=True)
    ]  # fmt: skip
    with driver.session() as session:
        for start in range(0, len(rows), 1000):
            session.execute_write(
                lambda tx, part: tx.run(
                    f"UNWIND $rows AS row CREATE (c:Chunk:{label} {{id: row.id, text: row.text, source: row.source, "
                    "metadata_json: row.metadata}) WITH c, row "
                    "CALL db.create.setNodeVectorProperty(c, 'embedding', row.vector)",
                    rows=part,
                ).consume(),
                rows[start : start + 1000],
            )
    seconds = time.perf_counter() - started
    driver.close()
    return seconds


def start_neo4j(work: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("neo4j_local", REPO / "scripts" / "neo4j" / "neo4j_local.py")
    neo4j_local = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(neo4j_local)
    server = neo4j_local.start(work / "neo4j-server", password="bench-password")
    os.environ["NEO4J_PASSWORD"] = server.password
    return server


def start_milvus(work: Path):
    from milvus import MilvusServer

    server = MilvusServer()
    server.set_base_dir(str(work / "milvus-server"))
    server.config.set("listen_host", "127.0.0.1") if "listen_host" in server.config_keys else None
    server.start()
    return server, f"http://127.0.0.1:{server.listen_port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help="which instant-model rows: " + ", ".join(ROWS))
    parser.add_argument("--real", type=int, default=0, help="also the configured embedder on the first N abstracts")
    parser.add_argument("--small", type=int, default=160, help="ours-chroma-small's chunk size (model tokens)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the instant-model rows N times, interleaved; report medians"
    )
    options = parser.parse_args()
    rows_wanted = {r.strip() for r in options.rows.split(",") if r.strip()}

    from rich.console import Console
    from rich.table import Table

    from rag.config import load_config
    from rag.console import setup_environment
    from rag.embeddings import build_embedder

    setup_environment()
    console = Console(width=150)
    model = build_embedder(load_config().embedding)
    instant = InstantEmbedder(model)
    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    corpus = work / "corpus" / "scifact.jsonl"
    corpus.parent.mkdir()
    corpus.write_bytes(SCIFACT.read_bytes())

    runs: dict[str, list[tuple[int, float]]] = {}
    chunks = our_chunks(corpus, instant) if rows_wanted & {"raw-chroma", "raw-milvus", "raw-neo4j"} else []
    vectors = instant.embed_documents([c.text for c in chunks]) if chunks else None
    server, uri = start_milvus(work) if rows_wanted & {"raw-milvus", "ours-milvus"} else (None, "")
    graph = start_neo4j(work) if rows_wanted & {"raw-neo4j", "ours-neo4j"} else None
    try:
        for turn in range(options.repeat):  # interleaved: a busy spell of a shared machine hits every row alike
            here = work / f"run-{turn}"
            if "raw-chroma" in rows_wanted:
                runs.setdefault("raw-chroma", []).append((len(chunks), raw_chroma(here, chunks, vectors)))
            if "lc-chroma" in rows_wanted:
                runs.setdefault("lc-chroma", []).append(langchain_chroma(here, corpus, model))
            if "ours-chroma" in rows_wanted:
                store = {"kind": "chroma", "path": str(here / "ours-chroma")}
                runs.setdefault("ours-chroma", []).append(ours(here, corpus, store, instant))
            if "ours-chroma-small" in rows_wanted:
                store = {"kind": "chroma", "path": str(here / "ours-chroma-small")}
                runs.setdefault("ours-chroma-small", []).append(ours(here, corpus, store, instant, options.small))
            if "raw-milvus" in rows_wanted:
                creating, seconds = raw_milvus(uri, chunks, vectors, instant.dimension, f"raw{turn}")
                runs.setdefault("raw-milvus", []).append((len(chunks), seconds))
                runs.setdefault("raw-milvus+create", []).append((len(chunks), creating + seconds))
            if "ours-milvus" in rows_wanted:
                milvus = {"kind": "milvus", "uri": uri, "collection": f"ours{turn}"}
                runs.setdefault("ours-milvus", []).append(ours(here, corpus, milvus, instant))
            if "raw-neo4j" in rows_wanted:
                seconds = raw_neo4j(graph.uri, graph.password, chunks, vectors, instant.dimension, f"Raw{turn}")
                runs.setdefault("raw-neo4j", []).append((len(chunks), seconds))
            if "ours-neo4j" in rows_wanted:
                store = {"kind": "neo4j", "uri": graph.uri, "collection": f"ours{turn}", "state": str(here / "neo4j")}
                runs.setdefault("ours-neo4j", []).append(ours(here, corpus, store, instant))
    finally:
        if server is not None:
            server.stop()
        if graph is not None:
            graph.stop()
    results = {name: (done[0][0], statistics.median(s for _, s in done)) for name, done in runs.items()}
    if options.real:
        part = work / "real" / "scifact-part.jsonl"
        part.parent.mkdir()
        with SCIFACT.open(encoding="utf-8") as source:
            part.write_text("".join(line for _, line in zip(range(options.real), source, strict=False)))
        texts = [c.text for c in our_chunks(part, model)]
        model.embed_documents(texts[:64])  # warm
        started = time.perf_counter()
        model.embed_documents(texts)
        results["real-encode"] = (len(texts), time.perf_counter() - started)
        results["real-ours"] = ours(work, part, {"kind": "chroma", "path": str(work / "real-chroma")}, model)

    anchors = {"lc-chroma": "raw-chroma", "ours-chroma": "raw-chroma", "ours-milvus": "raw-milvus",
               "ours-chroma-small": "raw-chroma",
               "ours-neo4j": "raw-neo4j", "real-ours": "real-encode"}  # fmt: skip
    also = {"ours-milvus": "raw-milvus+create"}  # ours creates its collection inside the clock, as this row does
    repeat = f", median of {options.repeat} interleaved runs" if options.repeat > 1 else ""
    title = f"SciFact ({SCIFACT.stat().st_size // 1024} KiB, one JSONL file), {os.cpu_count()} CPUs{repeat}"
    table = Table(title=title)
    for column in ("row", "chunks", "seconds", "chunks/s", "of anchor", "of stock LangChain", "docs/s"):
        table.add_column(column, justify="right")
    rate = {name: count / seconds for name, (count, seconds) in results.items()}
    documents = {name: options.real if name.startswith("real") else 5_183 for name in results}  # SciFact's abstracts
    for name, (count, seconds) in results.items():
        anchor = anchors.get(name)
        of_anchor = f"{rate[name] / rate[anchor]:.2f}× {anchor}" if anchor in rate else ""
        if also.get(name) in rate:
            of_anchor += f", {rate[name] / rate[also[name]]:.2f}× {also[name]}"
        of_lc = ""
        if "lc-chroma" in rate and "chroma" in name and name != "lc-chroma":  # chunks/s, and docs/s (the same work)
            of_lc = f"{rate[name] / rate['lc-chroma']:.2f}× ({results['lc-chroma'][1] / seconds:.2f}× docs/s)"
        per_document = f"{documents[name] / seconds:,.0f}"
        table.add_row(name, f"{count:,}", f"{seconds:.1f}", f"{rate[name]:,.0f}", of_anchor, of_lc, per_document)
    console.print(table)
    for name, anchor in [*anchors.items(), *also.items()]:
        if options.repeat > 1 and name in runs and anchor in runs:
            ratios = [(r[0] / r[1]) / (a[0] / a[1]) for r, a in zip(runs[name], runs[anchor], strict=True)]
            console.print(f"{name} / {anchor} per turn: " + ", ".join(f"{x:.2f}×" for x in ratios))


if __name__ == "__main__":
    main()
