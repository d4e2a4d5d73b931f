"""Choose the retrieval default on several collections at once (``python -m eval retrieval --collections …``).

Each collection (eval/collections.py) is ingested once with the configured embedder; every signal is searched
once per query — dense without and with the model's query instruction, and BM25 — and each candidate fusion is
then scored from those lists, with no further search. Candidates: each signal alone; a weighted fusion for each
dense share α; RRF; and two kinds that adapt to the query — by its length (short keyword queries get their own
α) and by each signal's confidence (the gap between its first and tenth score). The objective is the **mean over
collections of the gain over that collection's own BM25** on the tuning splits, so no one set can win it; the
report gives every candidate on every set, and the chosen one against the current default on the test splits with
paired-bootstrap 95 % intervals.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eval.ir_metrics import documents_ranked, per_query
from rag.documents import Hit
from rag.retrievers.fuse import confident_shares

ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SHORT_WORDS = (4, 6, 8)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Candidate:
    kind: str  # dense | bm25 | weighted | rrf | length | confidence
    instruction: bool
    alpha: float = 0.0  # dense share (weighted, confidence; length: for long queries)
    alpha_short: float = 0.0  # length: dense share for queries of at most `short_words` words
    short_words: int = 0
    depth: int = 50  # the hits of each list that are normalised (weighted fusion)

    def label(self) -> str:
        dense = "dense+instr" if self.instruction else "dense"
        if self.kind == "bm25":
            return "BM25"
        if self.kind == "dense":
            return dense
        if self.kind == "rrf":
            return f"RRF ({dense}, BM25)"
        if self.kind == "length":
            return f"by length ({dense} {self.alpha_short:g} if ≤ {self.short_words} words, else {self.alpha:g})"
        if self.kind == "confidence":
            return f"by confidence ({dense} {self.alpha:g}, scaled by each list's score gap)"
        return f"weighted ({dense} {self.alpha:g}, BM25 {1 - self.alpha:g})"

    def shares(self, query: str, lists: dict[str, list[Hit]]) -> dict[str, float]:
        alpha = self.alpha
        if self.kind == "length":
            alpha = self.alpha_short if len(_WORD.findall(query)) <= self.short_words else self.alpha
        if self.kind == "confidence":  # what the hybrid retriever's fusion "confidence" does per query
            return confident_shares(lists, {"dense": alpha, "bm25": 1 - alpha})
        return {"dense": alpha, "bm25": 1 - alpha}


def candidates() -> list[Candidate]:
    found = [Candidate("bm25", False)]
    for instruction in (False, True):
        found.append(Candidate("dense", instruction))
        found.append(Candidate("rrf", instruction))
        found += [Candidate("weighted", instruction, alpha) for alpha in ALPHAS]
        found += [Candidate("confidence", instruction, alpha) for alpha in ALPHAS]
        found += [
            Candidate("length", instruction, alpha, short, words)
            for alpha in ALPHAS
            for short in ALPHAS
            for words in SHORT_WORDS
            if short != alpha
        ]
    return found


@dataclass
class SignalLists:
    """One collection split's searches: {query id: {"dense", "dense+instr", "bm25": hits}}, the queries and qrels."""

    collection: str
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    lists: dict[str, dict[str, list[Hit]]] = field(default_factory=dict)


def ranked(candidate: Candidate, hybrid: Any, signals: SignalLists) -> dict[str, list[str]]:
    """The run (query id → document ids) of `candidate` from the searched lists (`hybrid`'s fusion is restored)."""
    run, original = {}, hybrid.fusion
    for query_id, lists in signals.lists.items():
        dense = lists["dense+instr" if candidate.instruction else "dense"]
        if candidate.kind == "bm25":
            hits = lists["bm25"]
        elif candidate.kind == "dense":
            hits = dense
        else:
            both = {"dense": dense, "bm25": lists["bm25"]}
            hybrid.fusion = "rrf" if candidate.kind == "rrf" else "weighted"
            shares = (
                {"dense": 0.5, "bm25": 0.5}
                if candidate.kind == "rrf"
                else candidate.shares(signals.queries[query_id], both)
            )
            hits = hybrid.fuse(both, shares, 10**9, norm_depth=candidate.depth)
        run[query_id] = documents_ranked(hits, limit=100)
    hybrid.fusion = original
    return run


def ndcg_per_query(candidate: Candidate, hybrid: Any, signals: SignalLists) -> dict[str, float]:
    run = ranked(candidate, hybrid, signals)
    return per_query(run, {q: signals.qrels[q] for q in run}, {"ndcg@10": "nDCG@10"})["ndcg@10"]


def score_all(
    hybrid: Any, splits: list[SignalLists], on_candidate: Callable[[], None] | None = None
) -> dict[Candidate, dict[str, float]]:
    """{candidate: {collection: mean nDCG@10}} over the given splits."""
    table: dict[Candidate, dict[str, float]] = {}
    for candidate in candidates():
        table[candidate] = {
            s.collection: float(np.mean(list(ndcg_per_query(candidate, hybrid, s).values()))) for s in splits
        }
        if on_candidate:
            on_candidate()
    return table


def objective(scores: dict[str, float], bm25: dict[str, float]) -> float:
    """The mean over collections of the gain over each collection's own BM25."""
    return float(np.mean([scores[name] - bm25[name] for name in scores]))


def beats_both(table: dict[Candidate, dict[str, float]], candidate: Candidate) -> list[str]:
    """The collections where `candidate` does not beat both its dense signal and BM25 alone ([] = none)."""
    bm25, dense = table[Candidate("bm25", False)], table[Candidate("dense", candidate.instruction)]
    scores = table[candidate]
    return [name for name in scores if scores[name] <= max(dense[name], bm25[name])]


def choose(table: dict[Candidate, dict[str, float]]) -> list[tuple[Candidate, float]]:
    """Fusion candidates by the objective, best first; those that lose to dense or BM25 alone on any collection
    are left out (a default must beat both its signals everywhere)."""
    bm25 = table[Candidate("bm25", False)]
    ranked_candidates = [
        (candidate, objective(scores, bm25))
        for candidate, scores in table.items()
        if candidate.kind not in ("dense", "bm25") and not beats_both(table, candidate)
    ]
    return sorted(ranked_candidates, key=lambda pair: -pair[1])


def by_objective(table: dict[Candidate, dict[str, float]]) -> list[tuple[Candidate, float]]:
    """Every fusion candidate by the objective, best first (whether or not it beats both signals everywhere)."""
    bm25 = table[Candidate("bm25", False)]
    fusions = [(c, objective(s, bm25)) for c, s in table.items() if c.kind not in ("dense", "bm25")]
    return sorted(fusions, key=lambda pair: -pair[1])


def paired_bootstrap(
    a: dict[str, float], b: dict[str, float], rounds: int = 2000, seed: int = 7
) -> tuple[float, float, float]:
    """(mean of a − b, and its 95 % interval) over queries resampled with replacement."""
    queries = sorted(a)
    differences = np.array([a[q] - b[q] for q in queries])
    rng = random.Random(seed)
    means = []
    for _ in range(rounds):
        sample = [differences[rng.randrange(len(queries))] for _ in queries]
        means.append(float(np.mean(sample)))
    low, high = np.percentile(means, [2.5, 97.5])
    return float(differences.mean()), float(low), float(high)
