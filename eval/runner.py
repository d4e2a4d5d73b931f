"""One answer-evaluation run: prepare the dataset, ingest it, answer every question, judge, score retrieval.

Each finished sample is appended to `<run>/samples.jsonl` at once, so Ctrl-C loses at most the sample in
flight and `--resume` continues where the run stopped (the judge cache answers the repeated calls).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.answer_match import answer_match
from eval.config import ANSWER_METRICS, IR_METRICS, EvalConfig
from eval.datasets import QASample
from eval.ir_metrics import documents_ranked, per_query
from eval.journal import SAMPLES_FILE, SampleResult, new_run_dir, read_journal
from eval.judge import JudgeCache, JudgeEmbeddings, JudgeLLM
from eval.prepare import ingest_corpus, pipeline_settings, prepare_dataset
from eval.provenance import model_fingerprints, versions
from eval.ragas_suite import JudgeInput, RagasSuite, expected_calls, judged_text
from rag.answer import prompts
from rag.config import Settings
from rag.embeddings.base import Embedder
from rag.errors import LLMServerError, RagError
from rag.llms.base import LLM

if TYPE_CHECKING:
    from rag.answer.pipeline import RagPipeline

IR_MEASURES = {"ndcg@10": "nDCG@10", "recall@10": "R@10", "mrr@10": "RR@10"}


class JudgeFailed(RagError):
    """The judge server failed: the run has no valid scores (exit 2, never a silent pass)."""


# -- the run ----------------------------------------------------------------------------------------


@dataclass
class RunHooks:
    on_plan: Callable[[int, int], None] = lambda samples, calls: None  # (samples to do, judge calls expected)
    on_sample: Callable[[SampleResult], None] = lambda result: None
    on_judge_call: Callable[[], None] = lambda: None


class EvalRunner:
    """Answers and judges the dataset's questions with one pipeline; the caller owns the run folder."""

    def __init__(self, cfg: EvalConfig, settings: Settings, pipeline: RagPipeline, judge_llm: LLM, embedder: Embedder):
        self.cfg = cfg
        self.settings = settings
        self.pipeline = pipeline
        cache = JudgeCache(cfg.judge.cache)
        self.judge = JudgeLLM(judge_llm, cache, max_tokens=cfg.judge.max_tokens)
        self.answer_metrics = [name for name in cfg.metrics if name in ANSWER_METRICS]
        self.suite = RagasSuite(
            [name for name in cfg.metrics if name not in ANSWER_METRICS],
            self.judge,
            JudgeEmbeddings(embedder),
            timeout_s=cfg.judge.timeout_s,
            max_workers=cfg.judge.max_workers,
            strictness=cfg.judge.strictness,
        )

    def expected_calls(self, samples: int) -> int:
        judged = [name for name in self.cfg.metrics if name not in ANSWER_METRICS]
        return samples * expected_calls(judged, self.settings.answer.k, self.cfg.judge.strictness)

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
            timings={"answer_s": round(answer_s, 3), **_generation_timings(answer)},
        )
        if "answer_match" in self.answer_metrics and qa.reference:
            body = judged_text(answer.text, (prompts.UNSUPPORTED_NOTE, prompts.UNCITED_NOTE))
            result.scores["answer_match"] = answer_match(body, qa.reference) if answer.found else 0.0
        if "grounded" in self.answer_metrics:
            result.scores["grounded"] = float(answer.found and answer.grounded)
        if "restated" in self.answer_metrics:
            result.scores["restated"] = float(answer.restated > 0)
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


def _generation_timings(answer: Any) -> dict[str, float]:
    """Time to first token, generation time and tokens generated (what compares answering models)."""
    timings = {}
    if "first_token" in answer.timings:
        timings["first_token_s"] = round(answer.timings["first_token"], 3)
        timings["generate_s"] = round(answer.timings.get("generate", 0.0), 3)
        timings["tokens"] = answer.tokens.get("generated", 0)
    return timings


def _source_name(metadata: dict[str, Any]) -> str:
    return Path(str(metadata.get("source", ""))).name


def _with_source_name(hit: Any) -> Any:
    hit.metadata = {**hit.metadata, "source_name": _source_name(hit.metadata)}
    return hit


# -- one whole run: what `python -m eval run` does --------------------------------------------------


@dataclass
class Outcome:
    results: dict[str, Any]
    run_dir: Path
    exit_code: int  # 0 pass, 1 regression, 2 error, 130 interrupted


