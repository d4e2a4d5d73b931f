"""The Neo4j graph store against a real Neo4j 5 server: schema, the chunk graph's shape, full-text search."""

import shutil

import numpy as np
import pytest

from ingest.run import ingest
from rag.stores import base_store, build_store

from ..conftest import EXAMPLES

pytestmark = pytest.mark.slow


def graph(store, cypher, **params):
    records, _, _ = store.driver.execute_query(cypher, database_=store.database, **params)
    return [record.data() for record in records]


@pytest.fixture
def ingested(tmp_path, settings_for, embedder):
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLES, docs)
    settings = settings_for("neo4j")
    ingest([docs], settings, embedder=embedder)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    yield docs, settings, base_store(store)
    store.close()


def shape(store):
    """Per document: its chunks' indexes in NEXT order, and whether that order is chunk_index order."""
    chunk, document = store.chunk_label, store.document_label
    rows = graph(
        store,
        f"MATCH (d:{document})-[:HAS_CHUNK]->(c:{chunk}) WHERE NOT ()-[:NEXT]->(c) "
        "MATCH path = (c)-[:NEXT*0..]->(last) WHERE NOT (last)-[:NEXT]->() "
        "RETURN d.source AS source, c.record AS record, [n IN nodes(path) | n.chunk_index] AS order",
    )
    chains = {(row["source"], row["record"]): row["order"] for row in rows}
    assert len(chains) == len(rows)  # one chain per document, or per record of a JSON/CSV file
    return chains


def test_every_document_is_one_next_chain_in_reading_order(ingested, embedder):
    _, _, store = ingested
    chains = shape(store)
    assert len({source for source, _ in chains}) == 9
    assert all(record is None for source, record in chains if not source.endswith((".jsonl", ".csv")))
    assert len([source for source, _ in chains if source.endswith(".jsonl")]) > 1  # records: chains of their own
    for order in chains.values():
        assert order == sorted(order)
    total = graph(store, f"MATCH (c:{store.chunk_label}) RETURN count(c) AS n")[0]["n"]
    assert sum(len(order) for order in chains.values()) == total == store.count()


def test_editing_a_file_keeps_the_graph_whole(ingested, settings_for, embedder):
    docs, settings, store = ingested
    manual = docs / "aurora-e-bike-manual.md"
    manual.write_text(manual.read_text().replace("## Maintenance", "## Care\n\nWipe the frame.\n\n## Maintenance"))
    (docs / "northwind-support-faq.txt").unlink()
    report = ingest([docs], settings, embedder=embedder)
    assert report.counts["changed"] == 1 and report.counts["removed"] == 1
    chains = shape(store)
    sources = {source for source, _ in chains}
    assert "docs/northwind-support-faq.txt" not in sources and len(sources) == 8
    assert all(order == sorted(order) for order in chains.values())
    assert sum(map(len, chains.values())) == store.count()
    orphans = graph(store, f"MATCH (d:{store.document_label}) WHERE NOT (d)-[:HAS_CHUNK]->() RETURN count(d) AS n")
    assert orphans[0]["n"] == 0


def test_schema_is_idempotent_and_exact(ingested, embedder):
    _, settings, store = ingested
    before = graph(store, "SHOW INDEXES YIELD name, state RETURN name, state ORDER BY name")
    again = build_store(settings.store, embedder.name, embedder.dimension)  # creating again changes nothing
    again.close()
    after = graph(store, "SHOW INDEXES YIELD name, state RETURN name, state ORDER BY name")
    assert before == after and all(row["state"] == "ONLINE" for row in after)
    [vector] = graph(
        store, "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options", name=store.vector_index
    )
    assert vector["options"]["indexConfig"]["vector.quantization.enabled"] is False
    # Unquantised: every chunk's own vector finds itself first with similarity 1.
    rows = store.get(include_vectors=True)
    for row in rows[:10]:
        top = store.search(row.vector, k=1)[0]
        assert top.id == row.id and top.score == pytest.approx(1.0, abs=1e-5)


def test_full_text_search_and_filters(ingested, embedder):
    _, _, store = ingested
    hits = store.keyword_search("warranty claim: frame number?", k=3)  # Lucene syntax in a question is escaped
    assert hits and "warranty" in hits[0].text.lower()
    query = embedder.embed_query("battery range")
    only_faq = store.search(query, k=5, filter={"source": "docs/northwind-support-faq.txt"})
    assert only_faq and {h.metadata["source"] for h in only_faq} == {"docs/northwind-support-faq.txt"}
    scores = [h.score for h in only_faq]
    assert scores == sorted(scores, reverse=True)
    # Exact under the filter: the same scores as the unfiltered index search gives those chunks.
    everything = {h.id: h.score for h in store.search(query, k=store.count())}
    assert len(everything) == store.count()
    faq_ids = {row.id for row in store.get() if row.metadata["source"] == "docs/northwind-support-faq.txt"}
    expected = sorted((everything[i] for i in faq_ids), reverse=True)[:5]
    assert np.allclose(scores, expected, atol=1e-5)
