"""The entity graph on a real Neo4j server: extraction at ingest (fast and the local LLM), resolution, the cache,
and graph retrieval reaching a chunk that only shares an entity with its seed."""

import json

import pytest

from ingest.run import ingest
from rag.errors import ConfigError
from rag.graph.entities import ExtractionCache, FastExtractor, LLMExtractor, entity_key
from rag.retrievers import build_retriever
from rag.stores import base_store, build_store

from ..conftest import DOCUMENTS, EXAMPLES
from .test_neo4j import graph as cypher

pytestmark = pytest.mark.slow

PEOPLE = {
    "helios.md": "# Project Helios\n\nProject Helios, a solar drone programme, was led by Dr. Mara Lindqvist at the "
    "Tromsø lab. The drones flew for 40 hours on one charge.",
    "budget.md": "# Helios budget\n\nProject Helios cost 2.1 million euros in 2018, most of it for batteries and "
    "test flights over the Arctic; the budget for solar drone flights doubled.",
    "fjordwave.md": "# Fjordwave Robotics\n\nIn 2019 Mara Lindqvist founded Fjordwave Robotics, a company that builds "
    "underwater inspection robots for fish farms.",
    "unrelated.md": "# Harbour ferries\n\nThe harbour ferries run every twenty minutes and carry bicycles for free.",
    "drones.md": "# Solar drones\n\nSolar drone programmes in Norway test long flights; the project leads publish "
    "their flight hours every year.",
    "lab.md": "# The Tromsø lab\n\nThe lab in Tromsø tests drones and batteries in the cold; projects there are led "
    "by visiting researchers.",
    "bakery.md": "# Bakery hours\n\nThe bakery opens at seven and sells cinnamon buns until they run out.",
}


@pytest.fixture
def people(tmp_path, settings_for, embedder):
    folder = tmp_path / "people"
    folder.mkdir()
    for name, text in PEOPLE.items():
        (folder / name).write_text(text)
    settings = settings_for("neo4j", ingest={"entities": {"extractor": "fast"}}, retriever={"k": 2})
    report = ingest([folder], settings, embedder=embedder)
    assert report.exit_code == 0
    store = build_store(settings.store, embedder.name, embedder.dimension)
    yield settings, store
    store.close()


def test_fast_extraction_builds_a_resolved_entity_graph(people):
    _, store = people
    graph = base_store(store)
    mentions = cypher(
        graph,
        f"MATCH (c:{graph.chunk_label})-[:MENTIONS]->(e:{graph.entity_label}) "
        "RETURN e.key AS key, e.name AS name, collect(DISTINCT c.source) AS sources",
    )
    by_key = {row["key"]: row for row in mentions}
    # One node for the person across two documents (and the title "Dr." dropped), one for the project.
    assert sorted(by_key["mara lindqvist"]["sources"]) == ["people/fjordwave.md", "people/helios.md"]
    assert sorted(by_key["project helio"]["sources"]) == ["people/budget.md", "people/helios.md"]
    assert "fjordwave robotic" in by_key
    assert not any(key in by_key for key in ("the", "in", "dr"))  # sentence starts and titles are no entities


def test_graph_retrieval_reaches_a_chunk_that_only_shares_an_entity(people, embedder):
    settings, store = people
    question = "Who led Project Helios?"
    dense = build_retriever(
        settings.model_copy(update={"retriever": settings.retriever.model_copy(update={"strategy": "dense"})}),
        embedder=embedder,
        store=store,
    )
    assert "people/fjordwave.md" not in {h.metadata["source"] for h in dense.retrieve(question, k=3)}
    graph_settings = settings.retriever.model_copy(update={"strategy": "graph"}).with_section(
        "graph", seeds=1, base="dense"
    )
    graph = build_retriever(settings.model_copy(update={"retriever": graph_settings}), embedder=embedder, store=store)
    hits, trace = graph.run(question, k=3)
    assert hits[0].metadata["source"] == "people/helios.md"  # the seed stays first
    linked = {h.metadata["source"]: h.metadata.get("graph_via", "") for h in hits[1:]}
    assert "mara lindqvist" in linked["people/fjordwave.md"].lower()  # reached only through the shared person
    assert trace["graph"]["seeds"] == [hits[0].id]
    assert any("Mara Lindqvist" in item["via"] for item in trace["graph"]["linked"])
    # The same retriever from LangChain, and as the base other strategies run on.
    documents = graph.model_copy(update={"k": 3}).as_langchain().invoke(question)
    assert [d.metadata["source"] for d in documents][:1] == ["people/helios.md"]
    assert "people/fjordwave.md" in {d.metadata["source"] for d in documents}
    fused_cfg = graph_settings.model_copy(update={"strategy": "fusion", "base": "graph"})
    fused = build_retriever(
        settings.model_copy(update={"retriever": fused_cfg}), embedder=embedder, store=store, llm=object()
    )
    assert type(fused.base).__name__ == "GraphRetriever"


