"""Query expansion from a glossary (rag/retrievers/glossary.py) over a real Chroma store and BM25 index: a
question asks for "capex", the filing prints "Purchases of property, plant and equipment"."""

from __future__ import annotations

import pytest

from ingest.run import ingest
from rag.errors import ConfigError
from rag.retrievers import build_retriever
from rag.retrievers.glossary import Glossary
from rag.stores import build_store

PAGES = {
    "cash-flows.md": "# Consolidated Statements of Cash Flows\n\nYears ended December 31 (millions): 2018, 2017.\n\n"
    "Purchases of property, plant and equipment (1,577) (1,373)\nProceeds from sale of businesses 846 1,065\n"
    "Net cash used in investing activities 222 (3,086)",
    "capex-policy.md": "# Capex policy\n\nThe board reviews the capex plan each year; requests above a threshold "
    "need its approval, and the budget is set in the fourth quarter.",
    "people.md": "# Our people\n\nWe employ 93,000 people in 70 countries and train each of them every year.",
}
QUESTION = "What was the FY2018 capex?"


@pytest.fixture
def pages(tmp_path, settings_for, embedder):
    folder = tmp_path / "filing"
    folder.mkdir()
    for name, text in PAGES.items():
        (folder / name).write_text(text)
    settings = settings_for(retriever={"k": 3})
    assert ingest([folder], settings, embedder=embedder).exit_code == 0
    store = build_store(settings.store, embedder.name, embedder.dimension)
    yield settings, store
    store.close()


@pytest.mark.parametrize("strategy", ["hybrid", "bm25"])
def test_the_finance_glossary_finds_the_line_item_a_question_means(pages, embedder, strategy):
    settings, store = pages

    def top(glossary):
        cfg = settings.retriever.model_copy(update={"strategy": strategy, "glossary": glossary})
        retriever = build_retriever(settings.model_copy(update={"retriever": cfg}), embedder=embedder, store=store)
        hits, trace = retriever.run(QUESTION, 3)
        return hits[0].metadata["source"], trace

    plain, trace = top(None)
    assert plain == "filing/capex-policy.md" and "glossary" not in trace  # the word, not the figure
    expanded, trace = top("finance")
    assert expanded == "filing/cash-flows.md"
    assert any("purchases of property, plant and equipment" in added for added in trace["glossary"])


def test_a_question_naming_no_term_is_searched_as_asked():
    glossary = Glossary.load("finance")
    assert glossary.expand("How many people work here?") == "How many people work here?"
    assert glossary.expand("Is 3M capital-intensive?").startswith("Is 3M capital-intensive?\npurchases of property")


def test_a_glossary_of_ones_own_and_clear_errors(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("- when: \\bARR\\b\n  add: annual recurring revenue\n")
    assert Glossary.load(str(mine)).expand("What is the ARR?") == "What is the ARR?\nannual recurring revenue"
    with pytest.raises(ConfigError, match="neither a packaged glossary \\(finance\\) nor a YAML file"):
        Glossary.load("medicine")
    (tmp_path / "bad.yaml").write_text("- add: words without a when\n")
    with pytest.raises(ConfigError, match="each entry needs `when`"):
        Glossary.load(str(tmp_path / "bad.yaml"))


MDNA = (
    "# Management's Discussion and Analysis\n\nLiquidity. Our capex, the purchases of property, plant and equipment "
    "reported in investing activities of the consolidated statements of cash flows, rose in 2018 as we expanded "
    "plants; capital expenditures and net cash provided by operating activities are discussed below."
)


def test_a_question_naming_its_statement_gets_that_statements_chunks_first(tmp_path, settings_for, embedder):
    folder = tmp_path / "filing"
    folder.mkdir()
    (folder / "cash-flows.md").write_text(PAGES["cash-flows.md"])
    (folder / "mdna.md").write_text(MDNA)
    settings = settings_for(retriever={"k": 2})
    assert ingest([folder], settings, embedder=embedder).exit_code == 0
    store = build_store(settings.store, embedder.name, embedder.dimension)
    entry = "- when: cash ?flows? statement\n  add: consolidated statements of cash flows, investing activities\n"
    (tmp_path / "words.yaml").write_text(entry)
    (tmp_path / "sections.yaml").write_text(entry + "  section: statements? of cash ?flows?\n")
    question = "Using the cash flow statement, what was the FY2018 capex?"

    def ranked(glossary):
        cfg = settings.retriever.model_copy(update={"strategy": "hybrid", "glossary": str(tmp_path / glossary)})
        retriever = build_retriever(settings.model_copy(update={"retriever": cfg}), embedder=embedder, store=store)
        hits, trace = retriever.run(question, 2)
        return [hit.metadata["source"] for hit in hits], trace

    try:
        words_only, trace = ranked("words.yaml")
        assert words_only[0] == "filing/mdna.md" and "sections_first" not in trace  # the prose says it all
        first, trace = ranked("sections.yaml")
        assert first == ["filing/cash-flows.md", "filing/mdna.md"] and trace["sections_first"] == 1
        assert Glossary.load("finance").prefer_sections("How many people work here?", []) == []
    finally:
        store.close()
