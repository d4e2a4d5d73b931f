"""Self-query on a real store (Chroma, the examples) with the real local model: filters over real fields only."""

import pytest

from ingest.run import ingest
from rag.graph.self_query import SelfQuery, SelfQueryError, describe_fields
from rag.retrievers import build_retriever
from rag.stores import build_store

from ..conftest import EXAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def examples(tmp_path_factory, embedder):
    from rag.config import Settings

    settings = Settings(store={"path": str(tmp_path_factory.mktemp("selfq") / "chroma"), "collection": "selfq"})
    ingest([EXAMPLES], settings, embedder=embedder)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    yield settings, store
    store.close()


def test_fields_are_read_from_the_store(examples):
    _, store = examples
    fields = describe_fields(store)
    assert {"source", "file_type", "title"} <= set(fields)
    assert set(fields["file_type"].examples) >= {"pdf", "csv", "md"} and fields["file_type"].type == "string"
    assert fields["page"].type == "integer"
    assert not {"chunk_hash", "file_hash", "ingested_at", "start"} & set(fields)  # bookkeeping is no filter


def test_validation_refuses_unknown_fields_and_wrong_types(examples):
    _, store = examples
    parser = SelfQuery(llm=None, fields=describe_fields(store))
    assert parser.validate({"file_type": "pdf", "page": "1"}) == {"file_type": "pdf", "page": 1}
    assert parser.validate({"file_type": ["pdf", "csv"]}) == {"file_type": ["pdf", "csv"]}
    with pytest.raises(SelfQueryError, match="unknown metadata field 'colour'"):
        parser.validate({"colour": "red"})
    with pytest.raises(SelfQueryError, match="not a valid integer"):
        parser.validate({"page": "first"})
    schema = parser.schema()["properties"]["filter"]
    assert schema["additionalProperties"] is False and "colour" not in schema["properties"]


def test_the_local_model_writes_a_valid_filter_and_it_narrows_the_search(examples, embedder, default_llm):
    settings, store = examples
    retriever_cfg = settings.retriever.model_copy(update={"strategy": "self_query", "base": "dense"})
    retriever = build_retriever(
        settings.model_copy(update={"retriever": retriever_cfg}), embedder=embedder, store=store, llm=default_llm
    )
    hits, trace = retriever.run("In the CSV file, which team won the Stanley Cup?", k=3)
    step = trace["self_query"]
    assert "error" not in step, step
    assert step["filter"].get("file_type") in ("csv", ["csv"]), step
    assert hits and {h.metadata["file_type"] for h in hits} == {"csv"}