def test_re_ingest_keeps_one_node_per_entity_and_prunes_orphans(people):
    _, store = people
    graph = base_store(store)
    count = cypher(graph, f"MATCH (e:{graph.entity_label} {{key: 'mara lindqvist'}}) RETURN count(e) AS n")
    assert count[0]["n"] == 1
    graph.delete(source="people/fjordwave.md")
    orphan = cypher(graph, f"MATCH (e:{graph.entity_label} {{key: 'fjordwave robotic'}}) RETURN count(e) AS n")
    assert orphan[0]["n"] == 0  # mentioned only there: gone with it
    still = cypher(
        graph, f"MATCH (e:{graph.entity_label} {{key: 'mara lindqvist'}})<-[:MENTIONS]-(c) RETURN c.source AS s"
    )
    assert [row["s"] for row in still] == ["people/helios.md"]


def test_a_vector_store_refuses_entity_extraction_and_graph_retrieval(tmp_path, settings_for, embedder):
    settings = settings_for(ingest={"entities": {"extractor": "fast"}})
    (tmp_path / "a.md").write_text("# A\n\nMara Lindqvist founded Fjordwave Robotics.")
    with pytest.raises(ConfigError, match=r"store\.kind neo4j"):
        ingest([tmp_path / "a.md"], settings, embedder=embedder)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    graph = settings.retriever.model_copy(update={"strategy": "graph"})
    with pytest.raises(ConfigError, match="needs a graph store"):
        build_retriever(settings.model_copy(update={"retriever": graph}), embedder=embedder, store=store)
    store.close()


def test_fast_extraction_on_real_documents():
    texts = [
        (EXAMPLES / "northwind-press-release.md").read_text()[:1500],
        (DOCUMENTS / "markdown" / "docling_wiki.md").read_text()[:3000]
        if (DOCUMENTS / "markdown" / "docling_wiki.md").exists()
        else "",
    ]
    found = FastExtractor().extract([t for t in texts if t])
    assert any(e["key"] == "northwind cycle" for e in found[0].entities)
    for extraction in found:
        keys = [e["key"] for e in extraction.entities]
        assert len(keys) == len(set(keys)) and 0 < len(keys) <= 24  # resolved: no key twice
        assert all(entity_key(e["name"]) == e["key"] for e in extraction.entities)


def test_llm_extraction_with_the_local_model_and_its_cache(tmp_path, local_llm):
    """The packaged 0.5B, grammar-constrained: structure and resolution, not exact entities."""
    text = PEOPLE["fjordwave.md"]
    cache = ExtractionCache(tmp_path / "entities.sqlite", "llm|test")
    extractor = LLMExtractor(local_llm, max_tokens=300)
    [found] = extractor.extract([text])
    keys = [e["key"] for e in found.entities]
    assert keys and len(keys) == len(set(keys))
    assert any("lindqvist" in key or "fjordwave" in key for key in keys)
    for head, relation, tail in found.relations:
        assert head in keys and tail in keys and relation == relation.lower()
    cache.put("hash-1", found)
    again = cache.get("hash-1")
    assert again is not None and again.entities == found.entities
    assert json.loads(found.as_metadata()["entities"]) == found.entities


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n) DETACH DELETE n",
        "CREATE (:Entity {name: 'x'})",
        "MATCH (n) SET n.x = 1 RETURN n",
        "CALL dbms.components()",
        "CALL db.create.setNodeVectorProperty(null, 'embedding', [1.0])",
        "MATCH (n) RETURN n; MATCH (m) DELETE m",
        "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",
    ],
)
def test_text_to_cypher_refuses_anything_but_one_read(people, query):
    from rag.graph.cypher import CypherQA, CypherRefused

    _, store = people
    graph = base_store(store)
    before = cypher(graph, "MATCH (n) RETURN count(n) AS n")
    with pytest.raises(CypherRefused):
        CypherQA(graph, llm=None).run(query)
    assert cypher(graph, "MATCH (n) RETURN count(n) AS n") == before


