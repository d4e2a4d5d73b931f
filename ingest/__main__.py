"""`python -m ingest PATH [PATH ...]`: load, split, embed and store documents, incrementally."""

from __future__ import annotations

from pathlib import Path

import typer

from rag.console import fail, setup_environment

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich")

EPILOG = (
    "Exit codes: 0 all files ingested (or unchanged); 1 some files failed or were not found (the rest "
    "were ingested); 2 configuration or store error, nothing done; 130 interrupted (finished files saved)."
)


@app.command(epilog=EPILOG)
def main(
    paths: list[Path] = typer.Argument(..., help="Files or folders (walked recursively)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would change; write nothing."),
    prune: bool = typer.Option(True, "--prune/--no-prune", help="Remove chunks of files that disappeared."),
    report_path: Path | None = typer.Option(None, "--report", help="Also write the summary as JSON here."),
    engine: str | None = typer.Option(
        None, "--engine", help="local (threads in this process) or ray (a local Ray cluster, or ingest.ray.address)."
    ),
    kb: str | None = typer.Option(
        None,
        "--kb",
        help="Into this knowledge base (python -m rag kb create NAME first); default: the configured store",
    ),
    groups: str | None = typer.Option(
        None,
        "--groups",
        help="Only these groups (comma-separated) may read these files, within the knowledge base; '*': everyone. "
        "Kept on later runs without --groups, unless an ingest.acl rule matches the file.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Ingest documents (PDF, HTML, Markdown, text, DOCX, JSON/JSONL, CSV) into the configured store."""
    setup_environment(debug)
    from rich.console import Console

    from ingest.pipeline import extraction_estimate
    from ingest.progress import RichProgress
    from ingest.report import render
    from ingest.run import ingest
    from rag.config import knowledge_base_names, knowledge_base_settings, load_config
    from rag.errors import ConfigError, RagError

    console = Console(stderr=True)
    try:
        settings = load_config(config)
        if kb:
            if kb not in knowledge_base_names(settings):
                raise ConfigError(f"no knowledge base {kb!r}: create it with `python -m rag kb create {kb}`")
            settings = knowledge_base_settings(settings, kb)
        if engine:
            if engine not in ("local", "ray"):
                raise ConfigError(f"--engine must be local or ray, not {engine!r}")
            settings.ingest.engine = engine  # type: ignore[assignment]
        with RichProgress(console, enabled=not quiet and not dry_run) as progress:

            def plan(jobs):
                estimate = extraction_estimate(jobs, settings)
                if estimate and not dry_run:
                    console.print(f"[yellow]{estimate}[/]")
                progress.plan(jobs, settings.ingest.entities.extractor)

            given = [g for g in groups.split(",") if g.strip()] if groups is not None else None
            if given is not None and not given:
                raise ConfigError("--groups needs at least one group name, or '*' for everyone")
            if given and given != ["*"]:
                from rag.stores.restricted import access_key

                access_key(given)  # a bad name stops the run before any file is read
            report = ingest(
                list(paths),
                settings,
                dry_run=dry_run,
                prune=prune,
                progress=progress,
                on_plan=plan,
                access=(lambda file: given) if given is not None else None,
            )
    except RagError as exc:
        fail(console, exc, debug)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished files are saved; run again to continue[/]")
        raise typer.Exit(130) from None
    render(report, console)
    if report_path:
        report_path.write_text(report.to_json(), encoding="utf-8")
    raise typer.Exit(report.exit_code)


if __name__ == "__main__":
    app(prog_name="python -m ingest")
