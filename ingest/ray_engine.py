"""Ingest on Ray (``--engine ray``): files are parsed, split and embedded by a pool of Ray actors (one model per
actor, ``num_gpus`` when asked), while the driver keeps what makes an ingest safe — the plan, the manifest,
vector reuse from the store and the writes (begin → write → commit per file, the local engine's own writer).

So incremental runs, pruning and crash recovery behave exactly as with the local engine: a worker that dies is
restarted and its file retried by Ray; a driver that dies leaves pending sources that the next run redoes.
Without ``ingest.ray.address`` a local Ray cluster is started in this process (``ray.init``); with it, the same
code runs on an existing cluster (workers must have this package and the models installed).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import numpy as np

from ingest.chunking import ChunkMaker, Job
from ingest.discover import SourceFile
from ingest.pipeline import IngestPipeline, Loading
from rag.config import Settings
from rag.documents import Chunk, indexed_text
from rag.errors import LoaderError
from rag.stores.reuse import stored_or_embedded

log = logging.getLogger(__name__)


class _Exact(Settings):
    """The driver's settings as they were sent: the worker's environment does not override them."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **sources):  # type: ignore[override]
        return (init_settings,)


class IngestWorker:
    """A Ray actor: files → chunks → vectors for the chunks the store does not already have."""

    def __init__(self, settings_json: str, ingested_at: str):
        from rag.embeddings import build_embedder

        self.settings = _Exact.model_validate_json(settings_json)
        self.embedder = build_embedder(self.settings.embedding)
        self.maker = ChunkMaker(self.settings, self.embedder, ingested_at)

    def process(
        self, index: int, file: SourceFile, file_hash: str, old_ids: list[str], access: str = "*"
    ) -> dict[str, Any]:
        job = Job(file=file, file_hash=file_hash, status="changed", old_ids=set(old_ids), access=access)
        try:
            chunks = list(self.maker.chunks(job))
        except LoaderError as exc:
            return {"index": index, "failed": exc.reason, "warnings": job.warnings}
        except Exception as exc:  # one file's bug must not stop the others (as in the local engine)
            return {"index": index, "failed": f"{exc.__class__.__name__}: {exc}", "warnings": job.warnings}
        fresh = [position for position, chunk in enumerate(chunks) if chunk.id not in job.old_ids]
        texts = list(dict.fromkeys(indexed_text(chunks[p].text, chunks[p].metadata) for p in fresh))
        embedded = dict(zip(texts, self.embedder.embed_documents(texts), strict=True)) if texts else {}
        vectors = [
            embedded[indexed_text(chunk.text, chunk.metadata)] if position in fresh else None
            for position, chunk in enumerate(chunks)
        ]
        return {"index": index, "chunks": chunks, "vectors": vectors, "embedded": len(texts), "warnings": job.warnings}


def start_ray(settings: Settings) -> Any:
    """Connect to the configured cluster, or start a local one (once per process)."""
    import ray

    cfg = settings.ingest.ray
    if not ray.is_initialized():
        if cfg.address:
            ray.init(address=cfg.address, **RAY_OPTIONS)
        else:  # "local": our own instance, never another job's cluster that happens to run on this machine
            start_local_ray(cfg.num_cpus)
    return ray


RAY_OPTIONS: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}


def start_local_ray(num_cpus: int | None) -> None:
    """A local Ray instance; started once more when the first start times out (Ray waits 30 s, fixed, for its raylet
    to register: on a loaded two-core machine the first start in a fresh environment has missed it)."""
    import ray

    try:
        ray.init(address="local", num_cpus=num_cpus, **RAY_OPTIONS)
    except Exception as error:
        if "timed out during startup" not in str(error):
            raise
        log.warning("the local Ray instance did not start in time (%s); starting it once more", error)
        ray.shutdown()
        ray.init(address="local", num_cpus=num_cpus, **RAY_OPTIONS)


class RayIngestPipeline(IngestPipeline):
    """The local pipeline's writer and bookkeeping, with the per-file work on a Ray actor pool."""

    worker_class: type = IngestWorker  # bench/scale_bench.py swaps in workers that simulate a model

    def run(self, jobs: list[Job], loading: Loading | None = None) -> None:
        """Ingest `jobs` on the actors, which parse the files themselves (`loading`, the local engine's loader, is
        never started for this engine: None)."""
        ray = start_ray(self.settings)
        from ray.util import ActorPool

        cfg = self.settings.ingest.ray
        worker = ray.remote(
            num_cpus=cfg.cpus_per_worker, num_gpus=cfg.gpus_per_worker, max_restarts=2, max_task_retries=2
        )(self.worker_class)
        payload = self.settings.model_dump_json()
        actors = [worker.remote(payload, self.maker.ingested_at) for _ in range(cfg.workers)]
        pool = ActorPool(actors)
        writes: queue.Queue = queue.Queue(maxsize=4)
        writer = threading.Thread(target=self._write_all, args=(writes,), name="ingest-writer", daemon=True)
        writer.start()
        try:
            results = pool.map_unordered(
                lambda actor, item: actor.process.remote(
                    item[0], item[1].file, item[1].file_hash, sorted(item[1].old_ids), item[1].access
                ),
                list(enumerate(jobs)),
            )
            for result in results:
                self._handle(jobs[result["index"]], result, writes)
        finally:
            self._stop.set()
            writes.put(None)
            writer.join()
            for actor in actors:
                ray.kill(actor)
        if self._writer_error is not None:
            raise self._writer_error

    def _handle(self, job: Job, result: dict[str, Any], writes: queue.Queue) -> None:
        job.warnings.extend(result.get("warnings") or [])
        self._put(writes, ("begin", job))
        if "failed" in result:
            self._put(writes, ("fail", job, result["failed"]))
            return
        chunks: list[Chunk] = result["chunks"]
        job.new_ids = [chunk.id for chunk in chunks]
        vectors = self._reuse(chunks, result["vectors"])
        self.report.chunks_embedded += result["embedded"]
        size = self.settings.ingest.window
        for start in range(0, len(chunks), size):
            self._stage_write(writes, chunks[start : start + size], vectors[start : start + size])
        self._put(writes, ("commit", job))

    def _reuse(self, chunks: list[Chunk], vectors: list[Any]) -> np.ndarray:
        """Vectors the worker did not compute: unchanged chunks, read back from the store (embedded here when an
        earlier crash left them out of it)."""
        if not chunks:
            return np.zeros((0, self.embedder.dimension), np.float32)
        missing = [position for position, vector in enumerate(vectors) if vector is None]
        if missing:
            filled, embedded = stored_or_embedded(
                [chunks[p].id for p in missing],
                [indexed_text(chunks[p].text, chunks[p].metadata) for p in missing],
                self.embedder.embed_documents,
                self._fetch,
            )
            self.report.chunks_reused += len(missing) - embedded
            self.report.chunks_embedded += embedded
            vectors = list(vectors)
            for position, vector in zip(missing, filled, strict=True):
                vectors[position] = vector
        return np.vstack(vectors).astype(np.float32)
