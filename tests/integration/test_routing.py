"""Routing a question to the documents it names (rag/retrievers/routing.py), over a real Chroma store of filings
that all talk about revenue: the named company's and year's filing is searched alone."""

from __future__ import annotations

import pytest

from ingest.run import ingest
from rag.retrievers import build_retriever
from rag.retrievers.routing import DocumentRouter
from rag.stores import build_store

FILINGS = {
    "ACME_2021_10K.md": "# ACME Corp annual report 2021\n\nFORM 10-K for the fiscal year ended December 31, 2021.\n\n"
    "## Results\n\nRevenue was 410 million dollars, up from 380 million.",
    "ACME_2022_10K.md": "# ACME Corp annual report 2022\n\nFORM 10-K for the fiscal year ended December 31, 2022.\n\n"
    "## Results\n\nRevenue was 455 million dollars, up from 410 million.",
    "GLOBEX_2022_10K.md": "# Globex Corporation annual report 2022\n\nFORM 10-K for the fiscal year 2022.\n\n"
    "## Results\n\nRevenue was 1.2 billion dollars; revenue from services grew fastest.",
    "revenue-glossary.md": "# Glossary\n\nRevenue is the income from sales of goods and services, before costs.",
}


@pytest.fixture
def filings(tmp_path, settings_for, embedder):
    folder = tmp_path / "filings"
    folder.mkdir()
    for name, text in FILINGS.items():
        (folder / name).write_text(text)
    settings = settings_for(retriever={"strategy": "documents", "base": "hybrid", "k": 3})
    assert ingest([folder], settings, embedder=embedder).exit_code == 0
    store = build_store(settings.store, embedder.name, embedder.dimension)
    yield settings, store
    store.close()


def test_the_router_names_the_filing_the_question_means(filings):
    _, store = filings
    router = DocumentRouter.from_store(store)
    assert router.route("What was Globex's revenue in FY2022?") == ["filings/GLOBEX_2022_10K.md"]
    assert router.route("What was ACME's revenue in 2021?") == ["filings/ACME_2021_10K.md"]
    assert sorted(router.route("How did ACME's revenue change?")) == [
        "filings/ACME_2021_10K.md",
        "filings/ACME_2022_10K.md",
    ]
    assert router.route("What does the word income mean here?") == []  # names no document: no route


def test_the_documents_strategy_searches_only_the_routed_filing(filings, embedder):
    settings, store = filings
    retriever = build_retriever(settings, embedder=embedder, store=store)
    hits, trace = retriever.run("What was Globex's revenue in FY2022?", 3)
    assert hits and {hit.metadata["source"] for hit in hits} == {"filings/GLOBEX_2022_10K.md"}
    assert trace["documents"]["route"] == ["filings/GLOBEX_2022_10K.md"]
    unrouted = build_retriever(
        settings.model_copy(update={"retriever": settings.retriever.model_copy(update={"strategy": "hybrid"})}),
        embedder=embedder,
        store=store,
    ).retrieve("What was Globex's revenue in FY2022?", 3)
    assert {hit.metadata["source"] for hit in unrouted} != {"filings/GLOBEX_2022_10K.md"}  # others come first


def test_a_new_filing_is_routed_to_after_an_ingest(filings, embedder, tmp_path):
    settings, store = filings
    retriever = build_retriever(settings, embedder=embedder, store=store)
    assert retriever.router().route("What was Initech's revenue in 2023?") == []
    (tmp_path / "filings" / "INITECH_2023_10K.md").write_text("# Initech annual report 2023\n\nRevenue was 90 million.")
    ingest([tmp_path / "filings"], settings, embedder=embedder)
    assert retriever.router().route("What was Initech's revenue in 2023?") == ["filings/INITECH_2023_10K.md"]
