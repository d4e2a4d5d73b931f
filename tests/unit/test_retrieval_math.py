"""Rank fusion, MMR and the IR metrics against hand-computed values."""

import math

import numpy as np
import pytest

from eval.ir_metrics import documents_ranked, evaluate, percentiles
from eval.retrieval import chunk_depth
from rag.documents import Hit
from rag.retrievers import maximal_marginal_relevance, reciprocal_rank_fusion, weighted_fusion


def hits(*pairs):
    return [Hit(id=i, text=f"text of {i}", metadata={"record_id": i[0]}, score=s) for i, s in pairs]


def test_rrf_matches_hand_computed_scores():
    fused = reciprocal_rank_fusion([hits(("a", 0.9), ("b", 0.5), ("c", 0.1)), hits(("b", 10), ("d", 2))], k=60)
    assert [h.id for h in fused] == ["b", "a", "d", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)
    assert fused[2].score == pytest.approx(1 / 62)
    assert fused[3].score == pytest.approx(1 / 63)


def test_rrf_k_changes_the_weight_of_top_ranks():
    # k=1: a first place in one list (1/2) beats third + fourth places (1/4 + 1/5); k=60 turns that round.
    rankings = [hits(("x", 1), ("a", 0.6), ("y", 0.5)), hits(("z", 1), ("w", 0.9), ("b", 0.5), ("y", 0.1))]
    assert reciprocal_rank_fusion(rankings, k=1)[0].id == "x"
    assert reciprocal_rank_fusion(rankings, k=60)[0].id == "y"


def test_weighted_fusion_min_max_normalises_each_list():
    fused = weighted_fusion([hits(("a", 0.9), ("b", 0.5), ("c", 0.1)), hits(("b", 10), ("d", 2))], [0.5, 0.5])
    assert [h.id for h in fused] == ["b", "a", "c", "d"]  # c and d tie at 0: first seen first
    assert [round(h.score, 6) for h in fused] == [0.75, 0.5, 0.0, 0.0]
    dense_only = weighted_fusion([hits(("a", 0.9), ("b", 0.5)), hits(("b", 10), ("d", 2))], [1.0, 0.0])
    assert [h.id for h in dense_only][:2] == ["a", "b"]


def test_weighted_fusion_top_does_not_depend_on_how_deep_the_lists_go():
    dense = hits(("a", 0.9), ("b", 0.8), ("c", 0.5), ("d", 0.1))
    keyword = hits(("b", 9.0), ("e", 5.0), ("a", 1.0), ("f", 0.5))
    shallow = weighted_fusion([dense[:3], keyword[:3]], [0.5, 0.5], norm_depth=3)
    deep = weighted_fusion([dense, keyword], [0.5, 0.5], norm_depth=3)
    assert [h.id for h in deep[:3]] == [h.id for h in shallow[:3]] == ["b", "a", "e"]
    assert [h.score for h in deep[:3]] == pytest.approx([h.score for h in shallow[:3]])
    by_id = {h.id: h.score for h in deep}
    # d and f lie below the window's minimum in their list: 0 there, as if missing
    assert by_id["d"] == by_id["f"] == 0.0
    assert [h.id for h in deep][3:] == ["c", "d", "f"]  # the tail keeps first-seen order


def test_weighted_fusion_keeps_the_text_of_the_first_list():
    dense = hits(("a", 0.9))
    keyword = [Hit(id="a", text="", metadata={}, score=3.0), Hit(id="k", text="", metadata={}, score=1.0)]
    fused = weighted_fusion([dense, keyword], [0.5, 0.5])
    assert fused[0].id == "a" and fused[0].text == "text of a"
    assert fused[1].text == ""  # filled from the store by the hybrid retriever


def test_mmr_trades_relevance_for_diversity():
    query = np.array([1.0, 0.0])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # the second is a duplicate of the first
    relevance = [1.0, 0.99, 0.5]
    assert maximal_marginal_relevance(query, vectors, relevance, 3, lambda_=1.0) == [0, 1, 2]
    assert maximal_marginal_relevance(query, vectors, relevance, 3, lambda_=0.3) == [0, 2, 1]
    assert maximal_marginal_relevance(query, vectors, relevance, 2, lambda_=0.3) == [0, 2]
    assert maximal_marginal_relevance(query, vectors, [], 2) == []


def test_ir_metrics_match_hand_computed_values():
    qrels = {"q1": {"d1": 1, "d3": 1}, "q2": {"d5": 1}}
    run = {"q1": ["d2", "d1", "d3"], "q2": []}
    metrics = evaluate(run, qrels)
    ndcg_q1 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics["ndcg@10"] == pytest.approx(ndcg_q1 / 2, abs=1e-4)  # q2 has no results: 0
    assert metrics["mrr@10"] == pytest.approx(0.25)
    assert metrics["recall@10"] == pytest.approx(0.5)
    assert metrics["recall@100"] == pytest.approx(0.5)


