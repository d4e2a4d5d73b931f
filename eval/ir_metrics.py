"""IR metrics (nDCG@10, recall@k, MRR@10) computed by ir-measures (pytrec_eval), and latency percentiles.

Retrievers return chunks; a document's rank is the rank of its best chunk (MaxP).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rag.documents import Hit

MEASURES = {"ndcg@10": "nDCG@10", "recall@10": "R@10", "recall@100": "R@100", "mrr@10": "RR@10"}


def documents_ranked(hits: Iterable[Hit], id_key: str = "record_id", limit: int = 100) -> list[str]:
    """Chunk hits → distinct document ids in the order of their first (best) chunk."""
    seen: dict[str, None] = {}
    for hit in hits:
        doc = str(hit.metadata.get(id_key, hit.id))
        if doc not in seen:
            seen[doc] = None
            if len(seen) == limit:
                break
    return list(seen)


def evaluate(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean of each measure over the judged queries; a query with no result counts as 0."""
    scores = per_query(run, qrels)
    return {name: sum(values[q] for q in qrels) / len(qrels) for name, values in scores.items()}


def per_query(
    run: dict[str, list[str]], qrels: dict[str, dict[str, int]], measures: dict[str, str] | None = None
) -> dict[str, dict[str, float]]:
    """{measure: {query id: value}} for every judged query (0 where the run has no result)."""
    import ir_measures

    measures = measures or MEASURES
    scored = [
        ir_measures.ScoredDoc(query_id, doc_id, float(len(ranking) - position))
        for query_id, ranking in run.items()
        for position, doc_id in enumerate(ranking)
    ]
    judged = [ir_measures.Qrel(q, d, rel) for q, docs in qrels.items() for d, rel in docs.items()]
    parsed = {name: ir_measures.parse_measure(spec) for name, spec in measures.items()}
    by_measure = {measure: name for name, measure in parsed.items()}
    values: dict[str, dict[str, float]] = {name: dict.fromkeys(qrels, 0.0) for name in parsed}
    # pytrec_eval leaves out queries without results; they score 0, not "missing".
    for metric in ir_measures.iter_calc(list(parsed.values()), judged, scored):
        values[by_measure[metric.measure]][metric.query_id] = metric.value
    return values


def percentiles(latencies_s: list[float]) -> dict[str, float]:
    values = np.asarray(latencies_s) * 1000
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}
