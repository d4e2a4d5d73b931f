"""Choosing defaults on several collections: the collections' halves, and the choice that no one set can win."""

import pytest

from eval import collections
from eval.beir import load_beir
from eval.multi_tune import Candidate, choose, objective, paired_bootstrap
from tests.conftest import SHARED


def test_cranfield_and_tatqa_split_into_disjoint_tuning_and_test_halves(tmp_path):
    cranfield = collections.prepare("cranfield", SHARED, tmp_path)
    tune, test = load_beir(cranfield, "tune"), load_beir(cranfield, "test")
    assert len(tune.queries) + len(test.queries) == 225 and not set(tune.queries) & set(test.queries)
    assert all(int(q) % 2 == 1 for q in tune.queries)
    tatqa = collections.prepare("tatqa", SHARED, tmp_path)
    tune, test = load_beir(tatqa, "tune"), load_beir(tatqa, "test")
    assert (len(tune.queries), len(test.queries)) == (1668, 1663)
    assert all(len(judged) == 1 for judged in tune.qrels.values())  # a question's own context
    corpus_ids = {line.split('"_id": "')[1].split('"')[0] for line in (tatqa / "corpus.jsonl").open()}
    assert len(corpus_ids) == 555 and {d for judged in test.qrels.values() for d in judged} <= corpus_ids
    assert collections.prepare("cranfield", SHARED, tmp_path) == cranfield  # written once, then reused
    with pytest.raises(Exception, match="unknown collection 'msmarco'"):
        collections.prepare("msmarco", SHARED, tmp_path)


def test_the_choice_is_the_best_mean_gain_among_fusions_that_beat_both_signals_everywhere():
    bm25, dense = Candidate("bm25", False), Candidate("dense", False)
    steady, spiky = Candidate("weighted", False, 0.5), Candidate("weighted", False, 0.7)
    table = {
        bm25: {"a": 0.50, "b": 0.40},
        dense: {"a": 0.55, "b": 0.30},
        Candidate("dense", True): {"a": 0.56, "b": 0.31},
        steady: {"a": 0.58, "b": 0.45},  # +0.065 mean, beats both signals on both sets
        spiky: {"a": 0.70, "b": 0.39},  # +0.095 mean, but below BM25 on b: not a default
    }
    assert objective(table[spiky], table[bm25]) == pytest.approx(0.095)
    assert choose(table) == [(steady, pytest.approx(0.065))]


def test_paired_bootstrap_interval_brackets_the_mean_difference():
    a = {f"q{i}": 0.6 + (i % 3) * 0.1 for i in range(60)}
    b = {f"q{i}": 0.6 for i in range(60)}
    mean, low, high = paired_bootstrap(a, b)
    assert mean == pytest.approx(0.1) and 0.05 < low < mean < high < 0.15
    same = paired_bootstrap(b, b)
    assert same == (0.0, 0.0, 0.0)
