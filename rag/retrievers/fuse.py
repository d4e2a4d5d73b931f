"""Rank fusion: reciprocal rank fusion and weighted (min-max normalised) score fusion."""

from __future__ import annotations

from collections.abc import Sequence

from rag.documents import Hit


def score_gap(hits: Sequence[Hit], at: int = 10) -> float:
    """How far a list's first hit stands out: (first − `at`-th score) / first; 0 for a list of one or none, or
    scores that are not positive. Scale-free, so a cosine list and a BM25 list compare."""
    if len(hits) < 2 or hits[0].score <= 0:
        return 0.0
    return max(0.0, (hits[0].score - hits[min(at, len(hits)) - 1].score) / hits[0].score)


def confident_shares(lists: dict[str, Sequence[Hit]], shares: dict[str, float]) -> dict[str, float]:
    """Each signal's share scaled by its list's score gap for this query, renormalised: a list whose first hits
    stand out (a keyword that names the answer, a query the embedding places well) weighs more. The shares stand
    when no list has a gap."""
    scaled = {name: share * score_gap(lists.get(name, ())) for name, share in shares.items()}
    total = sum(scaled.values())
    return {name: value / total for name, value in scaled.items()} if total > 0 else dict(shares)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hit]], k: int = 60, weights: Sequence[float] | None = None
) -> list[Hit]:
    """Cormack et al. (2009): score(d) = Σ w_i / (k + rank_i(d)), ranks from 1, w_i = 1 unless given; ties by id."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (k + rank)
            first.setdefault(hit.id, hit)
    return _ranked(scores, first)


def weighted_fusion(
    rankings: Sequence[Sequence[Hit]], weights: Sequence[float], norm_depth: int | None = None
) -> list[Hit]:
    """Σ w_i · minmax_i(score). Each list's scores are scaled to [0, 1] by the min and max of its first
    `norm_depth` hits (all when None); deeper hits and a hit missing from a list get 0 there, so the
    fused list is the same however deep the caller asked (deeper hits only add to its tail)."""
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    normalised: list[dict[str, float]] = []
    first: dict[str, Hit] = {}
    for ranking in rankings:
        values: dict[str, float] = {}
        if ranking:
            window = [hit.score for hit in ranking[:norm_depth]]
            low, high = min(window), max(window)
            span = high - low
            for hit in ranking:
                values.setdefault(hit.id, max(0.0, (hit.score - low) / span) if span > 0 else 1.0)
                first.setdefault(hit.id, hit)
        normalised.append(values)
    scores = {
        hit_id: sum(weight * values.get(hit_id, 0.0) for values, weight in zip(normalised, weights, strict=True))
        for hit_id in first
    }
    return _ranked(scores, first)


def _ranked(scores: dict[str, float], first: dict[str, Hit]) -> list[Hit]:
    order = sorted(scores, key=lambda hit_id: (-scores[hit_id], hit_id))  # ties by id: the same in any store
    return [Hit(id=i, text=first[i].text, metadata=first[i].metadata, score=scores[i]) for i in order]
