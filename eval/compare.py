"""Comparing runs: paired bootstrap confidence intervals per metric, and the questions that moved most."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError


def bootstrap_ci(values: list[float], resamples: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (a single value gives a zero-width interval)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    if data.size == 1:
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return (float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail)))


@dataclass
class MetricDelta:
    metric: str
    paired: int  # samples scored in both runs
    mean_a: float
    mean_b: float
    ci_low: float  # of the mean paired difference b - a
    ci_high: float

    @property
    def delta(self) -> float:
        return self.mean_b - self.mean_a

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def load_results(reference: str | Path, runs: str | Path = "runs") -> dict[str, Any]:
    """A run's results.json from its folder, the file itself, or a run id under `runs`."""
    path = Path(reference)
    candidates = [path / "results.json", path, Path(runs) / str(reference) / "results.json"]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                raise ConfigError(f"{candidate} is not valid JSON (an interrupted write?)") from None
    raise ConfigError(f"no run {reference!r}: give a run folder, its results.json, or a run id under {runs}/")


def compare(a: dict[str, Any], b: dict[str, Any], top: int = 5) -> tuple[list[MetricDelta], list[dict[str, Any]]]:
    """(per-metric deltas b - a with 95% CIs, the `top` questions whose scores changed most)."""
    samples_a = {s["id"]: s for s in a["samples"]}
    samples_b = {s["id"]: s for s in b["samples"]}
    common = [sid for sid in samples_a if sid in samples_b]
    metrics = [m for m in a.get("metrics", []) if m in b.get("metrics", [])]
    deltas = []
    for metric in metrics:
        pairs = [(samples_a[sid]["scores"].get(metric), samples_b[sid]["scores"].get(metric)) for sid in common]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        if not pairs:
            continue
        diffs = [y - x for x, y in pairs]
        low, high = bootstrap_ci(diffs)
        deltas.append(
            MetricDelta(
                metric=metric,
                paired=len(pairs),
                mean_a=float(np.mean([x for x, _ in pairs])),
                mean_b=float(np.mean([y for _, y in pairs])),
                ci_low=low,
                ci_high=high,
            )
        )
    moved = []
    for sid in common:
        changes = {}
        for metric in metrics:
            x, y = samples_a[sid]["scores"].get(metric), samples_b[sid]["scores"].get(metric)
            if x is not None and y is not None and x != y:
                changes[metric] = round(y - x, 4)
        if changes:
            moved.append({"id": sid, "question": samples_a[sid]["question"], "changes": changes})
    moved.sort(key=lambda item: -sum(abs(v) for v in item["changes"].values()))
    return deltas, moved[:top]


def markdown(a: dict[str, Any], b: dict[str, Any], deltas: list[MetricDelta], moved: list[dict[str, Any]]) -> str:
    lines = [
        f"**{a['run_id']}** → **{b['run_id']}** (paired samples; 95% bootstrap CI of the mean difference)",
        "",
        "| metric | A | B | Δ | 95% CI | n | |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in deltas:
        mark = ("▲" if d.delta > 0 else "▼") if d.significant else "≈"
        lines.append(
            f"| {d.metric} | {d.mean_a:.4f} | {d.mean_b:.4f} | {d.delta:+.4f} | "
            f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}] | {d.paired} | {mark} |"
        )
    if moved:
        lines += ["", "Questions that changed most:", ""]
        for item in moved:
            changes = ", ".join(f"{k} {v:+.2f}" for k, v in item["changes"].items())
            lines.append(f"- `{item['id']}` {item['question'][:90]} — {changes}")
    return "\n".join(lines) + "\n"
