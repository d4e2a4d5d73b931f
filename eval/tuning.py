"""Tune the hybrid retriever's fusion on one split (train), to be reported on another (test).

Every signal (dense, BM25, SPLADE) is searched once per query; the lists are then fused under each
weighting of a grid (and each normalisation depth, and RRF), which costs no further search: the fused ranking
depends only on the top ``norm_depth`` hits of each list (deeper hits normalise to 0). The weighting with
the best nDCG@10 wins; ties go to the earlier (simpler) grid point.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eval.beir import BeirDataset
from eval.ir_metrics import documents_ranked, evaluate
from rag.documents import Hit

NORM_DEPTHS = (25, 50, 100)


@dataclass
class Trial:
    fusion: str
    weights: dict[str, float]
    norm_depth: int
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fusion": self.fusion,
            "weights": self.weights,
            "candidates": self.norm_depth,
            **{key: round(value, 4) for key, value in self.metrics.items()},
        }

    def label(self) -> str:
        shares = ", ".join(f"{name} {weight:g}" for name, weight in self.weights.items())
        return f"{self.fusion} ({shares}), candidates {self.norm_depth}"


def weight_grid(signals: list[str], step: float = 0.1) -> list[dict[str, float]]:
    """Every weighting of `signals` on the simplex in `step`s, dense always > 0 (it carries the texts)."""
    units = round(1 / step)
    grid = []
    for parts in itertools.product(range(units + 1), repeat=len(signals)):
        if sum(parts) == units and parts[signals.index("dense")] > 0:
            grid.append({name: round(part * step, 4) for name, part in zip(signals, parts, strict=True)})
    return grid


def signal_runs(
    hybrid: Any,
    dataset: BeirDataset,
    query_ids: list[str],
    depth: int = max(NORM_DEPTHS),
    on_query: Callable[[], None] | None = None,
) -> dict[str, dict[str, list[Hit]]]:
    """{query id: {signal: hits}} for every signal the hybrid retriever has."""
    lists = {}
    for query_id in query_ids:
        lists[query_id] = hybrid.signal_lists(dataset.queries[query_id], depth, every=True)
        if on_query:
            on_query()
    return lists


def tune(
    hybrid: Any,
    lists: dict[str, dict[str, list[Hit]]],
    dataset: BeirDataset,
    signals: list[str],
    step: float = 0.1,
    on_trial: Callable[[], None] | None = None,
) -> list[Trial]:
    """Every grid point scored on `dataset`'s qrels, best first."""
    qrels = {q: dataset.qrels[q] for q in lists}
    original = hybrid.fusion
    trials: list[Trial] = []
    points = [("weighted", weights, depth) for depth in NORM_DEPTHS for weights in weight_grid(signals, step)]
    points += [("confidence", weights, depth) for depth in NORM_DEPTHS for weights in weight_grid(signals, step)]
    points += [("rrf", weights, max(NORM_DEPTHS)) for weights in weight_grid(signals, step)]
    try:
        for fusion, weights, depth in points:
            hybrid.fusion = fusion
            run = {
                query_id: documents_ranked(hybrid.fuse(per_signal, weights, 10**9, norm_depth=depth), limit=100)
                for query_id, per_signal in lists.items()
            }
            trials.append(Trial(fusion, weights, depth, evaluate(run, qrels)))
            if on_trial:
                on_trial()
    finally:
        hybrid.fusion = original
    return sorted(trials, key=lambda trial: -trial.metrics["ndcg@10"])  # stable: the earlier point wins ties


def grid_size(signals: list[str], step: float = 0.1) -> int:
    return len(weight_grid(signals, step)) * (2 * len(NORM_DEPTHS) + 1)


def chosen_retriever_section(trial: Trial) -> dict[str, Any]:
    """The `retriever:` overrides that reproduce a trial (what to put in a config)."""
    return {"candidates": trial.norm_depth, "hybrid": {"fusion": trial.fusion, "weights": trial.weights}}


def markdown_trials(trials: list[Trial], split: str, top: int = 10) -> str:
    lines = [f"| fusion on {split} (best first) | nDCG@10 | R@10 | MRR@10 |", "|---|---|---|---|"]
    for trial in trials[:top]:
        m = trial.metrics
        lines.append(f"| {trial.label()} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | {m['mrr@10']:.4f} |")
    return "\n".join(lines) + "\n"
