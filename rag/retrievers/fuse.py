"""Rank fusion: reciprocal rank fusion and weighted (min-max normalised) score fusion."""

from __future__ import annotations

from collections.abc import Sequence

from rag.documents import Hit


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], k: int = 60) -> list[Hit]:
    """Cormack et al. (2009): score(d) = Σ 1 / (k + rank_i(d)), ranks from 1; ties keep first-seen order."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (k + rank)
            first.setdefault(hit.id, hit)
    return _ranked(scores, first)


def weighted_fusion(rankings: Sequence[Sequence[Hit]], weights: Sequence[float]) -> list[Hit]:
    """Σ w_i · minmax_i(score): each list's scores scaled to [0, 1]; a hit missing from a list gets 0 there."""
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        values = [hit.score for hit in ranking]
        low, high = min(values), max(values)
        span = high - low
        for hit in ranking:
            normalised = (hit.score - low) / span if span > 0 else 1.0
            scores[hit.id] = scores.get(hit.id, 0.0) + weight * normalised
            first.setdefault(hit.id, hit)
    return _ranked(scores, first)


def _ranked(scores: dict[str, float], first: dict[str, Hit]) -> list[Hit]:
    order = sorted(scores, key=lambda hit_id: scores[hit_id], reverse=True)  # stable: first-seen wins ties
    return [Hit(id=i, text=first[i].text, metadata=first[i].metadata, score=scores[i]) for i in order]