def run_evaluation(
    cfg: EvalConfig,
    *,
    settings: Settings | None = None,
    llm: LLM | None = None,
    judge_llm: LLM | None = None,
    resume: Path | None = None,
    hooks: RunHooks | None = None,
    on_ingest: Callable[[Path, Settings, Any], None] | None = None,
) -> Outcome:
    """Prepare, ingest, answer, judge, gate, report. `llm` / `judge_llm` replace the configured backends
    (tests use a scripted judge); `on_ingest(corpus, settings, embedder)` ingests (default: quietly)."""
    from eval import report
    from rag.answer.pipeline import RagPipeline
    from rag.config import load_config
    from rag.embeddings import build_embedder
    from rag.llms import build_llm

    started_at = datetime.now(UTC)
    runs = Path(cfg.runs)
    base_settings = settings or load_config(cfg.pipeline)
    corpus, samples, dataset_key = prepare_dataset(cfg)
    run_settings = pipeline_settings(base_settings, cfg, dataset_key)
    embedder = build_embedder(run_settings.embedding)
    (on_ingest or ingest_corpus)(corpus, run_settings, embedder)

    run_dir = resume or new_run_dir(runs, cfg.name)
    journal = run_dir / SAMPLES_FILE
    done_ids = {r.id for r in read_journal(journal)}
    todo = [qa for qa in samples if qa.id not in done_ids]

    generator = llm or build_llm(run_settings.llm)
    if judge_llm is None:
        judge_llm = build_llm(cfg.judge.llm) if cfg.judge.llm is not None else generator
    pipeline = RagPipeline(run_settings, embedder=embedder, llm=generator)
    runner = EvalRunner(cfg, run_settings, pipeline, judge_llm, embedder)
    status, error, exit_code, elapsed = _answer_and_judge(runner, todo, journal, hooks)
    finished = read_journal(journal) if journal.is_file() else []

    previous = (
        json.loads((run_dir / "results.json").read_text()) if (resume and (run_dir / "results.json").is_file()) else {}
    )
    results = _results(
        cfg, runner, run_settings, generator, run_dir, finished, samples, dataset_key, previous,
        status=status, error=error, started_at=started_at, elapsed=elapsed,
    )  # fmt: skip
    if status == "complete":
        exit_code = _gate(results, cfg, runs, run_dir)
    history = report.read_history(runs)
    report.write_reports(results, run_dir, history)
    if status in ("complete", "error"):
        report.append_history(runs, results)
    runner.judge.judge_cache.close()
    return Outcome(results=results, run_dir=run_dir, exit_code=exit_code)


def _answer_and_judge(
    runner: EvalRunner, todo: list, journal: Path, hooks: RunHooks | None
) -> tuple[str, str | None, int, float]:
    """Answer and judge the samples left; (status, error, exit code, seconds). An interrupt or an error stops it
    with what was journaled kept."""
    status, error, exit_code = "complete", None, 0
    clock = time.perf_counter()
    try:
        runner.check_judge()
        runner.run(todo, journal, hooks)
    except KeyboardInterrupt:
        status, exit_code = "interrupted", 130
    except RagError as exc:  # JudgeFailed included
        status, error, exit_code = "error", str(exc), 2
    finally:
        runner.pipeline.store.close()
    return status, error, exit_code, time.perf_counter() - clock


def _results(
    cfg: EvalConfig,
    runner: EvalRunner,
    run_settings: Settings,
    generator: Any,
    run_dir: Path,
    finished: list[SampleResult],
    samples: list,
    dataset_key: str,
    previous: dict[str, Any],
    *,
    status: str,
    error: str | None,
    started_at: datetime,
    elapsed: float,
) -> dict[str, Any]:
    """results.json: the run's summary, judge statistics, timings, config, versions and samples (a resumed run adds
    to the interrupted one's time and judge counts)."""
    from eval import report

    metrics = [*(IR_METRICS if cfg.ir else ()), *cfg.metrics]
    sample_dicts = [asdict(r) for r in finished]
    return {
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
        "summary": report.summarise(sample_dicts, metrics),
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
            **_generation_summary(finished),
        },
        "config": {"eval": cfg.model_dump(mode="json"), "pipeline": run_settings.model_dump(mode="json")},
        "versions": versions(),
        "models": model_fingerprints(run_settings, cfg.judge),
        "samples": sample_dicts,
    }


def _gate(results: dict[str, Any], cfg: EvalConfig, runs: Path, run_dir: Path) -> int:
    """Apply the gate against the baseline run; record it in `results`; the exit code (0 pass, 1 regression)."""
    from eval import report
    from eval.gate import apply_gate

    baseline = report.find_baseline(runs, cfg.name, cfg.gate.baseline, exclude=run_dir.name)
    gate = apply_gate(results["summary"], cfg.gate, baseline)
    results["gate"] = gate.to_dict()
    results["baseline_summary"] = baseline["summary"] if baseline else None
    return 0 if gate.passed else 1


def _generation_summary(finished: list[SampleResult]) -> dict[str, float]:
    """Median time to first token and decode speed (tokens after the first / the time they took)."""
    generated = [r.timings for r in finished if r.timings.get("tokens")]
    if not generated:
        return {}
    first = sorted(t["first_token_s"] for t in generated)
    decode_s = sum(max(t["generate_s"] - t["first_token_s"], 0.0) for t in generated)
    tokens = sum(t["tokens"] - 1 for t in generated)
    return {
        "first_token_median_s": round(first[len(first) // 2], 2),
        "decode_tokens_per_s": round(tokens / decode_s, 1) if decode_s > 0 else 0.0,
    }


def _accumulated(before: dict[str, Any] | None, now: dict[str, Any]) -> dict[str, Any]:
    """Judge counts over every segment of a resumed run."""
    if not before:
        return now
    total = dict(now)
    for key in ("calls", "cached", "parse_failures", "errors"):
        total[key] = int(before.get(key) or 0) + int(now.get(key) or 0)
    total["first_error"] = before.get("first_error") or now.get("first_error")
    return total
