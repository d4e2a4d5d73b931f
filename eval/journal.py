"""A run's folder and journal: one JSON line per finished sample, so a killed run resumes where it stopped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES_FILE = "samples.jsonl"


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


def latest_unfinished(runs: Path, name: str) -> Path | None:
    """The newest run folder of this name that did not complete (for --resume)."""
    candidates = sorted(p for p in runs.glob(f"*-{name}") if p.is_dir()) if runs.is_dir() else []
    for path in reversed(candidates):
        results = path / "results.json"
        status = json.loads(results.read_text(encoding="utf-8")).get("status") if results.is_file() else None
        if status != "complete":
            return path
    return None
