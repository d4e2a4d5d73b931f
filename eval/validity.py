"""Does a generated test set judge systems as human questions do? Score the same retrieval configurations on a
human set and a generated set over one corpus, and compare the two orderings of the configurations with Kendall's
τ, per metric, with a bootstrap interval (queries resampled within each set).

A generated sample's relevant documents are the records of its gold chunks (``metadata.chunk_ids`` → the chunks'
``record_id``), the same unit the human qrels judge; "not in the documents" samples have none and are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from eval.beir import BeirDataset


@dataclass
class Agreement:
    measure: str
    tau: float
    low: float
    high: float
    configs: int


def generated_dataset(path: Path, store: Any, name: str = "generated") -> BeirDataset:
    """The generated JSONL as a BEIR dataset over the store it was generated from (rejected samples left out)."""
    samples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    dataset = BeirDataset(name=name, root=path.parent, split="generated")
    for sample in samples:
        meta = sample.get("metadata") or {}
        if meta.get("kind") == "unanswerable" or (meta.get("reviewed") or {}).get("state") == "rejected":
            continue
        records = {str(c.metadata.get("record_id", c.id)) for c in store.get(meta.get("chunk_ids") or [])}
        if records:
            dataset.queries[sample["id"]] = sample["question"]
            dataset.qrels[sample["id"]] = dict.fromkeys(records, 1)
    return dataset


def agreement(
    human: dict[str, dict[str, dict[str, float]]],
    generated: dict[str, dict[str, dict[str, float]]],
    measure: str,
    rounds: int = 1000,
    seed: int = 13,
) -> Agreement:
    """Kendall's τ between the configurations' mean `measure` on the two sets ({config: {measure: {query: value}}}),
    and its 95 % bootstrap interval."""
    configs = sorted(set(human) & set(generated))
    h = np.array([[human[c][measure][q] for q in sorted(human[configs[0]][measure])] for c in configs])
    g = np.array([[generated[c][measure][q] for q in sorted(generated[configs[0]][measure])] for c in configs])
    tau = float(kendalltau(h.mean(axis=1), g.mean(axis=1)).statistic)
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(rounds):
        hs = h[:, rng.integers(0, h.shape[1], h.shape[1])].mean(axis=1)
        gs = g[:, rng.integers(0, g.shape[1], g.shape[1])].mean(axis=1)
        taus.append(float(kendalltau(hs, gs).statistic))
    # τ is undefined (NaN) when one set scores every configuration alike (a set too easy to rank anything); the
    # interval is then over the rounds where it is defined, and NaN when there are none
    defined = [value for value in taus if not np.isnan(value)]
    low, high = np.percentile(defined, [2.5, 97.5]) if defined else (float("nan"), float("nan"))
    return Agreement(measure, tau, float(low), float(high), len(configs))
