"""bm25s's score matrix built from parts shared between documents, with sparse algebra instead of a loop per token.

The keyword index scores each chunk with its neighbours' text (a context window), so every chunk's tokens are in
up to five windows. bm25s's own ``index`` maps every token of every window to its id and counts each window's
terms in Python (~0.9 s of SciFact's 1.1 s build, ~5 M tokens). Here each distinct part (a chunk's text, its tail,
a header) is counted once, a window's term counts are the sum of its parts' (one sparse product), and the BM25
weights are bm25s's own idf and tf formulas applied to all entries at once. The result is a ``bm25s.BM25`` as its
``index`` leaves it (scores, vocabulary with the empty token, search and save unchanged); the test compares it
with bm25s's own, weight for weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Variants whose score needs no weight for absent terms (bm25l and bm25+ do): these are built here.
SUMMED_METHODS = ("robertson", "lucene", "atire")


def index_from_parts(matrix: Any, parts: list[list[str]], documents: list[list[int]]) -> None:
    """Index ``documents`` into the empty ``bm25s.BM25`` `matrix`: document *i* is the concatenation of the token
    lists ``parts[j]`` for *j* in ``documents[i]`` (a part may be in many documents)."""
    import scipy.sparse as sp
    from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer

    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(token, len(vocab)) for token in tokens] for tokens in parts]
    lengths = np.fromiter((len(tokens) for tokens in ids), dtype=np.int64, count=len(ids))
    part_rows = np.repeat(np.arange(len(ids)), lengths)
    flat = np.fromiter((i for tokens in ids for i in tokens), dtype=np.int64, count=int(lengths.sum()))
    terms = sp.csr_matrix((np.ones(len(flat), dtype=np.float64), (part_rows, flat)), shape=(len(ids), len(vocab)))
    sizes = np.fromiter((len(doc) for doc in documents), dtype=np.int64, count=len(documents))
    doc_rows = np.repeat(np.arange(len(documents)), sizes)
    members = np.fromiter((j for doc in documents for j in doc), dtype=np.int64, count=int(sizes.sum()))
    plan = sp.csr_matrix((np.ones(len(members)), (doc_rows, members)), shape=(len(documents), len(ids)))
    counts = (plan @ terms).tocoo()  # term frequency per (document, term)
    doc_len = plan @ lengths.astype(np.float64)
    avg_len = doc_len.mean() if len(documents) else 0.0
    frequencies = np.bincount(counts.col, minlength=len(vocab))
    idf_of = _select_idf_scorer(matrix.idf_method)
    idf = np.array([idf_of(int(df), len(documents)) for df in frequencies], dtype=matrix.dtype)
    tf = counts.data.astype(matrix.dtype)
    weight = _select_tfc_scorer(matrix.method)(tf, doc_len[counts.row], avg_len, matrix.k1, matrix.b, matrix.delta)
    scores = sp.csc_matrix(
        (idf[counts.col] * weight.astype(matrix.dtype), (counts.row, counts.col)),
        shape=(len(documents), len(vocab)),
        dtype=matrix.dtype,
    )
    vocab.setdefault("", len(vocab))  # bm25s's empty token, so a query of unknown words scores nothing
    matrix.scores = {"data": scores.data, "indices": scores.indices, "indptr": scores.indptr,
                     "num_docs": len(documents)}  # fmt: skip
    matrix.vocab_dict = vocab
    matrix.unique_token_ids_set = set(vocab.values())
    matrix.nonoccurrence_array = None