def test_recall_at_10_ignores_hits_below_rank_10():
    qrels = {"q": {"relevant": 1}}
    run = {"q": [f"d{i}" for i in range(10)] + ["relevant"]}
    metrics = evaluate(run, qrels)
    assert metrics["recall@10"] == 0.0 and metrics["recall@100"] == 1.0
    assert metrics["mrr@10"] == 0.0
    assert metrics["ndcg@10"] == 0.0


def test_chunks_collapse_to_documents_by_their_best_chunk():
    chunk_hits = hits(("a1", 0.9), ("b1", 0.8), ("a2", 0.7), ("c1", 0.6))
    assert documents_ranked(chunk_hits) == ["a", "b", "c"]
    assert documents_ranked(chunk_hits, limit=2) == ["a", "b"]


def test_chunk_depth_scales_with_chunks_per_document():
    assert chunk_depth(5000, 5000) == 125
    assert chunk_depth(15000, 5000) == 375
    assert chunk_depth(10**6, 10) == 1000  # capped


def test_percentiles_in_milliseconds():
    result = percentiles([0.001, 0.002, 0.003, 0.004, 0.100])
    assert result["p50_ms"] == pytest.approx(3.0)
    assert result["p95_ms"] > 50


def test_weighted_rrf_scales_each_list():
    fused = reciprocal_rank_fusion([hits(("a", 1), ("b", 0.5)), hits(("b", 1), ("a", 0.5))], k=60, weights=[3.0, 1.0])
    assert [h.id for h in fused] == ["a", "b"]
    assert fused[0].score == pytest.approx(3 / 61 + 1 / 62)
    assert fused[1].score == pytest.approx(3 / 62 + 1 / 61)


def test_weight_grid_covers_the_simplex_with_dense_always_in():
    from eval.tuning import grid_size, weight_grid

    two = weight_grid(["dense", "bm25"])
    assert len(two) == 10 and {"dense": 1.0, "bm25": 0.0} in two and {"dense": 0.0, "bm25": 1.0} not in two
    three = weight_grid(["dense", "bm25", "sparse"])
    assert len(three) == 55 and all(abs(sum(w.values()) - 1) < 1e-9 and w["dense"] > 0 for w in three)
    assert grid_size(["dense", "bm25"]) == 10 * 7  # weighted and confidence at three normalisation depths, RRF


def test_confidence_fusion_leans_on_the_list_whose_first_hits_stand_out():
    """A BM25 list with one clear winner and a flat dense list: the query's shares move towards BM25; two flat lists
    keep the configured shares."""
    from rag.retrievers.fuse import confident_shares, score_gap
    from rag.retrievers.hybrid import HybridRetriever

    flat = hits(*((f"d{i}", 0.80 - i * 0.002) for i in range(10)))
    sharp = hits(("d9", 12.0), *((f"d{i}", 3.0 - i * 0.1) for i in range(9)))
    assert score_gap(flat) == pytest.approx((0.80 - 0.782) / 0.80)
    assert score_gap(sharp) == pytest.approx((12.0 - 2.2) / 12.0)
    shares = confident_shares({"dense": flat, "bm25": sharp}, {"dense": 0.6, "bm25": 0.4})
    assert shares["bm25"] > 0.95 and sum(shares.values()) == pytest.approx(1.0)
    assert confident_shares({"dense": flat[:1], "bm25": []}, {"dense": 0.6, "bm25": 0.4}) == {"dense": 0.6, "bm25": 0.4}
    hybrid = HybridRetriever.model_construct(fusion="confidence", candidates=50, rrf_k=60, weights=None, alpha=0.6)
    fused = hybrid.fuse({"dense": flat, "bm25": sharp}, {"dense": 0.6, "bm25": 0.4}, 3)
    assert fused[0].id == "d9"  # the keyword winner, last in the dense list, comes first
    hybrid.fusion = "weighted"
    assert hybrid.fuse({"dense": flat, "bm25": sharp}, {"dense": 0.6, "bm25": 0.4}, 3)[0].id == "d0"


def test_tuning_picks_the_weighting_that_ranks_the_judged_documents_first():
    """Two signals that disagree: the qrels favour what the second one ranks first, so the tuner leans on it."""
    from types import SimpleNamespace

    from eval.tuning import tune
    from rag.retrievers.hybrid import HybridRetriever

    dense = [Hit(id=f"d{i}", text="", metadata={"record_id": f"doc{i}"}, score=1 - i / 10) for i in range(5)]
    bm25 = [Hit(id=f"d{4 - i}", text="", metadata={"record_id": f"doc{4 - i}"}, score=10 - i) for i in range(5)]
    lists = {f"q{n}": {"dense": dense, "bm25": bm25} for n in range(3)}
    dataset = SimpleNamespace(qrels={f"q{n}": {"doc4": 1} for n in range(3)})
    hybrid = HybridRetriever.model_construct(fusion="weighted", candidates=50, rrf_k=60, weights=None, alpha=0.5)
    trials = tune(hybrid, lists, dataset, ["dense", "bm25"])
    best = trials[0]
    assert best.weights["bm25"] > best.weights["dense"] and best.metrics["ndcg@10"] == pytest.approx(1.0)
    assert trials[-1].metrics["ndcg@10"] < 1.0 and hybrid.fusion == "weighted"  # restored after the grid
