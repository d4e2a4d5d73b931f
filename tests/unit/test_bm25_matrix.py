"""The keyword index's score matrix built from shared parts (rag/stores/bm25_matrix.py) equals bm25s's own."""

import numpy as np
import pytest

from ingest.loaders import load
from rag.config import LoaderConfig
from rag.stores.bm25_matrix import index_from_parts
from rag.stores.keyword import Tokenizer, load_bm25s


@pytest.fixture(scope="module")
def windows(documents_dir):
    """Parts (sentences of a real document, tokenized, plus a header) and windows of up to five parts around each
    sentence, the header first in every third — as the keyword index builds its context windows."""
    [document] = load(documents_dir / "txt/unstructured_norwich-city.txt", LoaderConfig())
    sentences = [s for s in document.text.split(". ") if s.strip()][:400]
    parts = Tokenizer()([*sentences, "Norwich City football club header"])
    header = len(parts) - 1
    plans = []
    for i in range(len(sentences)):
        plan = list(range(max(0, i - 2), min(len(sentences), i + 3)))
        plans.append([header, *plan] if i % 3 == 0 else plan)
    plans.append([])  # a window with no tokens at all
    return parts, plans


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire"])
def test_weights_equal_bm25s_indexing_the_stitched_windows(windows, method):
    bm25s = load_bm25s()
    parts, plans = windows
    theirs = bm25s.BM25(method=method, k1=1.2, b=0.75)
    theirs.index([[token for part in plan for token in parts[part]] for plan in plans], show_progress=False)
    ours = bm25s.BM25(method=method, k1=1.2, b=0.75)
    index_from_parts(ours, parts, plans)
    assert set(ours.vocab_dict) == set(theirs.vocab_dict) and "" in ours.vocab_dict
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == len(plans)
    assert len(ours.scores["data"]) == len(theirs.scores["data"]) > 5_000
    for token in sorted(set(theirs.vocab_dict) - {""}):  # every term's weight in every window
        expected = theirs.get_scores([token])
        assert np.allclose(ours.get_scores([token]), expected, rtol=1e-5, atol=1e-7), token
    query = parts[5][:4]
    assert np.argsort(-ours.get_scores(query))[:10].tolist() == np.argsort(-theirs.get_scores(query))[:10].tolist()
