"""LangChain's own standard test suites (`langchain-tests`, pinned in the dev extra) against what we hand to
LangChain: ``retriever.as_langchain()`` over a real Chroma store of examples/docs, and ``as_chat_model()`` over the
packaged SmolLM2-135M in its own llama.cpp process. Tests that do not apply are skipped with the reason (a
property of the suite set to False, or an override below); everything else runs as LangChain runs it for its own
integrations."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests, RetrieversIntegrationTests

from ingest.run import ingest
from rag.config import Settings
from rag.embeddings.onnx import OnnxEmbedder
from rag.integrations.langchain import LangChainRetriever, RagChatModel
from rag.retrievers import build_retriever
from rag.stores import build_store

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"


@functools.cache
def _our_retriever(root: str):
    """Hybrid search over examples/docs (ingested once per test module into a temporary folder)."""
    embedder = OnnxEmbedder("all-minilm-l6-v2-q")
    settings = Settings(store={"path": f"{root}/chroma", "collection": "langchain_standard"})
    assert ingest([EXAMPLES], settings, embedder=embedder).exit_code == 0
    store = build_store(settings.store, embedder.name, embedder.dimension)
    return build_retriever(settings, embedder=embedder, store=store)


@pytest.fixture(scope="module", autouse=True)
def _store_root(tmp_path_factory):
    TestRetrieverStandard.root = str(tmp_path_factory.mktemp("langchain-standard"))


def as_langchain(k: int = 4):
    """What a user writes: ``build_retriever(...).as_langchain()``, with ``k`` set on it."""
    adapter = _our_retriever(TestRetrieverStandard.root).as_langchain()
    adapter.k = k
    return adapter


class TestRetrieverStandard(RetrieversIntegrationTests):
    root = ""

    @property
    def retriever_constructor(self) -> type[LangChainRetriever]:
        return as_langchain  # type: ignore[return-value]  # the suite calls it with k=…

    @property
    def retriever_constructor_params(self) -> dict:
        return {"k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "How long does the e-bike battery last?"


def test_invoke_honours_k_and_filter_per_call():
    retriever = as_langchain(k=4)
    assert len(retriever.invoke("Where is IBM headquartered?", k=2)) == 2
    only = retriever.invoke("battery", k=3, filter={"source": "docs/northwind-support-faq.txt"})
    assert only and {doc.metadata["source"] for doc in only} == {"docs/northwind-support-faq.txt"}
    assert len(retriever.invoke("Where is IBM headquartered?")) == 4  # the per-call k did not stick
    with pytest.raises(TypeError, match="takes k and filter"):
        retriever.invoke("battery", top_n=2)


@functools.cache
def _smollm():
    from rag.llms.local import LocalLLM
    from rag.packaged import models

    models.pull("smollm2-135m-instruct-q4_1", download=False)
    llm = LocalLLM("smollm2-135m-instruct-q4_1", n_ctx=2048, temperature=0.0)
    llm.warm_up()
    return llm


class TestChatModelStandard(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[RagChatModel]:
        return RagChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"backend": _smollm()}

    @property
    def has_tool_calling(self) -> bool:
        return False  # our backends answer in text; the RAG's tools are served over MCP, not bound to the model

    @property
    def has_structured_output(self) -> bool:
        return False  # JSON output is LLM.complete_json (grammar-constrained), not LangChain's with_structured_output

    @property
    def supports_model_override(self) -> bool:
        return False  # one backend is one model (process); as_chat_model(build_llm(...)) for another

    @property
    def returns_usage_metadata(self) -> bool:
        return True


def test_a_stop_sequence_ends_a_stream_before_it_is_shown():
    model = RagChatModel(backend=_smollm(), max_tokens=60, temperature=0)
    prompt = "Count from 1 to 10, separated by commas."
    whole = model.invoke(prompt).content
    assert "4" in whole and "5" in whole  # the model does count past 4
    pieces = [chunk.content for chunk in model.stream(prompt, stop=["5"])]
    streamed = "".join(pieces)
    assert "4" in streamed and "5" not in streamed and streamed == whole[: whole.index("5")]
    assert model.invoke(prompt, stop=["5"]).content == streamed


async def test_llamaindex_aretrieve_and_an_async_query_engine():
    from llama_index.core.query_engine import RetrieverQueryEngine

    from rag.integrations.llamaindex import as_llamaindex_llm

    ours = _our_retriever(TestRetrieverStandard.root)
    nodes = await ours.as_llamaindex().aretrieve("Where is IBM headquartered?")
    assert nodes and "Armonk" in " ".join(node.node.get_content() for node in nodes)
    engine = RetrieverQueryEngine.from_args(ours.as_llamaindex(), llm=as_llamaindex_llm(_smollm(), num_output=24))
    response = await engine.aquery("Where is IBM headquartered?")
    assert response.source_nodes and response.source_nodes[0].node.metadata["source"].startswith("docs/")
    assert str(response).strip()
