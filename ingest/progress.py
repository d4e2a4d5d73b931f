"""A rich progress display for ingest: one bar over files, a counter of chunks written."""

from __future__ import annotations

from ingest.pipeline import Job, Progress


class RichProgress(Progress):
    def __init__(self, console, enabled: bool = True):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichBar

        self.enabled = enabled
        self._bar = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self._files = None
        self._chunks = None
        self._entities = None
        self._pages = None

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)

    def plan(self, jobs: list[Job], extraction: str = "none") -> None:
        self._files = self._bar.add_task("files", total=len(jobs))
        self._chunks = self._bar.add_task("chunks written", total=None)
        if extraction != "none":
            self._entities = self._bar.add_task(f"entities ({extraction})", total=None)

    def file_done(self, source: str) -> None:
        if self._files is not None:
            self._bar.advance(self._files)

    def chunks_done(self, count: int) -> None:
        if self._chunks is not None:
            self._bar.advance(self._chunks, count)

    def pages_done(self, source: str, done: int, total: int) -> None:
        if self._pages is None:
            self._pages = self._bar.add_task("pages", total=total)
        self._bar.update(self._pages, description=f"pages of {source}", completed=done, total=total)

    def entities_done(self, count: int) -> None:
        if self._entities is not None:
            self._bar.advance(self._entities, count)
