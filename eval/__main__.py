"""`python -m eval`: evaluation commands.

run         answer evaluation (Ragas + IR metrics) of a pipeline on a QA dataset: report, history, gate
compare     per-metric deltas of two runs with bootstrap confidence intervals
generate    a test set from your own documents: questions, references and their chunks (eval/generate.py)
retrieval   IR metrics of retriever configs on a BEIR dataset (e.g. ../shared/datasets/scifact)
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from eval.retrieval import DEFAULT_PRESETS
from rag.console import fail, setup_environment

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich", no_args_is_help=True)


@app.callback()
def _main() -> None:
    """Evaluate retrieval and answers on real datasets."""


@app.command()
def retrieval(
    dataset_dir: Path | None = typer.Option(
        None, "--dataset", "-d", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/ (required)."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    strategies: str | None = typer.Option(
        None,
        "--strategies",
        "-s",
        help="Comma-separated presets (see --list) or 'configured' for the config's own retriever section "
        f"(default: {','.join(DEFAULT_PRESETS)}; with --tune: configured).",
    ),
    split: str = typer.Option("test", help="qrels split to report."),
    tune: str | None = typer.Option(
        None,
        "--tune",
        help="Choose the hybrid fusion (weights, candidates, RRF) on this split, e.g. train; "
        "then report it on --split.",
    ),
    signals: str | None = typer.Option(
        None, help="With --tune: the signals to fuse (default dense,bm25 and sparse when store.sparse is enabled)."
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", help="Evaluate a seeded sample of N queries."),
    rerank_model: str | None = typer.Option(
        None, help="Cross-encoder (local folder or hub id) for hybrid+cross_encoder."
    ),
    work: Path = typer.Option(Path(".rag/eval"), help="Where the throwaway stores live (reused when unchanged)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write the table (.md) and results (.json) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    list_presets: bool = typer.Option(False, "--list", help="List the presets and exit."),
    fail_under: list[str] = typer.Option(
        [], "--fail-under", help="Gate: METRIC=VALUE (e.g. ndcg@10=0.73) for the configured retriever; exit 1 below."
    ),
    collections: str | None = typer.Option(
        None,
        "--collections",
        help="Choose the default fusion and query instruction on several collections at once "
        "(scifact,cranfield,tatqa,financebench): tuned on each one's tuning split, reported on its test split.",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """nDCG@10, recall@10/100, MRR@10 and latency p50/p95 per retriever config, beside published numbers.

    Exit code: 0, or 1 when --fail-under finds the configured retriever below a floor, 2 on an error."""
    setup_environment(debug)
    from rich.console import Console

    from eval.retrieval import PRESETS
    from eval.retrieval_run import run_retrieval
    from rag.config import load_config
    from rag.errors import RagError

    console = Console(stderr=True)
    if list_presets:
        for name, preset in PRESETS.items():
            typer.echo(f"{name:26} {json.dumps(preset)}")
        raise typer.Exit(0)
    if collections:
        tune_over_collections(config, collections, limit, work, out, console, debug)
        return
    try:
        floors = parse_floors(fail_under)
        names = preset_names(dataset_dir, strategies, tune, floors)
        outcome = run_retrieval(
            load_config(config),
            dataset_dir,
            names,
            split=split,
            limit=limit,
            work=work,
            rerank_model=rerank_model,
            tune_split=tune,
            signals=[s.strip() for s in signals.split(",")] if signals else None,
            console=console,
        )
    except RagError as exc:
        fail(console, exc, debug)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    table, payload = retrieval_report(outcome)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"retrieval-{outcome.dataset.name}.md").write_text(table, encoding="utf-8")
        (out / f"retrieval-{outcome.dataset.name}.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    typer.echo(json.dumps(payload, indent=2) if as_json else table)
    failures = below_floors(outcome, floors)
    for failure in failures:
        console.print(f"[red]regression:[/] {failure}")
    raise typer.Exit(1 if failures else 0)


def tune_over_collections(config, names: str, limit, work: Path, out: Path | None, console, debug: bool) -> None:
    """`eval retrieval --collections …`: the multi-collection choice (eval/defaults_run.py), as a Markdown report."""
    from eval.defaults_run import every_candidate, markdown, run_defaults
    from rag.config import load_config
    from rag.errors import RagError

    try:
        outcome = run_defaults(
            load_config(config), [n.strip() for n in names.split(",") if n.strip()], limit=limit, work=work,
            console=console,
        )  # fmt: skip
    except RagError as exc:
        fail(console, exc, debug)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    report = markdown(outcome)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "retrieval-defaults.md").write_text(report, encoding="utf-8")
        (out / "retrieval-defaults-all.md").write_text(every_candidate(outcome), encoding="utf-8")
    typer.echo(report)


def preset_names(dataset_dir: Path | None, strategies: str | None, tune: str | None, floors: dict) -> list[str]:
    """The retriever configs to run: the chosen presets (the defaults, or 'configured' when tuning), 'configured'
    first when a floor gates it; a one-line error for a missing dataset or an unknown preset."""
    from eval.retrieval import PRESETS
    from rag.errors import ConfigError

    if dataset_dir is None:
        raise ConfigError("--dataset DIR is required, e.g. --dataset ../shared/datasets/scifact")
    chosen = strategies if strategies is not None else ("configured" if tune else ",".join(DEFAULT_PRESETS))
    names = [name.strip() for name in chosen.split(",") if name.strip()]
    if floors and "configured" not in names:
        names.insert(0, "configured")
    unknown = [name for name in names if name != "configured" and name not in PRESETS]
    if unknown:
        raise ConfigError(f"unknown strategy preset(s) {', '.join(unknown)}; see `python -m eval retrieval --list`")
    return names


def retrieval_report(outcome) -> tuple[str, dict]:
    """The Markdown table of a retrieval run (with the tuning grid when it tuned) and its JSON payload."""
    from eval.retrieval import markdown_table
    from eval.tuning import chosen_retriever_section, markdown_trials

    settings, dataset = outcome.settings, outcome.dataset
    size = settings.splitter.chunk_size
    ingested = (
        f"ingest {outcome.ingest_seconds:.0f} s for {outcome.chunks_embedded} chunks embedded"
        if outcome.chunks_embedded
        else "store reused"
    )
    header = (
        f"{dataset.name} ({dataset.split}, {outcome.queries} queries, {outcome.documents} documents, "
        f"{settings.embedding.model}, chunks of {f'{size} tokens' if size else 'the model window'}; {ingested}, "
        f"peak RSS {outcome.peak_rss_mb:.0f} MB)"
    )
    table = markdown_table(outcome.results, dataset, header=f"**{header}**\n")
    if outcome.trials:
        best = outcome.trials[0]
        table = (
            f"**Fusion tuned on {outcome.tune_split}** ({outcome.tune_queries} queries; "
            f"{len(outcome.trials)} grid points):\n\n{markdown_trials(outcome.trials, outcome.tune_split)}\n"
            f"Chosen: {best.label()}. In a config:\n\n```yaml\nretriever: "
            f"{json.dumps(chosen_retriever_section(best))}\n```\n\n{table}"
        )
    return table, outcome.to_dict()


def below_floors(outcome, floors: dict[str, float]) -> list[str]:
    """The --fail-under floors the configured retriever is below, as messages."""
    if not floors:
        return []
    configured = next(result for result in outcome.results if result.name == "configured")
    return [
        f"configured {metric} {configured.metrics[metric]:.4f} is below the floor {floor:.4f}"
        for metric, floor in floors.items()
        if configured.metrics[metric] < floor
    ]


def parse_floors(specs: list[str]) -> dict[str, float]:
    """--fail-under METRIC=VALUE options as {metric: floor}; a one-line error for a bad one."""
    from eval.ir_metrics import MEASURES
    from rag.errors import ConfigError

    floors = {}
    for spec in specs:
        metric, _, value = spec.partition("=")
        try:
            floors[metric.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--fail-under {spec!r}: write METRIC=VALUE, e.g. ndcg@10=0.73") from None
        if metric.strip() not in MEASURES:
            raise ConfigError(f"--fail-under {spec!r}: unknown metric; choose one of {', '.join(MEASURES)}")
    return floors


@app.command()
def run(
    config: Path | None = typer.Option(None, "--config", "-c", help="Eval YAML (default: configs/eval.yaml)."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="A seeded sample of N questions."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Runs folder (default: the config's `runs`)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the latest unfinished run of this config."),
    baseline: str | None = typer.Option(None, help="Gate against this run id ('none': no baseline)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Answer every question with the pipeline, judge with Ragas, score retrieval, write the report.

    Exit code: 0 pass, 1 regression (one line per failing metric), 2 error, 130 interrupted."""
    setup_environment(debug)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from eval.config import load_eval_config
    from eval.journal import latest_unfinished
    from eval.prepare import ingest_corpus
    from eval.runner import RunHooks, run_evaluation
    from ingest.progress import RichProgress
    from rag.errors import ConfigError, RagError

    console = Console(stderr=True)
    try:
        overrides = {key: value for key, value in {"dataset.limit": limit, "runs": out}.items() if value is not None}
        if baseline:
            overrides["gate.baseline"] = baseline
        cfg = load_eval_config(config, **{k: str(v) if isinstance(v, Path) else v for k, v in overrides.items()})
        resume_dir = None
        if resume:
            resume_dir = latest_unfinished(Path(cfg.runs), cfg.name)
            if resume_dir is None:
                raise ConfigError(f"nothing to resume: every run of {cfg.name!r} in {cfg.runs}/ is complete")
            console.print(f"resuming {resume_dir}")

        def ingest_with_progress(corpus: Path, settings, embedder) -> None:
            console.print(f"ingesting {corpus} into {settings.store.path} (only what changed)")
            with RichProgress(console, enabled=True) as progress:
                ingest_corpus(corpus, settings, embedder, progress)

        with Progress(
            TextColumn("{task.description:14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as bar:
            tasks: dict[str, int] = {}

            def on_plan(samples: int, calls: int) -> None:
                console.print(
                    f"{samples} sample(s) to score; about {calls} judge calls "
                    f"({', '.join(cfg.metrics)}; cached calls are free)"
                )
                tasks["samples"] = bar.add_task("samples", total=samples)
                tasks["judge"] = bar.add_task("judge calls", total=calls)

            hooks = RunHooks(
                on_plan=on_plan,
                on_sample=lambda result: bar.advance(tasks["samples"]),
                on_judge_call=lambda: bar.advance(tasks["judge"]),
            )
            outcome = run_evaluation(cfg, resume=resume_dir, hooks=hooks, on_ingest=ingest_with_progress)
    except RagError as exc:
        fail(console, exc, debug)
    results = outcome.results
    typer.echo((outcome.run_dir / "report.md").read_text(encoding="utf-8"))
    if outcome.exit_code == 130:
        console.print(f"[yellow]interrupted[/]: partial report in {outcome.run_dir}; continue with --resume")
    elif outcome.exit_code == 2:
        console.print(f"[red]error:[/] {results['error']}")
    elif outcome.exit_code == 1:
        for failure in results["gate"]["failures"]:
            console.print(f"[red]regression:[/] {failure}")
    console.print(f"report: {outcome.run_dir / 'report.html'}")
    raise typer.Exit(outcome.exit_code)


@app.command()
def generate(
    paths: list[Path] = typer.Argument(..., help="Folders or files to write questions about."),
    out: Path = typer.Option(..., "--out", "-o", help="The QA JSONL to write (dataset: jsonl in an eval config)."),
    count: int = typer.Option(100, "--count", "-n", help="Questions planned (fewer are kept: the filters)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Pipeline YAML: its LLM writes the questions."),
    work: Path = typer.Option(Path(".rag/eval/generate"), help="The store the documents are chunked into."),
    seed: int = typer.Option(13, help="The plan's seed (a rerun with the same seed resumes)."),
    kinds: str = typer.Option("", help="The kinds' mix, e.g. fact=0.5,number=0.5 (default: eval.generate.SHARES)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Write questions with reference answers from documents, keep those the filters pass, print their counts."""
    setup_environment(debug)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from eval.generate import CALLS_PER_ITEM, parse_shares
    from eval.generate import generate as write_set
    from ingest.progress import RichProgress
    from ingest.run import ingest
    from rag.config import load_config
    from rag.embeddings import build_embedder
    from rag.errors import ConfigError, RagError
    from rag.llms import build_llm
    from rag.stores import build_store

    console = Console(stderr=True)
    try:
        missing = [str(path) for path in paths if not path.exists()]
        if missing:
            raise ConfigError(f"no such file or folder: {', '.join(missing)}")
        shares = parse_shares(kinds)
        settings = load_config(config)
        settings.store.path = str(work / "chroma")
        settings.store.collection = "generate"
        embedder = build_embedder(settings.embedding)
        console.print(f"chunking {', '.join(map(str, paths))} into {work} (only what changed)")
        with RichProgress(console, enabled=True) as progress:
            report = ingest(list(paths), settings, embedder=embedder, progress=progress)
        store = build_store(settings.store, embedder.name, embedder.dimension)
        sources = {f.source for f in report.files if f.status not in ("failed", "removed")}
        # the work store may hold files of earlier runs: questions come from the files named here only
        chunks = [chunk for chunk in store.get() if chunk.metadata.get("source") in sources]
        store.close()
        console.print(
            f"{count} questions planned from {len(chunks)} chunks: about {count * CALLS_PER_ITEM} calls to "
            f"{settings.llm.model} (write, then answer from the gold chunks); resumable"
        )
        llm = build_llm(settings.llm)
        with Progress(TextColumn("questions"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console) as bar:  # fmt: skip
            task = bar.add_task("questions", total=count)
            summary = write_set(
                chunks, llm, out, count, seed, lambda done, total: bar.update(task, completed=done), embedder, shares
            )
    except RagError as exc:
        fail(console, exc, debug)
    counts = summary.as_dict()
    typer.echo(json.dumps(counts, indent=2))
    console.print(f"{counts['kept']} question(s) in {out}; review them in the app's Evaluation tab")


@app.command()
def compare(
    run_a: str = typer.Argument(..., help="The earlier run: folder, results.json, or run id."),
    run_b: str = typer.Argument(..., help="The later run."),
    runs: Path = typer.Option(Path("runs"), help="Where run ids are looked up."),
    top: int = typer.Option(5, help="Questions that changed most to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Per-metric deltas (B - A) on the paired questions, with 95% bootstrap CIs."""
    setup_environment(False)
    from rich.console import Console

    from eval.compare import compare as compare_runs
    from eval.compare import load_results, markdown
    from rag.errors import RagError

    console = Console(stderr=True)
    try:
        a, b = load_results(run_a, runs), load_results(run_b, runs)
    except RagError as exc:
        fail(console, exc, False)
    deltas, moved = compare_runs(a, b, top)
    if as_json:
        payload = {
            "a": a["run_id"],
            "b": b["run_id"],
            "metrics": [{**vars(d), "delta": d.delta, "significant": d.significant} for d in deltas],
            "changed_most": moved,
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(markdown(a, b, deltas, moved))


if __name__ == "__main__":
    app(prog_name="python -m eval")
