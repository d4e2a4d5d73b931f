"""One ``python -m eval retrieval`` run: ingest the BEIR corpus, evaluate named retriever configs, and with
``tune`` choose the hybrid fusion on one split (train) and report it on the evaluated split (test)."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from eval.beir import BeirDataset, load_beir
from eval.retrieval import (
    ConfigResult,
    chunk_depth,
    corpus_size,
    eval_settings,
    evaluate_config,
    preset_settings,
    run_config,
    sample_queries,
)
from eval.tuning import Trial, chosen_retriever_section, grid_size, signal_runs, tune
from rag.config import RetrieverOptions, Settings
from rag.errors import ConfigError

TUNED = "hybrid tuned on {split}"


@dataclass
class RetrievalRun:
    dataset: BeirDataset
    settings: Settings
    results: list[ConfigResult] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)
    tune_split: str | None = None
    tune_queries: int = 0
    documents: int = 0
    chunks: int = 0
    queries: int = 0
    ingest_seconds: float = 0.0
    chunks_embedded: int = 0
    peak_rss_mb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataset": self.dataset.name,
            "split": self.dataset.split,
            "documents": self.documents,
            "chunks": self.chunks,
            "ingest_seconds": round(self.ingest_seconds, 1),
            "chunks_embedded": self.chunks_embedded,
            "peak_rss_mb": round(self.peak_rss_mb),
            "configs": [result.to_dict() for result in self.results],
        }
        if self.trials:
            out["tuning"] = {
                "split": self.tune_split,
                "queries": self.tune_queries,
                "chosen": {"retriever": chosen_retriever_section(self.trials[0]), **self.trials[0].to_dict()},
                "trials": [trial.to_dict() for trial in self.trials],
            }
        return out


def run_retrieval(
    config: Settings,
    dataset_dir: Path,
    names: list[str],
    *,
    split: str,
    limit: int | None,
    work: Path,
    rerank_model: str | None,
    tune_split: str | None,
    signals: list[str] | None,
    console: Console,
) -> RetrievalRun:
    from ingest.progress import RichProgress
    from ingest.run import ingest
    from rag.embeddings import build_embedder
    from rag.stores import build_store

    dataset = load_beir(dataset_dir, split)
    settings = eval_settings(config, dataset, work)
    outcome = RetrievalRun(dataset, settings, tune_split=tune_split)
    embedder = build_embedder(settings.embedding)
    console.print(f"[bold]{dataset.name}[/]: ingesting {dataset.corpus} into {settings.store.describe()}")
    with RichProgress(console, enabled=True) as progress:
        report = ingest([dataset.corpus], settings, progress=progress, on_plan=progress.plan, embedder=embedder)
    if report.exit_code != 0:
        raise ConfigError(f"ingesting {dataset.corpus} failed: {report.to_json()}")
    outcome.ingest_seconds, outcome.chunks_embedded = report.seconds, report.chunks_embedded
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        outcome.documents, outcome.chunks = corpus_size(dataset), store.count()
        depth = chunk_depth(outcome.chunks, outcome.documents)
        query_ids = sample_queries(dataset, limit)
        outcome.queries = len(query_ids)
        console.print(
            f"{outcome.chunks} chunks of {outcome.documents} documents; {len(query_ids)} queries; {depth} chunks per "
            "query → top 100 documents (a document ranks by its best chunk)"
        )
        runner = _Runner(settings, embedder, store, dataset, query_ids, depth, rerank_model, console)
        for name in names:
            run_settings, search_filter = preset_settings(settings, name, rerank_model)
            outcome.results.append(runner.evaluate(name, run_settings, search_filter))
        if tune_split:
            tuned = _tune(runner, dataset_dir, tune_split, signals, limit, outcome)
            outcome.results.append(runner.evaluate(TUNED.format(split=tune_split), tuned, None))
    finally:
        store.close()
    outcome.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return outcome


class _Runner:
    """Builds and evaluates one retriever config at a time over the shared embedder and store."""

    def __init__(self, settings, embedder, store, dataset, query_ids, depth, rerank_model, console) -> None:
        self.settings, self.embedder, self.store = settings, embedder, store
        self.dataset, self.query_ids, self.depth = dataset, query_ids, depth
        self.console = console
        self._llm: Any = None

    def shared_llm(self) -> Any:
        if self._llm is None:
            from rag.llms import build_llm

            self._llm = build_llm(self.settings.llm)
        return self._llm

    def build(self, run_settings: Settings) -> Any:
        from rag.retrievers import build_retriever

        retriever = build_retriever(run_settings, embedder=self.embedder, store=self.store, llm_factory=self.shared_llm)
        retriever.warm_up()  # the models and the indexes load before the clock starts
        return retriever

    def evaluate(self, name: str, run_settings: Settings, search_filter: dict | None) -> ConfigResult:
        retriever = self.build(run_settings)
        started = time.perf_counter()
        with self._bar(name, len(self.query_ids)) as (bar, task):
            run, latencies = run_config(
                name,
                retriever,
                self.dataset,
                self.query_ids,
                self.depth,
                on_query=lambda: bar.advance(task),
                search_filter=search_filter,
                before_timing=getattr(self.embedder, "clear_query_cache", None),
            )
        result = evaluate_config(
            name, run_settings.retriever, run, latencies, self.dataset, time.perf_counter() - started
        )
        self.console.print(
            f"  {name:24} nDCG@10 {result.metrics['ndcg@10']:.4f}  R@100 {result.metrics['recall@100']:.4f}  "
            f"p50 {result.latency['p50_ms']:.1f} ms"
        )
        return result

    def _bar(self, label: str, total: int):
        from contextlib import contextmanager

        @contextmanager
        def bar():
            with Progress(
                TextColumn(f"{label:24}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            ) as progress:
                yield progress, progress.add_task(label, total=total)

        return bar()


def _tune(
    runner: _Runner,
    dataset_dir: Path,
    split: str,
    signals: list[str] | None,
    limit: int | None,
    outcome: RetrievalRun,
) -> Settings:
    """Search each signal once per `split` query, score the grid, and return the settings of the best point."""
    settings = runner.settings
    signals = signals or (["dense", "bm25", "sparse"] if settings.store.sparse.enabled else ["dense", "bm25"])
    if "dense" not in signals:
        raise ConfigError("--signals must include dense")
    if "sparse" in signals and not settings.store.sparse.enabled:
        raise ConfigError("--signals sparse needs store.sparse.enabled: true (RAG__STORE__SPARSE__ENABLED=true)")
    tuning = load_beir(dataset_dir, split)
    if set(tuning.queries) & set(runner.dataset.queries):
        raise ConfigError(f"the {split} and {runner.dataset.split} splits share queries: tune on another split")
    query_ids = sample_queries(tuning, limit)
    outcome.tune_queries = len(query_ids)
    everything = settings.retriever.model_dump()
    everything.update(strategy="hybrid", rerank={"backend": "none"})
    everything["hybrid"] = {**settings.retriever.section("hybrid").model_dump(), "weights": dict.fromkeys(signals, 1.0)}
    hybrid = runner.build(settings.model_copy(update={"retriever": RetrieverOptions(**everything)}))
    with runner._bar(f"search {split}", len(query_ids)) as (bar, task):
        lists = signal_runs(hybrid, tuning, query_ids, on_query=lambda: bar.advance(task))
    with runner._bar(f"fuse {split}", grid_size(signals)) as (bar, task):
        outcome.trials = tune(hybrid, lists, tuning, signals, on_trial=lambda: bar.advance(task))
    best = outcome.trials[0]
    runner.console.print(
        f"  best on {split} ({len(query_ids)} queries): {best.label()}, nDCG@10 {best.metrics['ndcg@10']:.4f}"
    )
    chosen = settings.retriever.model_dump()
    chosen.update(strategy="hybrid", candidates=best.norm_depth)
    chosen["hybrid"] = {
        **settings.retriever.section("hybrid").model_dump(),
        "fusion": best.fusion,
        "weights": best.weights,
    }
    return settings.model_copy(update={"retriever": RetrieverOptions(**chosen)})
