"""The outcome of one ingest run: per-file statuses, counts, timing; as a table or JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["new", "changed", "unchanged", "removed", "failed", "recovered"]
STATUSES: tuple[Status, ...] = ("new", "changed", "unchanged", "removed", "failed")

# Exit codes of `python -m ingest` (documented in README and --help).
EXIT_OK, EXIT_FILES_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class FileOutcome:
    source: str
    status: Status
    chunks: int = 0
    reason: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name (reason)": symbolic links not followed
    recovered: list[str] = field(default_factory=list)
    chunks_written: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    interrupted: bool = False
    store: str = ""
    manifest: str = ""

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(outcome.status for outcome in self.files)
        return {status: counted.get(status, 0) for status in STATUSES}

    @property
    def failed(self) -> list[FileOutcome]:
        return [outcome for outcome in self.files if outcome.status == "failed"]

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_written / self.seconds if self.seconds else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FILES_FAILED if self.failed or self.missing else EXIT_OK

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(counts=self.counts, chunks_per_second=round(self.chunks_per_second, 2), exit_code=self.exit_code)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def render(report: IngestReport, console) -> None:
    """The summary table (and the failures) on a rich console."""
    from rich.table import Table

    title = "Ingest (dry run: nothing written)" if report.dry_run else "Ingest summary"
    table = Table(title=title, show_header=True, header_style="bold")
    for column in ("new", "changed", "unchanged", "removed", "failed", "chunks written", "time", "chunks/s"):
        table.add_column(column, justify="right")
    counts = report.counts
    table.add_row(
        *(str(counts[s]) for s in STATUSES),
        str(report.chunks_written),
        f"{report.seconds:.1f} s",
        f"{report.chunks_per_second:.1f}",
    )
    console.print(table)
    if report.dry_run:
        for outcome in report.files:
            if outcome.status in ("new", "changed", "removed"):
                console.print(
                    f"  would ingest ({outcome.status}): {outcome.source}"
                    if outcome.status != "removed"
                    else f"  would remove: {outcome.source}"
                )
    if report.recovered:
        console.print(
            f"[yellow]recovered {len(report.recovered)} source(s) left half-written by an "
            f"interrupted run: {', '.join(report.recovered)}[/]"
        )
    if report.chunks_reused:
        console.print(
            f"reused {report.chunks_reused} vector(s) of unchanged or repeated text; embedded {report.chunks_embedded}"
        )
    for outcome in report.files:
        for warning in outcome.warnings:
            console.print(f"[yellow]warning[/] {outcome.source}: {warning}")
    for outcome in report.failed:
        console.print(f"[red]failed[/] {outcome.source}: {outcome.reason}")
    for missing in report.missing:
        console.print(f"[red]not found[/] {missing}")
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/] {skipped}")
    if report.unsupported:
        shown = ", ".join(report.unsupported[:10]) + (" …" if len(report.unsupported) > 10 else "")
        console.print(f"[dim]skipped {len(report.unsupported)} file(s) of unsupported type: {shown}[/]")
    if report.interrupted:
        console.print("[yellow]interrupted: finished files are saved; run again to continue[/]")
