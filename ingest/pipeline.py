"""The streaming part of an ingest: load+split → embed → write, overlapped in three threads.

A loader thread parses files into chunks, the calling thread embeds them in length-bucketed
windows (sentence-transformers sorts each window by length), and a writer thread upserts and
updates the manifest. Queues are bounded, so memory stays flat however large the corpus.
Per source, the writer applies: begin (pending mark) → stage ids, write (per window) → delete stale
ids → commit. A window is as many chunks as the embedder handles in ``ingest.window_s`` (measured as it
goes, at most ``ingest.window``), so files commit every few seconds however slow the model: a run killed
every 30 s still commits more each time.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunking import ChunkMaker, Job
from ingest.manifest import Manifest
from ingest.report import FileOutcome, IngestReport
from rag.config import Settings
from rag.documents import Chunk, indexed_text
from rag.embeddings import Embedder
from rag.errors import LoaderError
from rag.faults import crash_point
from rag.stores import VectorStore
from rag.stores.base import AddsNew, GraphStore, PreparesChunks
from rag.stores.reuse import fetch_from, stored_or_embedded
from rag.tracing import Trace

_EMIT_EVERY = 64  # chunks per message from the loader thread
_EVENTS = 128  # messages the loader may be ahead (8,192 chunks at most)
_MIN_WINDOW = 64  # the smallest window worth a model call when the loader has nothing more yet
_VECTOR_CACHE = 50_000  # vectors of repeated text kept for reuse within a run


class Progress:
    """Callbacks for a progress display; the default does nothing."""

    def file_done(self, source: str) -> None: ...

    def chunks_done(self, count: int) -> None: ...

    def entities_done(self, count: int) -> None: ...

    def pages_done(self, source: str, done: int, total: int) -> None:
        """Pages of one long file read so far (OCR)."""


def entity_stage(settings: Settings, store: VectorStore, on_extracted) -> Any:
    """The extraction stage the settings ask for (None when off); only a graph store can keep entities."""
    cfg = settings.ingest.entities
    if cfg.extractor == "none":
        return None
    from rag.errors import ConfigError
    from rag.graph.entities import EXTRACTORS, EntityStage, ExtractionCache
    from rag.stores import base_store

    if not isinstance(base_store(store), GraphStore):
        raise ConfigError(
            f"ingest.entities.extractor is {cfg.extractor!r}, but store.kind {settings.store.kind!r} cannot keep "
            "entities: use store.kind neo4j (configs/neo4j.yaml), or set ingest.entities.extractor: none"
        )
    llm = None
    if cfg.extractor == "llm":
        from rag.llms import build_llm

        llm = build_llm(settings.llm)
    cache = None
    if cfg.cache and cfg.extractor == "llm":
        cache = ExtractionCache(Path(cfg.cache), f"{cfg.extractor}|{settings.llm.backend}|{settings.llm.model}")
    return EntityStage(EXTRACTORS[cfg.extractor](llm), cache, on_extracted)


# Seconds per chunk of LLM extraction on 2 cores (AMD EPYC, avx2): the mean over three ~1,600-character chunks of
# examples/docs (docs/benchmarks.md#graph). A guide for the estimate printed before extraction starts.
EXTRACTION_SECONDS = {"qwen2.5-coder-0.5b-instruct-q4_k_m": 8.5, "qwen2.5-coder-1.5b-instruct-q4_k_m": 17.5}
_COMPRESSED = {".pdf": 0.15, ".docx": 0.5}  # text characters per file byte, roughly


def extraction_estimate(jobs: list[Job], settings: Settings) -> str | None:
    """A line saying what LLM extraction will cost before it starts (None when no LLM extracts)."""
    if settings.ingest.entities.extractor != "llm" or not jobs:
        return None
    chars = sum(job.file.path.stat().st_size * _COMPRESSED.get(job.file.path.suffix.lower(), 1.0) for job in jobs)
    chunks = max(1, round(chars / (4 * (settings.splitter.chunk_size or 400))))
    llm = settings.llm
    seconds = EXTRACTION_SECONDS.get(llm.model) if llm.backend == "local" else None
    cost = f" × ~{seconds:.0f} s ≈ {chunks * seconds / 60:.0f} min on a 2-core CPU" if seconds else ""
    return (
        f"entity extraction with {llm.model}: about {chunks} chunks{cost}, one LLM call each; chunks extracted "
        "before come from the cache, Ctrl-C stops safely (finished files are kept). "
        "ingest.entities.extractor: fast needs no model."
    )


class Loading:
    """The loader thread: parses and splits the jobs' files (in the parse child) into a bounded queue of events —
    begin, chunks, end, fail — ahead of the embedder. ingest() starts it before the store opens, so a store that
    takes seconds to open (a Milvus server creating and loading a collection: ~4 s) does so while files are parsed;
    up to ``_EVENTS`` × ``_EMIT_EVERY`` chunks wait for it."""

    def __init__(self, maker: ChunkMaker, jobs: list[Job]):
        self.maker = maker
        self.events: queue.Queue = queue.Queue(maxsize=_EVENTS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._load_all, args=(jobs,), name="ingest-loader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop, mid-file too (the parse child of a file given up is stopped); returns at once when the loader is
        waiting on the parser (a long OCR page), which it then leaves at the parser's next message."""
        self._stop.set()
        self._thread.join(timeout=2)

    def _put(self, event: tuple | None) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self.events.put(event, timeout=0.1)
                return
        raise _Stopped

    def _load_all(self, jobs: list[Job]) -> None:
        try:
            for job in jobs:
                self._put(("begin", job))
                try:
                    buffer: list[Chunk] = []
                    for chunk in self.maker.chunks(job):
                        buffer.append(chunk)
                        if len(buffer) >= _EMIT_EVERY:
                            self._put(("chunks", job, buffer))
                            buffer = []
                    self._put(("chunks", job, buffer))
                    self._put(("end", job))
                    crash_point("loaded")
                except LoaderError as exc:
                    self._put(("fail", job, exc.reason))
                except _Stopped:
                    raise
                except Exception as exc:  # a bug in one file's handling must not stop the others
                    self._put(("fail", job, f"{exc.__class__.__name__}: {exc}"))
            self._put(None)
        except _Stopped:
            return


