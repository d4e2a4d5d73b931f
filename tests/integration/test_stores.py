"""One store test-suite, run against Chroma, Milvus Lite, a real Milvus server and a real Neo4j server."""

import numpy as np
import pytest

from rag.documents import Chunk
from rag.errors import StoreMismatchError
from rag.stores import build_store, store_options

MODEL = "test-model"


def unit(*values):
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


CHUNKS = [
    Chunk("a1", "alpha one", {"source": "a.txt", "page": 1, "chunk_index": 0}),
    Chunk("a2", "alpha two", {"source": "a.txt", "page": 2, "chunk_index": 1}),
    Chunk("b1", "beta one", {"source": "b.pdf", "page": 1, "chunk_index": 0}),
]
VECTORS = np.vstack([unit(1, 0, 0, 0), unit(1, 1, 0, 0), unit(0, 0, 1, 0)])


@pytest.fixture(params=["chroma", "milvus-lite", pytest.param("milvus-server", marks=pytest.mark.slow), "neo4j"])
def store_config(request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a server store keeps its side indexes under ./.rag
    if request.param == "neo4j":
        uri = request.getfixturevalue("neo4j_server")
        collection = f"t_{abs(hash(request.node.name)) % 10**8}"
        return store_options(dict(kind="neo4j", uri=uri, collection=collection, state=str(tmp_path)))
    if request.param == "chroma":
        return store_options(dict(kind="chroma", path=str(tmp_path / "chroma"), collection="unit_test"))
    if request.param == "milvus-lite":
        return store_options(dict(kind="milvus", path=str(tmp_path / "lite.db"), collection="unit_test"))
    uri = request.getfixturevalue("milvus_server")
    return store_options(dict(kind="milvus", uri=uri, collection=f"t_{abs(hash(request.node.name)) % 10**8}"))


@pytest.fixture
def store(store_config):
    store = build_store(store_config, MODEL, 4)
    store.upsert(CHUNKS, VECTORS)
    yield store
    store.close()


def test_search_ranks_by_cosine_similarity(store):
    hits = store.search(unit(1, 0.1, 0, 0), k=3)
    assert [h.id for h in hits] == ["a1", "a2", "b1"]
    assert hits[0].score == pytest.approx(float(unit(1, 0.1, 0, 0) @ VECTORS[0]), abs=1e-4)
    assert hits[0].text == "alpha one"
    assert hits[0].metadata["source"] == "a.txt"
    assert hits[0].metadata["page"] == 1


def test_search_with_metadata_filter(store):
    assert [h.id for h in store.search(unit(1, 0, 0, 0), k=3, filter={"source": "b.pdf"})] == ["b1"]
    assert [h.id for h in store.search(unit(1, 0, 0, 0), k=3, filter={"source": "a.txt", "page": 2})] == ["a2"]
    assert {h.id for h in store.search(unit(1, 0, 0, 0), k=3, filter={"page": [2, 1]})} == {"a1", "a2", "b1"}


def test_count_get_and_upsert_is_idempotent(store):
    assert store.count() == 3
    store.upsert(CHUNKS, VECTORS)  # same ids again: replaced, not duplicated
    assert store.count() == 3
    [row] = store.get(["a2"], include_vectors=True)
    assert row.text == "alpha two"
    assert np.allclose(row.vector, VECTORS[1], atol=1e-6)
    assert {row.id for row in store.get()} == {"a1", "a2", "b1"}
    assert store.get(["missing"]) == []


def test_delete_by_ids_and_by_source(store):
    store.delete(ids=["a2"])
    assert store.count() == 2
    store.delete(source="a.txt")
    assert [row.id for row in store.get()] == ["b1"]
    store.delete(ids=["not-there"])  # deleting what is absent is not an error
    assert store.count() == 1


def test_store_refuses_another_embedding_model(store, store_config):
    store.close()
    with pytest.raises(StoreMismatchError, match="built with embedding model test-model"):
        build_store(store_config, "other-model", 4)
    with pytest.raises(StoreMismatchError, match=r"\(4 dims\)"):
        build_store(store_config, MODEL, 8)
    reopened = build_store(store_config, MODEL, 4)  # the same model opens fine and sees the data
    assert reopened.count() == 3
    reopened.close()


def test_get_all_returns_each_chunks_own_metadata(store):
    """Milvus Lite's filtered query once paired rows with other rows' JSON metadata; every row must be its own."""
    rng = np.random.default_rng(0)
    many = [
        Chunk(
            f"{i * 7919 % 1000:03d}x",  # ids not in insertion order
            f"text {i}",
            {"source": f"s{i % 7}.txt", "n": i, **({"page": i} if i % 3 else {"section": "long " * (i % 11)})},
        )
        for i in range(60)
    ]
    store.upsert(many, rng.normal(size=(60, 4)).astype(np.float32))
    rows = {row.id: row for row in store.get()}
    assert len(rows) == 63
    for i in range(60):
        row = rows[f"{i * 7919 % 1000:03d}x"]
        assert (row.text, row.metadata["n"], row.metadata["source"]) == (f"text {i}", i, f"s{i % 7}.txt")


def test_a_restricted_reader_gets_k_allowed_chunks_from_the_store_s_own_filter(store_config):
    """rag/stores/restricted.py: the access condition is part of the store's query (k allowed hits, not k minus the
    forbidden ones), a caller's own `access` filter can only narrow it, and reads by id drop what it forbids."""
    from rag.stores.restricted import ACCESS_FIELD, Restriction, restrict

    store = build_store(store_config, MODEL, 4)
    try:
        # the six nearest chunks to the query belong to "hr"; the reader (eng) may see the three after them
        chunks, vectors = [], []
        for i, key in enumerate(["hr"] * 6 + ["eng", "*", "eng,hr"]):
            chunks.append(Chunk(f"c{i}", f"text {i}", {"source": f"d{i}.txt", "chunk_index": 0, ACCESS_FIELD: key}))
            vectors.append(unit(1, 0.05 * i, 0, 0))
        store.upsert(chunks, np.vstack(vectors))
        reader = Restriction.of({"eng"}, ["hr", "eng", "eng,hr"])
        assert reader is not None and set(reader.keys) == {"*", "eng", "eng,hr"}
        view = restrict(store, reader)
        assert [h.id for h in view.search(unit(1, 0, 0, 0), k=3)] == ["c6", "c7", "c8"]  # the widened search
        rare = Restriction.of({"eng"}, ["hr", "eng", "eng,hr"], chunks={"hr": 990, "eng": 5, "*": 5})
        assert rare is not None and rare.share == pytest.approx(0.01)  # too rare to widen: the store's filter
        assert [h.id for h in restrict(store, rare).search(unit(1, 0, 0, 0), k=3)] == ["c6", "c7", "c8"]
        assert [h.id for h in view.search(unit(1, 0, 0, 0), k=2, filter={"source": "d7.txt"})] == ["c7"]
        assert [h.id for h in view.search(unit(1, 0, 0, 0), k=3, filter={ACCESS_FIELD: ["hr", "*"]})] == ["c7"]
        assert view.search(unit(1, 0, 0, 0), k=3, filter={ACCESS_FIELD: "hr"}) == []  # narrowing to nothing
        assert {c.id for c in view.get()} == {"c6", "c7", "c8"}
        assert view.get(["c0", "c6"])[0].id == "c6" and len(view.get(["c0", "c6"])) == 1
        assert Restriction.of({"eng", "hr"}, ["hr", "eng", "eng,hr"]) is None  # sees everything: no filter at all
        assert Restriction.of(set(), ["hr"], admin=True) is None
        if hasattr(store, "related"):  # the graph view: expansion never reaches a forbidden chunk
            assert view.driver is None  # no Cypher over the whole graph for a restricted reader
            assert all(reader.allows(hit.metadata) for hit, _, _ in view.related(["c6", "c0"], hops=1, limit=10))
    finally:
        store.close()
