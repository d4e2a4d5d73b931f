"""Every retrieval strategy on a small real corpus (shared documents), with the real embedding model,
Chroma and the BM25 index ingest keeps; LLM-driven strategies with a scripted LLM (deterministic)
here and with the real packaged model in test_retrievers_llm.py."""

import itertools
import json
import shutil

import pytest

from ingest.run import ingest
from rag.documents import Hit
from rag.retrievers import (
    BM25Retriever,
    DenseRetriever,
    EmbeddingReranker,
    HybridRetriever,
    HyDERetriever,
    LLMReranker,
    MultiQueryRetriever,
    RagFusionRetriever,
    RerankRetriever,
    RewriteCache,
    build_retriever,
)
from rag.stores import build_store

CORPUS = [
    "markdown/docling_wiki.md",
    "markdown/docling_mixed.md",
    "markdown/unstructured_README.md",
    "html/docling_wiki_duck.html",
    "html/markitdown_test_blog.html",
    "txt/unstructured_norwich-city.txt",
    "txt/unstructured_book-war-and-peace-1p.txt",
    "pdf/pypdf_crazyones.pdf",
]
# question -> the document a user expects first
QUESTIONS = {
    "Which football clubs did Iwan Roberts play for?": "docs/unstructured_norwich-city.txt",
    "Where is IBM headquartered?": "docs/docling_wiki.md",
    "Which family of waterfowl do ducks belong to?": "docs/docling_wiki_duck.html",
    "Here's to the crazy ones, the misfits and the rebels": "docs/pypdf_crazyones.pdf",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, documents_dir, embedder):
    from rag.config import Settings

    root = tmp_path_factory.mktemp("retrievers")
    docs = root / "docs"
    for name in CORPUS:
        target = docs / name.split("/")[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(documents_dir / name, target)
    settings = Settings(store={"path": str(root / "chroma"), "collection": "retrievers"})
    report = ingest([docs], settings, embedder=embedder)
    assert report.exit_code == 0
    store = build_store(settings.store, embedder.name, embedder.dimension)
    yield settings, store, docs
    store.close()


def first_source(hits: list[Hit]) -> str:
    return hits[0].metadata["source"]


def configured(settings, **retriever):
    """The settings with these retriever options (sections as dicts), validated as a config file would be."""
    from rag.retrievers import RetrieverOptions

    retriever.setdefault("cache", None)  # tests never write the rewrite cache into the working directory
    data = {**settings.retriever.model_dump(), **retriever}
    return settings.model_copy(update={"retriever": RetrieverOptions.model_validate(data)})


class ScriptedLLM:
    """Deterministic stand-in for the rewrite prompts; counts calls (the real model: test_retrievers_llm.py)."""

    name = "scripted"

    def __init__(self, queries=None, passage="", ranking=None):
        self.queries, self.passage, self.ranking = queries or [], passage, ranking or []
        self.calls = 0

    def complete_json(self, messages, schema, **kw):
        self.calls += 1
        if "queries" in schema["properties"]:
            return {"queries": self.queries}
        return {"ranking": self.ranking}

    def complete(self, messages, **kw):
        from rag.llms.base import Completion

        self.calls += 1
        return Completion(self.passage)


@pytest.mark.parametrize("strategy", ["dense", "bm25", "hybrid"])
@pytest.mark.parametrize("question", list(QUESTIONS))
def test_each_base_strategy_ranks_the_right_document_first(corpus, embedder, strategy, question):
    settings, store, _ = corpus
    retriever = build_retriever(configured(settings, strategy=strategy), embedder=embedder, store=store)
    hits = retriever.retrieve(question, 5)
    assert first_source(hits) == QUESTIONS[question]
    assert all(hit.text for hit in hits)  # BM25 hits get their text from the store


def test_rrf_hybrid_ranks_the_right_document_first(corpus, embedder):
    settings, store, _ = corpus
    cfg = configured(
        settings, strategy="hybrid", hybrid={**settings.retriever.section("hybrid").model_dump(), "fusion": "rrf"}
    )
    retriever = build_retriever(cfg, embedder=embedder, store=store)
    assert isinstance(retriever, HybridRetriever) and retriever.fusion == "rrf"
    for question, expected in QUESTIONS.items():
        assert first_source(retriever.retrieve(question, 5)) == expected


def test_hybrid_finds_what_only_one_side_finds(corpus, embedder):
    """An exact rare token (a year in a table) is BM25's strength; hybrid keeps it."""
    settings, store, _ = corpus
    dense = build_retriever(configured(settings, strategy="dense"), embedder=embedder, store=store)
    bm25 = build_retriever(configured(settings, strategy="bm25"), embedder=embedder, store=store)
    hybrid = build_retriever(configured(settings, strategy="hybrid"), embedder=embedder, store=store)
    query = "Gillingham"
    assert first_source(bm25.retrieve(query, 5)) == "docs/unstructured_norwich-city.txt"
    assert "docs/unstructured_norwich-city.txt" in [h.metadata["source"] for h in hybrid.retrieve(query, 3)]
    assert dense.retrieve(query, 5)  # dense returns something, keyword-blind


def test_filters_apply_to_dense_bm25_and_hybrid(corpus, embedder):
    settings, store, _ = corpus
    only = {"source": "docs/docling_wiki.md"}
    for strategy in ("dense", "bm25", "hybrid"):
        retriever = build_retriever(configured(settings, strategy=strategy), embedder=embedder, store=store)
        hits = retriever.retrieve("company research laboratories", 5, only)
        assert hits and {h.metadata["source"] for h in hits} == {"docs/docling_wiki.md"}, strategy


def test_multi_query_includes_the_original_and_caches_rewrites(corpus, embedder, tmp_path):
    settings, store, _ = corpus
    llm = ScriptedLLM(queries=["Iwan Roberts career Norwich City", "Welsh forward Watford Huddersfield"])
    cache = RewriteCache(tmp_path / "rewrites.sqlite")
    base = build_retriever(configured(settings, strategy="hybrid"), embedder=embedder, store=store)
    retriever = MultiQueryRetriever(base=base, llm=llm, cache=cache, queries=2)
    question = "Which football clubs did Iwan Roberts play for?"
    assert retriever.rewrites(question)[0] == question
    assert len(retriever.rewrites(question)) == 3
    hits = retriever.retrieve(question, 5)
    assert first_source(hits) == "docs/unstructured_norwich-city.txt"
    assert llm.calls == 1  # the second and third ask came from the cache
    again = MultiQueryRetriever(
        base=base, llm=ScriptedLLM(), cache=RewriteCache(tmp_path / "rewrites.sqlite"), queries=2
    )
    assert again.rewrites(question)[1:] == llm.queries  # on disk, across instances


def test_multi_query_falls_back_to_the_question_when_the_llm_fails(corpus, embedder):
    from rag.errors import LLMError

    class BrokenLLM(ScriptedLLM):
        def complete_json(self, messages, schema, **kw):
            raise LLMError("LLM server at http://127.0.0.1:9 did not answer")

    settings, store, _ = corpus
    base = build_retriever(configured(settings, strategy="dense"), embedder=embedder, store=store)
    retriever = MultiQueryRetriever(base=base, llm=BrokenLLM())
    question = "Where is IBM headquartered?"
    assert retriever.rewrites(question) == [question]
    assert [h.id for h in retriever.retrieve(question, 5)] == [h.id for h in base.retrieve(question, 5)]


def test_off_topic_rewrites_outvote_the_question(corpus, embedder):
    """Why multi-query can hurt with a weak LLM: two bad rewrites fused with RRF beat the original."""
    settings, store, _ = corpus
    base = build_retriever(configured(settings, strategy="dense"), embedder=embedder, store=store)
    retriever = MultiQueryRetriever(base=base, llm=ScriptedLLM(queries=["ducks", "waterfowl species"]))
    assert first_source(retriever.retrieve("Where is IBM headquartered?", 5)) == "docs/docling_wiki_duck.html"


def test_rag_fusion_searches_only_the_rewrites_by_default(corpus, embedder):
    settings, store, _ = corpus
    base = build_retriever(configured(settings, strategy="hybrid"), embedder=embedder, store=store)
    llm = ScriptedLLM(queries=["duck diet", "what waterfowl feed on", "dabbling ducks feeding"])
    retriever = RagFusionRetriever(base=base, llm=llm)
    assert retriever.rewrites("What do ducks eat?") == llm.queries
    assert first_source(retriever.retrieve("What do ducks eat?", 5)) == "docs/docling_wiki_duck.html"


def test_hyde_retrieves_with_the_hypothetical_passage(corpus, embedder, tmp_path):
    settings, store, _ = corpus
    dense = DenseRetriever(embedder=embedder, store=store)
    passage = (
        "Iwan Roberts is a Welsh former footballer who played as a forward for Watford, Huddersfield Town, "
        "Leicester City, Wolverhampton Wanderers, Norwich City and Gillingham."
    )
    llm = ScriptedLLM(passage=passage)
    retriever = HyDERetriever(dense=dense, llm=llm, cache=RewriteCache(tmp_path / "hyde.sqlite"))
    question = "Tell me about the striker's career"
    assert first_source(retriever.retrieve(question, 5)) == "docs/unstructured_norwich-city.txt"
    retriever.retrieve(question, 5)
    assert llm.calls == 1
    without = HyDERetriever(dense=dense, llm=ScriptedLLM(passage=""))  # empty passage: the question alone
    assert without.vector(question) == pytest.approx(embedder.embed_query(question))
    over_hybrid = build_retriever(
        configured(settings, strategy="hyde", base="hybrid"),
        embedder=embedder,
        store=store,
        llm=ScriptedLLM(passage=passage),
    )
    assert isinstance(over_hybrid, HyDERetriever) and isinstance(over_hybrid.hybrid, HybridRetriever)
    assert first_source(over_hybrid.retrieve(question, 5)) == "docs/unstructured_norwich-city.txt"


def test_llm_listwise_rerank_follows_the_models_ranking(corpus, embedder):
    settings, store, _ = corpus
    base = build_retriever(configured(settings, strategy="hybrid"), embedder=embedder, store=store)
    question = "Where is IBM headquartered?"
    before = base.retrieve(question, 4)
    reranked = RerankRetriever(base=base, reranker=LLMReranker(ScriptedLLM(ranking=[3, 1])), top_n=4)
    after = reranked.retrieve(question, 4)
    # ranked ones first in the model's order, the rest after them in their old order
    assert [h.id for h in after] == [before[2].id, before[0].id, before[1].id, before[3].id]


def test_embedding_rerank_and_mmr(corpus, embedder):
    settings, store, _ = corpus
    base = build_retriever(configured(settings, strategy="bm25"), embedder=embedder, store=store)
    question = "Which family of waterfowl do ducks belong to?"
    reranked = RerankRetriever(base=base, reranker=EmbeddingReranker(embedder), top_n=10).retrieve(question, 10)
    scores = [h.score for h in reranked]
    assert scores == sorted(scores, reverse=True) and -1 <= scores[-1] <= scores[0] <= 1
    assert first_source(reranked) == "docs/docling_wiki_duck.html"
    diverse = RerankRetriever(base=base, reranker=None, top_n=10, mmr=True, mmr_lambda=0.3, embedder=embedder)
    mmr_hits = diverse.retrieve(question, 10)
    assert sorted(h.id for h in mmr_hits) == sorted(h.id for h in base.retrieve(question, 10))

    def redundancy(top):  # mean pairwise cosine of the first three passages
        vectors = embedder.embed_documents([h.text for h in top[:3]])
        similarity = vectors @ vectors.T
        return (similarity.sum() - 3) / 6

    assert mmr_hits[0].id == base.retrieve(question, 10)[0].id  # the most relevant stays first
    assert redundancy(mmr_hits) < redundancy(base.retrieve(question, 10))


def test_cross_encoder_rerank_code_path(corpus, embedder, tmp_path):
    """No cross-encoder ships on PyPI, so this builds a tiny *randomly initialised* one (2 layers) with the
    MiniLM tokenizer: it checks the code path (loading, batching, re-ordering by its scores), not quality."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rag.embeddings import resolve_model_path
    from rag.retrievers import CrossEncoderReranker

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2")[0])
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    model_dir = tmp_path / "tiny-cross-encoder"
    torch.manual_seed(7)  # a random model's scores can tie; a fixed seed makes the run repeatable
    BertForSequenceClassification(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    settings, store, _ = corpus
    cfg = configured(
        settings,
        strategy="hybrid",
        rerank={"backend": "cross_encoder", "model": str(model_dir), "top_n": 6},
    )
    retriever = build_retriever(cfg, embedder=embedder, store=store)
    assert isinstance(retriever, RerankRetriever) and isinstance(retriever.reranker, CrossEncoderReranker)
    question = "Where is IBM headquartered?"
    candidates = retriever.base.retrieve(question, 6)
    expected = CrossEncoder(str(model_dir)).predict([(question, h.text) for h in candidates])
    by_id = {h.id: float(score) for h, score in zip(candidates, expected, strict=True)}
    hits = retriever.retrieve(question, 6)
    # each hit carries the cross-encoder's own score for its passage, and the list is sorted by it (scores within
    # 1e-5 of each other may come in either order: padding in a batch moves the last digits)
    assert sorted(h.id for h in hits) == sorted(by_id)
    assert [h.score for h in hits] == pytest.approx([by_id[h.id] for h in hits], abs=1e-5)
    assert all(a.score >= b.score - 1e-5 for a, b in itertools.pairwise(hits))
    assert [h.id for h in hits] != [h.id for h in candidates] or sorted(expected, reverse=True) == list(expected)


def test_missing_cross_encoder_is_a_clear_error(corpus, embedder, tmp_path):
    from rag.errors import ConfigError

    settings, store, _ = corpus
    cfg = configured(
        settings,
        rerank={"backend": "cross_encoder", "model": str(tmp_path / "no-such-model")},
    )
    with pytest.raises(ConfigError, match=r"rerank\.model"):
        build_retriever(cfg, embedder=embedder, store=store)


def test_strategies_compose_from_config(corpus, embedder):
    settings, store, _ = corpus
    cfg = configured(
        settings,
        strategy="fusion",
        base="hybrid",
        k=7,
        rerank={"backend": "embedding", "top_n": 5},
    )
    retriever = build_retriever(cfg, embedder=embedder, store=store, llm=ScriptedLLM(queries=["IBM offices"]))
    assert isinstance(retriever, RerankRetriever) and retriever.k == 7
    assert isinstance(retriever.base, RagFusionRetriever)
    assert isinstance(retriever.base.base, HybridRetriever)
    assert isinstance(retriever.base.base.bm25, BM25Retriever)
    assert first_source(retriever.retrieve("Where is IBM headquartered?")) == "docs/docling_wiki.md"


def test_bm25_index_follows_edits_and_deletes(corpus, embedder, tmp_path):
    """Changed and deleted files leave no stale terms; the index holds exactly the store's chunks."""
    from rag.config import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Zorblax\n\nThe zorblax reactor runs on heavy water.\n")
    (docs / "b.md").write_text("# Quintessa\n\nQuintessa is a moon of the gas giant Borrowdale.\n")
    settings = Settings(store={"path": str(tmp_path / "chroma"), "collection": "edits"})
    ingest([docs], settings, embedder=embedder)

    def bm25_sources(query):
        store = build_store(settings.store, embedder.name, embedder.dimension)
        try:
            retriever = build_retriever(configured(settings, strategy="bm25"), embedder=embedder, store=store)
            assert retriever.index.count() == store.count()
            assert retriever.index.ids() == {row.id for row in store.get()}
            return [h.metadata["source"] for h in retriever.retrieve(query, 5)]
        finally:
            store.close()

    assert bm25_sources("zorblax") == ["docs/a.md"]
    (docs / "a.md").write_text("# Reactor\n\nThe flumox reactor runs on light water.\n")
    ingest([docs], settings, embedder=embedder)
    assert bm25_sources("zorblax") == []
    assert bm25_sources("flumox") == ["docs/a.md"]
    (docs / "b.md").unlink()
    ingest([docs], settings, embedder=embedder)
    assert bm25_sources("quintessa borrowdale") == []
    assert bm25_sources("reactor") == ["docs/a.md"]


def test_keyword_index_is_rebuilt_for_a_store_that_predates_it(corpus, embedder, tmp_path):
    from rag.config import Settings
    from rag.stores.keyword import keyword_index_path

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Zorblax\n\nThe zorblax reactor runs on heavy water.\n")
    settings = Settings(store={"path": str(tmp_path / "chroma"), "collection": "old", "bm25": {"enabled": False}})
    ingest([docs], settings, embedder=embedder)
    assert not keyword_index_path(settings.store).exists()
    store = build_store(settings.store, embedder.name, embedder.dimension)
    retriever = build_retriever(configured(settings, strategy="bm25"), embedder=embedder, store=store)
    assert [h.metadata["source"] for h in retriever.retrieve("zorblax", 3)] == ["docs/a.md"]
    store.close()


def test_langchain_retriever_in_an_lcel_chain(corpus, embedder):
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    settings, store, _ = corpus
    retriever = build_retriever(configured(settings, strategy="hybrid", k=3), embedder=embedder, store=store)
    retriever = retriever.as_langchain()  # the adapter: our retrievers are not LangChain classes
    documents = retriever.invoke("Where is IBM headquartered?")
    assert len(documents) == 3 and documents[0].metadata["source"] == "docs/docling_wiki.md"
    assert documents[0].id and "Armonk" in " ".join(d.page_content for d in documents)

    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    chain = (
        {
            "context": retriever | RunnableLambda(lambda docs: "\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | RunnableLambda(lambda value: value.to_string())
    )
    rendered = chain.invoke("Where is IBM headquartered?")
    assert "Armonk" in rendered and rendered.endswith("Question: Where is IBM headquartered?")
    batch = retriever.batch(list(QUESTIONS))
    assert [docs[0].metadata["source"] for docs in batch] == list(QUESTIONS.values())


def test_llamaindex_adapter_returns_nodes(corpus, embedder):
    from llama_index.core.schema import NodeWithScore

    settings, store, _ = corpus
    retriever = build_retriever(configured(settings, strategy="hybrid", k=4), embedder=embedder, store=store)
    nodes = retriever.as_llamaindex().retrieve("Which football clubs did Iwan Roberts play for?")
    assert len(nodes) == 4 and all(isinstance(n, NodeWithScore) for n in nodes)
    assert nodes[0].node.metadata["source"] == "docs/unstructured_norwich-city.txt"
    assert "Norwich" in nodes[0].node.get_content()
    assert json.dumps(nodes[0].node.metadata)  # plain metadata, serialisable


def test_run_says_what_each_strategy_did(corpus, embedder):
    settings, store, _ = corpus
    hybrid = build_retriever(configured(settings, strategy="hybrid"), embedder=embedder, store=store)
    hits, trace = hybrid.run("Where is IBM headquartered?", 3)
    assert trace["strategy"] == "hybrid" and [s["id"] for s in trace["stages"]] == [h.id for h in hits]
    assert trace["stages"][0]["dense"] is not None and trace["stages"][0]["bm25"] is not None

    rewrites = ["IBM headquarters location", "Armonk New York IBM"]
    multi = MultiQueryRetriever(base=hybrid, llm=ScriptedLLM(queries=rewrites), queries=2)
    _, trace = multi.run("Where is IBM headquartered?", 3)
    assert trace["strategy"] == "multi_query" and trace["rewrites"] == ["Where is IBM headquartered?", *rewrites]

    hyde = HyDERetriever(
        dense=DenseRetriever(embedder=embedder, store=store), llm=ScriptedLLM(passage="IBM is in Armonk.")
    )
    _, trace = hyde.run("Where is IBM headquartered?", 3)
    assert trace == {"strategy": "hyde", "hyde_passage": "IBM is in Armonk."}
    assert hyde.retrieve("Where is IBM headquartered?", 3)  # outside run() nothing is recorded, nothing breaks
