"""One answer-evaluation run: prepare the dataset, ingest it, answer every question, judge, score retrieval.

Each finished sample is appended to `<run>/samples.jsonl` at once, so Ctrl-C loses at most the sample in
flight and `--resume` continues where the run stopped (the judge cache answers the repeated calls).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.config import IR_METRICS, EvalConfig, JudgeConfig
from eval.datasets import CONVERTERS, QASample, load_qa, sample
from eval.ir_metrics import documents_ranked, per_query
from eval.judge import JudgeCache, JudgeEmbeddings, JudgeLLM
from eval.ragas_suite import JudgeInput, RagasSuite, expected_calls, judged_text
from eval.retrieval import store_moved
from rag import prompts
from rag.config import Settings
from rag.errors import ConfigError, LLMServerError, RagError

SAMPLES_FILE = "samples.jsonl"
IR_MEASURES = {"ndcg@10": "nDCG@10", "recall@10": "R@10", "mrr@10": "RR@10"}


class JudgeFailed(RagError):
    """The judge server failed: the run has no valid scores (exit 2, never a silent pass)."""


@dataclass
class SampleResult:
    id: str
    question: str
    reference: str
    answer: str
    found: bool
    contexts: list[dict[str, Any]]
    reference_ids: list[str]
    scores: dict[str, float | None] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleResult:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


# -- dataset and store ------------------------------------------------------------------------------


def prepare_dataset(cfg: EvalConfig) -> tuple[Path, list[QASample], str]:
    """(folder to ingest, the seeded sample of questions, dataset key) for the configured dataset."""
    ds = cfg.dataset
    if ds.kind == "jsonl":
        if not ds.qa or not ds.corpus:
            raise ConfigError("dataset.kind jsonl needs dataset.qa (the QA file) and dataset.corpus (a folder)")
        corpus, qa, key = Path(ds.corpus), Path(ds.qa), f"jsonl-{Path(ds.qa).stem}"
        if not corpus.is_dir():
            raise ConfigError(f"dataset.corpus {corpus} is not a folder")
    else:
        if not ds.source:
            raise ConfigError(f"dataset.source is required for {ds.kind}, e.g. ../shared/datasets/{ds.kind}")
        source = Path(ds.source)
        if not source.is_dir():
            raise ConfigError(f"dataset.source {source} is not a folder (see ../shared/datasets/{ds.kind}/README.md)")
        split = ds.split or ("test" if ds.kind == "pubmedqa" else "dev")
        key = f"{ds.kind}-{split}"
        out = Path(cfg.work) / key
        qa = out / f"{key}.jsonl"
        if not qa.is_file():
            try:
                CONVERTERS[ds.kind](source, out, split)
            except (OSError, KeyError, json.JSONDecodeError) as exc:
                raise ConfigError(f"could not convert {source} ({exc.__class__.__name__}: {exc})") from None
        corpus = out / "corpus"
    return corpus, sample(load_qa(qa), ds.limit, ds.seed), key


def pipeline_settings(settings: Settings, cfg: EvalConfig, dataset_key: str) -> Settings:
    """The pipeline's settings with its store moved under the eval work folder: one store per dataset and
    per index-shaping settings (splitter, embedding, store kind, keyword index), shared by retrieval-only
    variations such as answer.k."""
    shape = {
        "splitter": settings.splitter.model_dump(),
        "embedding": settings.embedding.model_dump(),
        "store": {"kind": settings.store.kind, "bm25": settings.store.bm25.model_dump()},
    }
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:10]
    return Settings(
        **store_moved(settings, Path(cfg.work) / dataset_key / f"store-{digest}", dataset_key.replace("-", "_"))
    )


# -- provenance -------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    packages = ("powerhouse-rag", "ragas", "langchain-core", "sentence-transformers", "chromadb", "llama_cpp_python")
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def model_fingerprints(settings: Settings, judge: JudgeConfig | None = None) -> dict[str, str]:
    """sha256 of the local model files (GGUF, embedding weights); name@url for served models."""
    prints: dict[str, str] = {}

    def llm_print(llm_cfg: Any) -> str:
        if llm_cfg.backend != "local":
            return f"{llm_cfg.model}@{llm_cfg.base_url}"
        from rag.models import resolve, sha256_of

        try:
            path = resolve(llm_cfg.model, download=False)
        except RagError:
            return llm_cfg.model
        return f"sha256:{sha256_of(path)}"

    prints["generator"] = llm_print(settings.llm)
    if judge is not None and judge.llm is not None:
        prints["judge"] = llm_print(judge.llm)
    else:
        prints["judge"] = prints["generator"]
    try:
        from rag.embeddings import resolve_model_path
        from rag.models import sha256_of

        folder = Path(resolve_model_path(settings.embedding.model)[0])
        weights = sorted(folder.rglob("*.safetensors")) or sorted(folder.rglob("*.bin"))
        if weights:
            prints["embedding"] = f"sha256:{sha256_of(weights[0])}"
    except (RagError, OSError, ImportError):
        pass
    return prints


# -- the run ----------------------------------------------------------------------------------------


@dataclass
class RunHooks:
    on_plan: Callable[[int, int], None] = lambda samples, calls: None  # (samples to do, judge calls expected)
    on_sample: Callable[[SampleResult], None] = lambda result: None
    on_judge_call: Callable[[], None] = lambda: None


class EvalRunner:
    """Answers and judges the dataset's questions with one pipeline; the caller owns the run folder."""

    def __init__(self, cfg: EvalConfig, settings: Settings, pipeline: Any, judge_llm: Any, embedder: Any):
        self.cfg = cfg
        self.settings = settings
        self.pipeline = pipeline
        cache = JudgeCache(cfg.judge.cache)
        self.judge = JudgeLLM(judge_llm, cache, max_tokens=cfg.judge.max_tokens)
        self.suite = RagasSuite(
            cfg.metrics,
            self.judge,
            JudgeEmbeddings(embedder),
            timeout_s=cfg.judge.timeout_s,
            max_workers=cfg.judge.max_workers,
            strictness=cfg.judge.strictness,
        )

    def expected_calls(self, samples: int) -> int:
        return samples * expected_calls(self.cfg.metrics, self.settings.answer.k, self.cfg.judge.strictness)

    def check_judge(self) -> None:
        """One tiny call before the run: a judge server that is down fails now, not after an hour."""
        try:
            self.judge.llm.complete([{"role": "user", "content": "Reply with OK."}], max_tokens=2, temperature=0.0)
        except LLMServerError as exc:
            raise JudgeFailed(f"the judge is not answering: {exc}") from None

    def run(self, samples: list[QASample], journal: Path, hooks: RunHooks | None = None) -> list[SampleResult]:
        """Score `samples`, appending each result to `journal`; raises JudgeFailed on a server failure."""
        hooks = hooks or RunHooks()
        self.judge.on_call = hooks.on_judge_call
        hooks.on_plan(len(samples), self.expected_calls(len(samples)))
        results = []
        for qa in samples:
            result = self.score_one(qa)
            with journal.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
            results.append(result)
            hooks.on_sample(result)
        return results

    def score_one(self, qa: QASample) -> SampleResult:
        started = time.perf_counter()
        answer = self.pipeline.ask(qa.question)
        answer_s = time.perf_counter() - started
        contexts = answer.contexts if answer.found else answer.retrieved
        result = SampleResult(
            id=qa.id,
            question=qa.question,
            reference=qa.reference,
            answer=answer.text,
            found=answer.found,
            contexts=[
                {"id": h.id, "source": _source_name(h.metadata), "text": h.text, "score": round(h.score, 4)}
                for h in contexts
            ],
            reference_ids=list(qa.context_ids),
            timings={"answer_s": round(answer_s, 3)},
        )
        if self.cfg.ir and qa.context_ids:
            started = time.perf_counter()
            result.scores.update(self.ir_scores(qa, answer.standalone_question))
            result.timings["ir_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        errors_before = len(self.judge.stats.errors)
        item = JudgeInput(
            question=qa.question,
            answer=judged_text(answer.text, (prompts.UNSUPPORTED_NOTE, prompts.UNCITED_NOTE)),
            contexts=[c["text"] for c in result.contexts],
            reference=qa.reference,
            context_ids=[c["source"] for c in result.contexts],
            reference_ids=list(qa.context_ids),
        )
        result.scores.update(self.suite.score(item))
        result.timings["judge_s"] = round(time.perf_counter() - started, 3)
        if len(self.judge.stats.errors) > errors_before:
            raise JudgeFailed(f"the judge failed while scoring sample {qa.id}: {self.judge.stats.errors[-1]}")
        return result

    def ir_scores(self, qa: QASample, question: str) -> dict[str, float]:
        depth = self.cfg.ir_depth
        hits = self.pipeline.retriever.retrieve(question, depth * 5)
        ranking = documents_ranked([_with_source_name(hit) for hit in hits], id_key="source_name", limit=depth)
        qrels = {qa.id: dict.fromkeys(qa.context_ids, 1)}
        values = per_query({qa.id: ranking}, qrels, IR_MEASURES)
        return {name: float(values[name][qa.id]) for name in IR_METRICS}


def _source_name(metadata: dict[str, Any]) -> str:
    return Path(str(metadata.get("source", ""))).name


def _with_source_name(hit: Any) -> Any:
    hit.metadata = {**hit.metadata, "source_name": _source_name(hit.metadata)}
    return hit


def read_journal(path: Path) -> list[SampleResult]:
    """The samples a run finished (a torn last line from a kill is skipped)."""
    if not path.is_file():
        return []
    results = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            results.append(SampleResult.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue
    return results


def new_run_dir(runs: Path, name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = runs / f"{stamp}-{name}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = runs / f"{stamp}-{name}-{suffix}"
    path.mkdir(parents=True)
    return path


# -- one whole run: what `python -m eval run` does --------------------------------------------------


@dataclass
class Outcome:
    results: dict[str, Any]
    run_dir: Path
    exit_code: int  # 0 pass, 1 regression, 2 error, 130 interrupted


def latest_unfinished(runs: Path, name: str) -> Path | None:
    """The newest run folder of this name that did not complete (for --resume)."""
    candidates = sorted(p for p in runs.glob(f"*-{name}") if p.is_dir()) if runs.is_dir() else []
    for path in reversed(candidates):
        results = path / "results.json"
        status = json.loads(results.read_text(encoding="utf-8")).get("status") if results.is_file() else None
        if status != "complete":
            return path
    return None


def run_evaluation(
    cfg: EvalConfig,
    *,
    settings: Settings | None = None,
    llm: Any = None,
    judge_llm: Any = None,
    resume: Path | None = None,
    hooks: RunHooks | None = None,
    on_ingest: Callable[[Path, Settings, Any], None] | None = None,
) -> Outcome:
    """Prepare, ingest, answer, judge, gate, report. `llm` / `judge_llm` replace the configured backends
    (tests use a scripted judge); `on_ingest(corpus, settings, embedder)` ingests (default: quietly)."""
    from eval import report
    from eval.gate import apply_gate
    from rag.config import load_config
    from rag.embeddings import build_embedder
    from rag.llms import build_llm
    from rag.pipeline import RagPipeline

    started_at = datetime.now(UTC)
    runs = Path(cfg.runs)
    base_settings = settings or load_config(cfg.pipeline)
    corpus, samples, dataset_key = prepare_dataset(cfg)
    run_settings = pipeline_settings(base_settings, cfg, dataset_key)
    embedder = build_embedder(run_settings.embedding)
    (on_ingest or ingest_corpus)(corpus, run_settings, embedder)

    run_dir = resume or new_run_dir(runs, cfg.name)
    journal = run_dir / SAMPLES_FILE
    done = read_journal(journal)
    done_ids = {r.id for r in done}
    todo = [qa for qa in samples if qa.id not in done_ids]

    generator = llm or build_llm(run_settings.llm)
    if judge_llm is None:
        judge_llm = build_llm(cfg.judge.llm) if cfg.judge.llm is not None else generator
    pipeline = RagPipeline(run_settings, embedder=embedder, llm=generator)
    runner = EvalRunner(cfg, run_settings, pipeline, judge_llm, embedder)

    status, error, exit_code = "complete", None, 0
    clock = time.perf_counter()
    finished: list[SampleResult] = []
    try:
        runner.check_judge()
        finished = runner.run(todo, journal, hooks)
    except KeyboardInterrupt:
        status, exit_code = "interrupted", 130
    except RagError as exc:  # JudgeFailed included
        status, error, exit_code = "error", str(exc), 2
    finally:
        pipeline.store.close()
    finished = read_journal(journal) if journal.is_file() else finished
    elapsed = time.perf_counter() - clock

    metrics = [*(IR_METRICS if cfg.ir else ()), *cfg.metrics]
    sample_dicts = [asdict(r) for r in finished]
    summary = report.summarise(sample_dicts, metrics)
    previous = (
        json.loads((run_dir / "results.json").read_text()) if (resume and (run_dir / "results.json").is_file()) else {}
    )
    results: dict[str, Any] = {
        "run_id": run_dir.name,
        "name": cfg.name,
        "dir": str(run_dir),
        "status": status,
        "error": error,
        "started": previous.get("started", started_at.isoformat(timespec="seconds")),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(previous.get("duration_s", 0.0) + elapsed, 1),
        "dataset": f"{dataset_key} ({len(samples)} questions, seed {cfg.dataset.seed})",
        "samples_planned": len(samples),
        "samples_done": len(finished),
        "metrics": metrics,
        "summary": summary,
        "expected_judge_calls": runner.expected_calls(len(samples)),
        "judge": {"model": runner.judge.name, **_accumulated(previous.get("judge"), runner.judge.stats.to_dict())},
        "pipeline": {
            "llm": generator.name,
            "retriever": run_settings.retriever.strategy,
            "k": run_settings.answer.k,
            "embedding": run_settings.embedding.model,
        },
        "timings": {
            "answer_s": round(sum(r.timings.get("answer_s", 0) for r in finished), 1),
            "judge_s": round(sum(r.timings.get("judge_s", 0) for r in finished), 1),
            "ir_s": round(sum(r.timings.get("ir_s", 0) for r in finished), 1),
        },
        "config": {"eval": cfg.model_dump(mode="json"), "pipeline": run_settings.model_dump(mode="json")},
        "versions": versions(),
        "models": model_fingerprints(run_settings, cfg.judge),
        "samples": sample_dicts,
    }
    if status == "complete":
        baseline = report.find_baseline(runs, cfg.name, cfg.gate.baseline, exclude=run_dir.name)
        gate = apply_gate(summary, cfg.gate, baseline)
        results["gate"] = gate.to_dict()
        results["baseline_summary"] = baseline["summary"] if baseline else None
        exit_code = 0 if gate.passed else 1
    history = report.read_history(runs)
    report.write_reports(results, run_dir, history)
    if status in ("complete", "error"):
        report.append_history(runs, results)
    runner.judge.judge_cache.close()
    return Outcome(results=results, run_dir=run_dir, exit_code=exit_code)


def _accumulated(before: dict[str, Any] | None, now: dict[str, Any]) -> dict[str, Any]:
    """Judge counts over every segment of a resumed run."""
    if not before:
        return now
    total = dict(now)
    for key in ("calls", "cached", "parse_failures", "errors"):
        total[key] = int(before.get(key) or 0) + int(now.get(key) or 0)
    total["first_error"] = before.get("first_error") or now.get("first_error")
    return total


def ingest_corpus(corpus: Path, settings: Settings, embedder: Any = None, progress: Any = None) -> None:
    """Ingest (incrementally) the dataset's corpus into the run's store."""
    from ingest.run import ingest

    report = ingest([corpus], settings, progress=progress, on_plan=getattr(progress, "plan", None), embedder=embedder)
    if report.exit_code != 0:
        raise ConfigError(f"ingesting {corpus} failed: {report.to_json()}")
