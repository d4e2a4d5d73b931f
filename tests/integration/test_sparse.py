"""SPLADE for real: the packaged SPLADE-tiny (from its PyPI wheel), the sparse index ingest keeps beside the store,
the sparse strategy, and hybrid fusion of three signals."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ingest.run import ingest, remove
from rag.documents import Chunk
from rag.embeddings.splade import SpladeEncoder
from rag.retrievers import HybridRetriever, SparseRetriever, build_retriever
from rag.stores import build_store
from rag.stores.sparse import SparseIndex
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def splade():
    encoder = SpladeEncoder("splade-tiny")
    encoder.warm_up()
    return encoder


def test_splade_weights_are_sparse_and_expand_the_text(splade):
    passage, other = splade.encode(
        ["A full charge of the Aurora battery takes about 4.5 hours.", "Ducks are waterfowl of the family Anatidae."]
    )
    assert passage.indices.dtype == np.int32 and np.all(np.diff(passage.indices) > 0)
    assert 10 < len(passage.indices) < 400 and np.all(passage.values > 0)  # of 30,522 word pieces
    terms = dict(splade.terms(passage, top=40))
    assert {"battery", "charge", "aurora"} <= set(terms)
    assert "charging" in terms or "charged" in terms or "batteries" in terms  # implied, not written: expansion
    query = splade.encode_query("how long does charging take")
    assert np.dot(_dense(query), _dense(passage)) > 3 * np.dot(_dense(query), _dense(other))


def _dense(vector, size=30522):
    out = np.zeros(size, np.float32)
    out[vector.indices] = vector.values
    return out


def test_one_text_gets_the_same_weights_alone_and_in_a_padded_batch(splade):
    texts = ["short text", "a much longer text about the battery of an electric bicycle and its charger " * 4]
    alone = splade.encode([texts[0]])[0]
    batched = splade.encode(texts)[0]
    assert np.array_equal(alone.indices, batched.indices)
    assert np.allclose(alone.values, batched.values, atol=1e-5)


def test_the_index_upserts_deletes_filters_and_pools_neighbours(tmp_path, splade):
    def chunk(i, text, source="a.md"):
        return Chunk(id=f"{source}:{i}", text=text, metadata={"source": source, "chunk_index": i})

    index = SparseIndex(tmp_path / "sparse.sqlite", splade, context=0)
    index.upsert(
        [
            chunk(0, "The Aurora e-bike has a 540 Wh battery."),
            chunk(1, "It takes 4.5 hours to charge."),
            chunk(0, "Ducks are waterfowl.", source="b.md"),
        ]
    )
    assert index.count() == 3
    hits = index.search("duck waterfowl", k=2)
    assert hits[0].id == "b.md:0" and hits[0].text == ""
    assert all(h.metadata["source"] == "a.md" for h in index.search("battery", k=5, filter={"source": "a.md"}))
    # "hours to charge" is in chunk 1 only; with a context of 1 chunk 0 (same document) shares its weights
    alone = {h.id: h.score for h in index.search("hours charge", k=5)}
    pooled_index = SparseIndex(tmp_path / "sparse.sqlite", splade, context=1)
    pooled = {h.id: h.score for h in pooled_index.search("hours charge", k=5)}
    assert pooled["a.md:1"] >= alone["a.md:1"] * 0.999  # a max never lowers a weight
    assert pooled.get("a.md:0", 0) > alone.get("a.md:0", 0)
    index.delete(source="b.md")
    assert index.count() == 2 and not pooled_index.search("duck waterfowl", k=5, filter={"source": "b.md"})


def test_ingest_keeps_the_sparse_index_in_step(tmp_path, settings_for, embedder):
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLES, docs)
    settings = settings_for(store={"sparse": {"enabled": True}})
    report = ingest([docs], settings, embedder=embedder)
    assert report.exit_code == 0
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        assert store.sparse.count() == store.count() == report.chunks_written
        retriever = build_retriever(
            settings.model_copy(update={"retriever": settings.retriever.model_copy(update={"strategy": "sparse"})}),
            embedder=embedder,
            store=store,
        )
        assert isinstance(retriever, SparseRetriever)
        hits, trace = retriever.run("How long does a full charge of the battery take?", k=3)
        assert hits[0].metadata["source"] == "docs/aurora-e-bike-manual.md" and "4.5 hours" in hits[0].text
        assert "battery" in trace["sparse_terms"]
    finally:
        store.close()
    (docs / "northwind-support-faq.txt").unlink()  # pruned: its chunks leave the sparse index too
    ingest([docs], settings, embedder=embedder)
    remove(["docs/aurora-e-bike-manual.md"], settings, embedder=embedder)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        assert store.sparse.count() == store.count()
        sources = {row.metadata["source"] for row in store.get()}
        assert "docs/northwind-support-faq.txt" not in sources and "docs/aurora-e-bike-manual.md" not in sources
        assert store.sparse.ids() == {row.id for row in store.get()}
    finally:
        store.close()


def test_hybrid_fuses_three_signals_and_a_store_without_the_index_is_filled(tmp_path, settings_for, embedder):
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLES, docs)
    settings = settings_for()  # ingested without SPLADE: the retriever fills the index from the store once
    assert ingest([docs], settings, embedder=embedder).exit_code == 0
    three = settings_for(
        store={"sparse": {"enabled": True}},
        retriever={"hybrid": {"weights": {"dense": 0.4, "bm25": 0.3, "sparse": 0.3}}},
    )
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        retriever = build_retriever(three, embedder=embedder, store=store)
        assert isinstance(retriever, HybridRetriever) and retriever.sparse is not None
        hits, trace = retriever.run("Where is Northwind Cycles based?", k=3)
        assert hits[0].metadata["source"] == "docs/northwind-support-faq.txt"
        assert {"dense", "bm25", "sparse", "fused"} <= set(trace["stages"][0])
        lists = retriever.signal_lists("Where is Northwind Cycles based?", 10, every=True)
        assert set(lists) == {"dense", "bm25", "sparse"} and all(lists.values())
        only_sparse = retriever.fuse(lists, {"dense": 0.0, "bm25": 0.0, "sparse": 1.0}, 3)
        assert [h.id for h in only_sparse] == [h.id for h in lists["sparse"][:3]]
    finally:
        store.close()
