"""The regression gate: absolute floors, largest drop against a baseline run, and NaN shares.

Exit codes of `python -m eval run`: 0 pass, 1 regression (one line per failing metric), 2 error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eval.config import GateConfig


@dataclass
class GateResult:
    passed: bool = True
    failures: list[str] = field(default_factory=list)
    baseline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failures": self.failures, "baseline": self.baseline}


def apply_gate(summary: dict[str, dict[str, Any]], gate: GateConfig, baseline: dict[str, Any] | None) -> GateResult:
    """Check a run's per-metric summary ({metric: {mean, n, nan}}) against the gate config."""
    result = GateResult(baseline=baseline["run_id"] if baseline else None)
    base_summary = (baseline or {}).get("summary", {})
    for metric in sorted(set(gate.min) | set(gate.max_drop) | set(summary)):
        stats = summary.get(metric)
        if stats is None:
            continue
        scored, nan = stats["n"], stats["nan"]
        if nan and nan > gate.max_nan_share * (scored + nan):
            result.failures.append(
                f"{metric}: NaN in {nan} of {scored + nan} samples (max_nan_share {gate.max_nan_share})"
            )
        mean = stats.get("mean")
        if mean is None:
            continue
        if metric in gate.min and mean < gate.min[metric]:
            result.failures.append(f"{metric}: {mean:.4f} is below the minimum {gate.min[metric]:.4f}")
        base = (base_summary.get(metric) or {}).get("mean")
        if metric in gate.max_drop and base is not None and base - mean > gate.max_drop[metric]:
            result.failures.append(
                f"{metric}: dropped {base - mean:.4f} ({base:.4f} → {mean:.4f}) against {result.baseline}, "
                f"more than max_drop {gate.max_drop[metric]:.4f}"
            )
    result.passed = not result.failures
    return result
