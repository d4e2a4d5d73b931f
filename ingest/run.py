"""One ingest run: discover files, compare with the manifest, recover, prune, then stream the rest.

Use from Python::

    from ingest.run import ingest
    report = ingest(["docs/"], load_config())
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from ingest.chunking import ChunkMaker
from ingest.discover import Discovery, SourceFile, discover
from ingest.manifest import Manifest, SourceEntry, manifest_file, recorded_hash
from ingest.pipeline import IngestPipeline, Job, Loading, Progress
from ingest.report import FileOutcome, IngestReport
from ingest.sandbox import sandbox_for
from rag.config import Settings
from rag.embeddings import Embedder, build_embedder
from rag.errors import RagError, StoreError, disk_error
from rag.faults import crash_point
from rag.stores import VectorStore, base_store, build_store
from rag.stores.base import AddsNew
from rag.stores.restricted import PUBLIC, access_key
from rag.tracing import Trace, tracer_for

log = logging.getLogger(__name__)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest(
    paths: list[str | Path],
    settings: Settings,
    *,
    dry_run: bool = False,
    prune: bool | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    on_plan=None,
    access: Callable[[SourceFile], list[str] | None] | None = None,
) -> IngestReport:
    """Bring the store in line with the files under `paths`; only what changed is touched. `access(file)` names
    the groups that may read a file (``["*"]``: everyone), or None to leave it to :func:`access_of`."""
    spans = Trace(tracer_for(settings.tracing), "rag.ingest", "CHAIN", **{"rag.paths": [str(p) for p in paths]})
    try:
        report = _ingest(paths, settings, dry_run, prune, progress, embedder, on_plan, spans, access)
    except BaseException as exc:
        spans.end(exc)
        where = getattr(settings.store, "path", None) or getattr(settings.store, "uri", "the store")
        readable = (
            disk_error(exc, f"the store at {where}")
            if not isinstance(exc, RagError) or isinstance(exc, StoreError)
            else None
        )
        if readable is not None:
            raise readable from exc
        raise
    totals = {
        **report.counts,
        "chunks_written": report.chunks_written,
        "chunks_embedded": report.chunks_embedded,
        "chunks_reused": report.chunks_reused,
    }
    spans.root.set_attributes({f"rag.{key}": value for key, value in totals.items()})
    spans.end()
    return report


def _ingest(paths, settings, dry_run, prune, progress, embedder, on_plan, spans, access=None) -> IngestReport:
    started = time.perf_counter()
    prune = settings.ingest.prune if prune is None else prune
    loading: Loading | None = None
    manifest = Manifest(manifest_file(settings))
    report = IngestReport(dry_run=dry_run, manifest=str(manifest.path))
    try:
        found = discover(paths, settings.loaders, label=lambda root: manifest.root_label(root, record=not dry_run))
        report.unsupported, report.missing, report.skipped = found.unsupported, found.missing, found.skipped
        entries = manifest.entries()
        pending = manifest.pending()
        fingerprint = settings_fingerprint(settings)
        recorded = manifest.settings_fingerprint()
        # Other loader/splitter/model settings make other chunks: every indexed file is redone
        # (chunks whose text did not change keep their vectors).
        stale_settings = bool(entries) and recorded is not None and recorded != fingerprint
        chosen = access or (lambda file: None)
        decide = lambda file, entry: access_of(file, settings, chosen(file), entry)  # noqa: E731
        jobs, removed = _plan(found, entries, manifest, report, prune, stale_settings, decide)
        if on_plan is not None:
            on_plan(jobs)
        if dry_run:
            report.recovered = pending
            report.files.extend(FileOutcome(job.file.source, job.status) for job in jobs)  # type: ignore[arg-type]
            report.files.extend(FileOutcome(source, "removed") for source in removed)
            return report
        if not (jobs or removed or pending):
            if recorded is None:
                manifest.record_settings_fingerprint(fingerprint)
            return report
        if jobs and settings.ingest.engine != "ray" and (sandbox := sandbox_for(settings.loaders)) is not None:
            sandbox.warm()  # the parser child imports while the model and the store open
        embedder = embedder or build_embedder(settings.embedding)
        dimension = manifest.model_dimension(embedder.name) or embedder.dimension
        progress = progress or Progress()
        if jobs and settings.ingest.engine != "ray":  # files are parsed while the store opens
            loading = Loading(ChunkMaker(settings, embedder, on_pages=progress.pages_done), jobs)
        try:
            store = build_store(settings.store, embedder.name, dimension)
        except BaseException:
            if loading is not None:
                loading.close()
            raise
        manifest.record_model(embedder.name, dimension)
        manifest.record_access_keys({job.access for job in jobs})  # known before any chunk carries them
        report.store = store.location
        try:
            resumed = {job.file.source for job in jobs if job.resumed}
            _recover(pending, resumed, store, manifest, report)
            moved = _moved_vectors(jobs, entries, store)  # read before the old ids go
            for source in removed:
                _remove(source, store, manifest, report)
            if jobs:
                engine = IngestPipeline
                if settings.ingest.engine == "ray":
                    from ingest.ray_engine import RayIngestPipeline as engine
                pipeline = engine(settings, embedder, store, manifest, report, progress)
                pipeline.spans = spans
                # a store kept while its manifest was lost holds chunks the manifest calls new: upserted then
                pipeline.adds_new = isinstance(base_store(store), AddsNew) and (bool(entries) or store.count() == 0)
                pipeline.seed_vectors(moved)
                try:
                    pipeline.run(jobs, loading)
                except KeyboardInterrupt:
                    report.interrupted = True
            if not report.interrupted:
                manifest.record_settings_fingerprint(fingerprint)
        finally:
            if loading is not None:  # stopped, whether or not the pipeline got to it
                loading.close()
            store.close()
    finally:
        manifest.close()
        report.seconds = time.perf_counter() - started
    return report


def remove(sources: list[str], settings: Settings, *, embedder: Embedder | None = None) -> IngestReport:
    """Take `sources` (manifest ids) out of the store, the keyword index and the manifest, crash-safely: the
    same removal a prune does (marked pending first, so a kill mid-way is finished by the next run)."""
    started = time.perf_counter()
    report = IngestReport()
    manifest = Manifest(manifest_file(settings))
    report.manifest = str(manifest.path)
    try:
        embedder = embedder or build_embedder(settings.embedding)
        dimension = manifest.model_dimension(embedder.name) or embedder.dimension
        store = build_store(settings.store, embedder.name, dimension)
        report.store = store.location
        try:
            _recover(manifest.pending(), set(), store, manifest, report)
            for source in sources:
                _remove(source, store, manifest, report)
        finally:
            store.close()
    finally:
        manifest.close()
        report.seconds = time.perf_counter() - started
    return report


def access_of(file: SourceFile, settings: Settings, given: list[str] | None, entry: SourceEntry | None) -> str:
    """The access key of a file's chunks: the groups given for this run (``["*"]``: everyone), else the first
    ``ingest.acl`` rule matching its source id, else what it had, else everyone (rag/stores/restricted.py)."""
    if given is not None:
        return PUBLIC if list(given) == [PUBLIC] else access_key(given)
    for rule in settings.ingest.acl:
        if fnmatch(file.source, rule.match):
            return access_key(rule.groups)
    previous = entry.file_hash.partition(":")[2] if entry is not None else ""
    return previous or PUBLIC


def settings_fingerprint(settings: Settings) -> str:
    """What decides the chunks and vectors of a file besides its bytes."""
    relevant = {
        "loaders": settings.loaders.model_dump(),
        "splitter": splitter_shape(settings),
        "embedding": {
            "provider": settings.embedding.provider,
            "model": settings.embedding.model,
            "normalize": settings.embedding.normalize,
        },
    }
    if settings.ingest.entities.extractor != "none":  # left out while off: older stores keep their fingerprint
        relevant["entities"] = settings.ingest.entities.extractor
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def splitter_shape(settings: Settings) -> dict:
    """The splitter settings as the fingerprint sees them: keys added later are left out while off, so a store
    built before they existed is not re-ingested for them."""
    splitter = settings.splitter.model_dump()
    for added in ("context_header", "table_header"):
        if not splitter[added]:
            del splitter[added]
    return splitter


def _plan(
    found: Discovery,
    entries: dict[str, SourceEntry],
    manifest: Manifest,
    report: IngestReport,
    prune: bool,
    stale_settings: bool = False,
    decide: Callable[[SourceFile, SourceEntry | None], str] | None = None,
) -> tuple[list[Job], list[str]]:
    """The files to (re-)ingest, and the sources to remove (pruned, or moved to another id)."""
    jobs: list[Job] = []
    seen: set[str] = set()
    pending = set(manifest.pending())
    by_path = {entry.path: source for source, entry in entries.items()}
    moved_from: set[str] = set()
    for file in found.files:
        seen.add(file.source)
        entry = entries.get(file.source)
        try:
            readers = decide(file, entry) if decide else PUBLIC
            digest = recorded_hash(file_hash(file.path), readers)
        except OSError as exc:
            report.files.append(FileOutcome(file.source, "failed", reason=f"unreadable ({exc.strerror})"))
            continue
        except RagError as exc:  # a bad group name
            report.files.append(FileOutcome(file.source, "failed", reason=str(exc)))
            continue
        if entry is not None and entry.file_hash == digest and file.source not in pending and not stale_settings:
            report.files.append(FileOutcome(file.source, "unchanged", len(entry.chunk_ids)))
            continue
        job = Job(file=file, file_hash=digest, access=readers, status="changed" if entry is not None else "new")
        if file.source in pending:
            # Killed mid-way: what it staged (and its last committed state) may be in the store. Those chunks are
            # reused and the rest deleted at commit; with nothing staged it is wiped first, as before staging.
            staged = manifest.staged(file.source)
            job.resumed = bool(staged)
            job.old_ids = staged | (set(entry.chunk_ids) if entry is not None and staged else set())
            job.status = "changed" if entry is not None and staged else "new"
        elif entry is not None:
            job.old_ids = set(entry.chunk_ids)
        old_source = by_path.get(str(file.path))
        if entry is None and old_source is not None and old_source != file.source and old_source not in seen:
            job.moved_from = old_source  # the same file under an older id (e.g. before root labels): vectors reused
            moved_from.add(old_source)
        jobs.append(job)
    removed = {
        source
        for source, entry in entries.items()
        if prune and source not in seen and _under(Path(entry.path), found.scanned)
    }
    return jobs, sorted(removed | (moved_from - seen))


def _under(path: Path, scanned: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in scanned)


def _recover(
    pending: list[str], resumed: set[str], store: VectorStore, manifest: Manifest, report: IngestReport
) -> None:
    """Sources a killed run left half-written: those ingested again now resume (their written chunks are
    reused); the others are wiped, so nothing half-written stays."""
    for source in pending:
        log.info("recovering %s, left half-written by an interrupted run", source)
        report.recovered.append(source)
        if source in resumed:
            crash_point("recover")  # a kill now leaves it pending with the same staged ids: resumed again next time
            continue
        store.delete(source=source)
        crash_point("recover")
        manifest.forget(source)


def _moved_vectors(jobs: list[Job], entries: dict[str, SourceEntry], store: VectorStore) -> dict[str, Any]:
    """chunk hash → stored vector of the chunks of sources that moved to a new id (nothing is embedded twice)."""
    ids = [chunk for job in jobs if job.moved_from for chunk in entries[job.moved_from].chunk_ids]
    if not ids:
        return {}
    return {str(row.metadata.get("chunk_hash")): row.vector for row in store.get(ids, include_vectors=True)}


def _remove(source: str, store: VectorStore, manifest: Manifest, report: IngestReport) -> None:
    manifest.begin(source)
    store.delete(source=source)
    crash_point("remove")
    manifest.forget(source)
    report.files.append(FileOutcome(source, "removed"))


__all__ = ["IngestReport", "SourceFile", "file_hash", "ingest", "remove"]