def test_writes_are_refused_by_name_and_by_the_read_transaction(people):
    from neo4j.exceptions import ClientError

    from rag.graph.cypher import CypherQA, CypherRefused

    _, store = people
    graph = base_store(store)
    qa = CypherQA(graph, llm=None)
    sneaky = "MATCH (n) WITH n LIMIT 1 CALL (n) { MERGE (:Sneaky) } RETURN 1"
    with pytest.raises(CypherRefused):
        qa.run(sneaky)  # MERGE is caught by name; the planner would also say "rw"
    # And were a write to get past both, the read transaction it runs in is refused by the server:
    with graph.driver.session(database=graph.database) as session, pytest.raises(ClientError, match=r"(?i)write"):
        session.execute_read(lambda tx: tx.run("CREATE (:Sneaky)").consume())
    assert cypher(graph, "MATCH (n:Sneaky) RETURN count(n) AS n")[0]["n"] == 0


def test_text_to_cypher_answers_a_counting_question_with_the_local_model(people, default_llm):
    """The default 1.5B (the 0.5B did not write a query that matches entities by key, even after a repair)."""
    from rag.graph.cypher import CypherQA

    _, store = people
    qa = CypherQA(base_store(store), default_llm)
    assert "MENTIONS" in qa.schema() and "source" in qa.schema()
    result = qa.ask("How many documents mention Mara Lindqvist?")
    assert result.error is None, (result.cypher, result.error)
    assert result.rows == [{"documents": 2}] or [v for row in result.rows for v in row.values()] == [2], result
    assert result.attempts in (1, 2)
    assert "Graph query:" in result.as_context()
    listed = qa.ask("Which documents mention Project Helios?")
    assert sorted(listed.sources) == ["people/budget.md", "people/helios.md"], listed


def test_the_router_picks_cypher_graph_or_vector_and_the_answer_says_which(people, embedder, default_llm):
    from rag.answer.pipeline import RagPipeline

    settings, store = people
    routed = settings.model_copy(
        update={"retriever": settings.retriever.model_copy(update={"strategy": "router", "base": "dense", "k": 3})}
    )
    router = build_retriever(routed, embedder=embedder, store=store, llm=default_llm)
    assert router.route("How many documents mention Mara Lindqvist?")[0] == "cypher"
    assert router.route("What links Project Helios and Fjordwave Robotics?")[0] == "graph"
    assert router.route("How often do the harbour ferries run?")[0] == "vector"

    rag = RagPipeline(routed, embedder=embedder, llm=default_llm, store=store)
    answer = rag.ask("How many documents mention Mara Lindqvist?")
    assert answer.retrieval["route"]["route"] == "cypher", answer.retrieval
    assert answer.retrieval["cypher"]["error"] is None and answer.retrieval["cypher"]["rows"] >= 1
    assert answer.contexts[0].metadata["source"] == "graph query" and "Graph query:" in answer.contexts[0].text
    assert "2" in answer.text or "two" in answer.text.lower()


def test_text_to_cypher_stays_inside_its_collection(people, settings_for, embedder, tmp_path):
    """Two knowledge bases on one Neo4j server are two collections in one database: a query may only start from
    its own collection's labels (the planner's plan is read), so it cannot reach the other's nodes."""
    from rag.graph.cypher import CypherQA, CypherRefused

    _, store = people
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "secret.md").write_text("# Payroll\n\nThe payroll of Project Helios is kept by Ingrid Solberg.")
    other_settings = settings_for("neo4j", ingest={"entities": {"extractor": "fast"}})
    assert ingest([folder], other_settings, embedder=embedder).exit_code == 0
    other = base_store(build_store(other_settings.store, embedder.name, embedder.dimension))
    graph = base_store(store)
    qa = CypherQA(graph, llm=None)
    inside = [
        f"MATCH (c:`{graph.chunk_label}`) RETURN c.text AS text LIMIT 3",
        f"MATCH (c:`{graph.chunk_label}`)-[:MENTIONS]->(e:`{graph.entity_label}`) RETURN e.name AS name, count(c) AS n",
        f"MATCH (e:`{graph.entity_label}`) WHERE e.name CONTAINS 'Helios' RETURN e.name AS name",
    ]
    for query in inside:
        rows = qa.run(query)
        assert all("Ingrid" not in str(row) and "payroll" not in str(row).lower() for row in rows)
    assert qa.run(inside[0])
    outside = [
        "MATCH (n) RETURN n.text AS text",
        f"MATCH (c:`{other.chunk_label}`) RETURN c.text AS text",
        "MATCH ()-[:MENTIONS]->(e) RETURN e.name AS name",
        "MATCH (n) WHERE elementId(n) = '4:x:1' RETURN n",
        "CALL db.labels() YIELD label RETURN label",
        f"MATCH (c:`{graph.chunk_label}`) MATCH (x) RETURN x.text AS text",
    ]
    for query in outside:
        with pytest.raises(CypherRefused, match="must start from this collection's labels"):
            qa.run(query)
    other.close()
