"""LLM-driven retrieval and the LangChain / LlamaIndex adapters with the real packaged model (Qwen 0.5B)."""

import pytest

from rag.retrievers import LLMReranker, MultiQueryRetriever, RerankRetriever, RewriteCache, build_retriever

from .test_retrievers import QUESTIONS, configured, corpus, first_source  # noqa: F401 (corpus is a fixture)

pytestmark = pytest.mark.slow

IBM = "Where is IBM headquartered?"


def test_multi_query_with_the_real_model(corpus, embedder, local_llm, tmp_path):  # noqa: F811
    settings, store, _ = corpus
    cfg = configured(settings, strategy="multi_query", base="hybrid", queries=3, cache=str(tmp_path / "c.sqlite"))
    retriever = build_retriever(cfg, embedder=embedder, store=store, llm=local_llm)
    assert isinstance(retriever, MultiQueryRetriever)
    question = "Which football clubs did Iwan Roberts play for?"
    rewrites = retriever.rewrites(question)
    assert rewrites[0] == question and 2 <= len(rewrites) <= 4
    assert all(isinstance(q, str) and 3 <= len(q) <= 160 for q in rewrites)
    assert first_source(retriever.retrieve(question, 5)) == "docs/unstructured_norwich-city.txt"
    assert retriever.cache.misses == 1 and retriever.cache.hits >= 1


def test_hyde_with_the_real_model(corpus, embedder, local_llm, tmp_path):  # noqa: F811
    settings, store, _ = corpus
    cfg = configured(settings, strategy="hyde", cache=str(tmp_path / "c.sqlite"))
    retriever = build_retriever(cfg, embedder=embedder, store=store, llm=local_llm)
    passage = retriever.passage(IBM)
    assert len(passage.split()) >= 5 and passage != IBM  # a written passage, not the question back
    assert first_source(retriever.retrieve(IBM, 5)) == "docs/docling_wiki.md"


def test_llm_listwise_rerank_with_the_real_model(corpus, embedder, local_llm):  # noqa: F811
    settings, store, _ = corpus
    base = build_retriever(configured(settings, strategy="hybrid"), embedder=embedder, store=store)
    reranker = LLMReranker(local_llm, "listwise", RewriteCache(None))
    before = base.retrieve(IBM, 5)
    after = RerankRetriever(base=base, reranker=reranker, top_n=5).retrieve(IBM, 5)
    assert sorted(h.id for h in after) == sorted(h.id for h in before)  # a permutation, nothing lost
    assert "docs/docling_wiki.md" in {h.metadata["source"] for h in after[:2]}


def test_langchain_rag_chain_with_our_chat_model(corpus, embedder, local_llm):  # noqa: F811
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from rag.integrations.langchain import as_chat_model

    settings, store, _ = corpus
    retriever = build_retriever(configured(settings, strategy="hybrid", k=3), embedder=embedder, store=store)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in one short sentence using only this context:\n{context}"), ("human", "{question}")]
    )
    chain = (
        {
            "context": retriever.as_langchain()
            | RunnableLambda(lambda docs: "\n\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | as_chat_model(local_llm, max_tokens=40)
        | StrOutputParser()
    )
    assert "Armonk" in chain.invoke(IBM)


def test_llamaindex_query_engine_with_our_retriever_and_llm(corpus, embedder, local_llm):  # noqa: F811
    from llama_index.core.query_engine import RetrieverQueryEngine

    from rag.integrations.llamaindex import as_llamaindex_llm

    settings, store, _ = corpus
    retriever = build_retriever(configured(settings, strategy="hybrid", k=3), embedder=embedder, store=store)
    engine = RetrieverQueryEngine.from_args(retriever.as_llamaindex(), llm=as_llamaindex_llm(local_llm, num_output=48))
    response = engine.query(IBM)
    assert response.source_nodes[0].node.metadata["source"] == "docs/docling_wiki.md"
    assert "Armonk" in str(response)