class _Stopped(Exception):
    """The loader was told to stop."""


class IngestPipeline:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: VectorStore,
        manifest: Manifest,
        report: IngestReport,
        progress: Progress,
    ):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.manifest = manifest
        self.report = report
        self.progress = progress
        self.maker = ChunkMaker(settings, embedder, on_pages=progress.pages_done)
        self._store_lock = threading.Lock()
        self._vector_cache: dict[str, np.ndarray] = {}
        self._window_limit = min(settings.ingest.window, settings.embedding.batch_size)  # grows once measured
        self._stop = threading.Event()
        self._writer_error: BaseException | None = None
        self.entities = entity_stage(settings, store, getattr(progress, "entities_done", None))
        self.spans = Trace.off()  # ingest() hands in its trace: a span per file and per model call
        # ingest() sets it when the manifest is in step with the store: a new file's chunks are then not stored
        # yet, and go in with the store's plain insert (AddsNew) instead of its upsert
        self.adds_new = False

    def seed_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        """Vectors by chunk hash this run may reuse (a moved file's chunks)."""
        self._vector_cache.update(vectors)

    def run(self, jobs: list[Job], loading: Loading | None = None) -> None:
        """Ingest `jobs`; `loading` is their loader when ingest() started it before the store opened."""
        loading = loading or Loading(self.maker, jobs)
        writes: queue.Queue = queue.Queue(maxsize=4)
        writer = threading.Thread(target=self._write_all, args=(writes,), name="ingest-writer", daemon=True)
        writer.start()
        try:
            self._embed_all(loading.events, writes)
        finally:
            self._stop.set()
            writes.put(None)
            writer.join()
            loading.close()
        if self._writer_error is not None:
            raise self._writer_error

    # -- calling thread: embedding ----------------------------------------------------------------
    def _embed_all(self, events: queue.Queue, writes: queue.Queue) -> None:
        window: list[tuple[Job, Chunk]] = []
        finished: list[Job] = []  # files whose last chunks may still sit in the window

        def flush() -> None:
            nonlocal window, finished
            if window:
                chunks = [chunk for _, chunk in window]
                started = time.perf_counter()
                vectors = self._vectors(window)
                self._measured(len(window), time.perf_counter() - started)
                new = [self.adds_new and not job.old_ids and not job.resumed for job, _ in window]
                self._stage_write(writes, chunks, vectors, new)
            for job in finished:
                self._put(writes, ("commit", job))
            window, finished = [], []

        for event in iter(events.get, None):
            kind, job = event[0], event[1]
            if kind == "begin":
                self._put(writes, ("begin", job))
            elif kind == "chunks":
                job.new_ids.extend(chunk.id for chunk in event[2])
                window.extend((job, chunk) for chunk in event[2])
                # A full window, or the loader is behind: keep the model busy rather than wait.
                if len(window) >= self._window_limit or (events.empty() and len(window) >= _MIN_WINDOW):
                    flush()
            elif kind == "end":
                finished.append(job)
            elif kind == "fail":
                window = [(owner, chunk) for owner, chunk in window if owner is not job]
                self._put(writes, ("fail", job, event[2]))
        flush()

    def _measured(self, chunks: int, seconds: float) -> None:
        """Size the next windows to what the embedder does in ``ingest.window_s``, within ``ingest.window``."""
        cfg = self.settings.ingest
        rate = chunks / max(seconds, 1e-6)
        self._window_limit = max(1, min(cfg.window, int(rate * cfg.window_s)))

    def _vectors(self, window: list[tuple[Job, Chunk]]) -> np.ndarray:
        """Vectors for a window: reuse what the store (a file's unchanged or already written chunks) or this run
        (repeated text) already has, embed the rest."""
        reusable = {chunk.id for job, chunk in window if chunk.id in job.old_ids}
        chunks = [chunk for _, chunk in window]
        vectors, embedded = stored_or_embedded(
            [chunk.id for chunk in chunks],
            [indexed_text(chunk.text, chunk.metadata) for chunk in chunks],
            self._embed,
            self._fetch,
            stored=reusable.__contains__,
            cache=self._vector_cache,
            keys=[str(chunk.metadata["chunk_hash"]) for chunk in chunks],
            cache_limit=_VECTOR_CACHE,
        )
        self.report.chunks_embedded += embedded
        self.report.chunks_reused += len(chunks) - embedded
        return vectors

    def _stage_write(
        self, writes: queue.Queue, chunks: list[Chunk], vectors: np.ndarray, new: list[bool] | None = None
    ) -> None:
        """Hand a batch to the writer, after what runs on this thread before a write: entity extraction for a graph
        store (chunk metadata the store turns into nodes) and a side index's model (SPLADE: after the embedder,
        not beside it)."""
        if self.entities is not None:
            self.entities.annotate(chunks)
        if isinstance(self.store, PreparesChunks):
            self.store.prepare(chunks)
        self._put(writes, ("write", chunks, vectors, new))

    def _put(self, writes: queue.Queue, item: tuple[Any, ...]) -> None:
        while True:
            if self._writer_error is not None:
                raise self._writer_error
            try:
                writes.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    # -- writer thread ---------------------------------------------------------------------------
    def _write_all(self, writes: queue.Queue) -> None:
        handlers: dict[str, Callable[..., None]] = {
            "begin": self._begin,
            "write": self._write,
            "commit": self._commit,
            "fail": self._fail,
        }
        for item in iter(writes.get, None):
            if self._writer_error is not None:
                continue  # drain: nothing more is written after a store failure
            try:
                handlers[item[0]](*item[1:])
            except BaseException as exc:
                self._writer_error = exc

    def _begin(self, job: Job) -> None:
        self.spans.open(job.file.source, "ingest.file", "CHAIN", **{"rag.source": job.file.source})
        self.manifest.begin(job.file.source)
        crash_point("begin")

    def _write(self, chunks: list[Chunk], vectors: np.ndarray, new: list[bool] | None = None) -> None:
        by_source: dict[str, list[str]] = {}
        for chunk in chunks:
            by_source.setdefault(str(chunk.metadata["source"]), []).append(chunk.id)
        for source, ids in by_source.items():  # write-ahead: a killed run's chunks are known and reused
            self.manifest.stage(source, ids)
        known_new = new if new and isinstance(self.store, AddsNew) else [False] * len(chunks)
        added = [i for i, flag in enumerate(known_new) if flag]
        rest = [i for i, flag in enumerate(known_new) if not flag]
        with self._store_lock:
            if added:
                self.store.add([chunks[i] for i in added], vectors[added])
            if rest:
                self.store.upsert([chunks[i] for i in rest], vectors[rest])
        self.report.chunks_written += len(chunks)
        self.progress.chunks_done(len(chunks))
        crash_point("write")

    def _commit(self, job: Job) -> None:
        stale = job.old_ids - set(job.new_ids)
        if stale:
            with self._store_lock:
                self.store.delete(ids=sorted(stale))
        crash_point("stale")
        self.manifest.commit(job.file.source, str(job.file.path), job.file_hash, job.new_ids)
        crash_point("commit")
        self.report.files.append(
            FileOutcome(
                job.file.source,
                job.status,
                len(job.new_ids),  # type: ignore[arg-type]
                warnings=job.warnings,
            )
        )
        self.progress.file_done(job.file.source)
        self.spans.close(job.file.source, **{"rag.status": job.status, "rag.chunks": len(job.new_ids or [])})

    def _fetch(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (the writer thread shares the store)."""
        with self._store_lock:
            return fetch_from(self.store)(ids)

    def _embed(self, texts: list[str]) -> np.ndarray:
        with self.spans.stage("embed", "EMBEDDING", **{"embedding.model_name": self.embedder.name}) as span:
            span.set_attribute("rag.texts", len(texts))
            return self.embedder.embed_documents(texts)

    def _fail(self, job: Job, reason: str) -> None:
        # Nothing of a file that failed stays: not its partial writes, not an older version.
        with self._store_lock:
            self.store.delete(source=job.file.source)
        self.manifest.forget(job.file.source)
        self.report.files.append(FileOutcome(job.file.source, "failed", reason=reason, warnings=job.warnings))
        self.progress.file_done(job.file.source)
        self.spans.close(job.file.source, reason, **{"rag.status": "failed"})
