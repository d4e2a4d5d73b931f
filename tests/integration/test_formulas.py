"""A standard metric answered from a filing's statements through the whole pipeline (real Chroma, the packaged
embedder, the local model): the balance sheet is retrieved, the income statement's revenue line is looked up in
the same filing, the calculator computes, and the answer cites both statements."""

import pytest

from ingest.run import ingest
from rag.answer.pipeline import RagPipeline

BALANCE = """# Consolidated Balance Sheets

Globex Corporation. (in millions)

| | December 31, 2019 | December 31, 2018 |
|---|---|---|
| Inventories, net | 32 | 43 |
| Property and equipment, net | 253 | 282 |
| Total current assets | 7,292 | 6,106 |
| Total assets | 19,845 | 17,890 |
"""
INCOME = """# Consolidated Statements of Operations

Globex Corporation. (in millions)

| | 2019 | 2018 | 2017 |
|---|---|---|---|
| Total net revenues | 6,489 | 7,500 | 7,017 |
| Operating income | 1,607 | 1,988 | 1,309 |
"""
OTHER = """# Consolidated Statements of Operations

Initech Inc. (in millions)

| | 2019 | 2018 |
|---|---|---|
| Total net revenues | 99,999 | 88,888 |
"""


@pytest.mark.slow
def test_a_metric_is_computed_from_a_looked_up_line_item_of_the_same_filing(
    tmp_path, settings_for, embedder, local_llm
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "globex-10k.md").write_text(f"{BALANCE}\n{INCOME}")  # one filing, two statements
    (docs / "initech-10k.md").write_text(OTHER)
    # one passage retrieved (the balance sheet): the revenue line must be looked up, in the same filing only
    settings = settings_for(answer={"k": 1, "formulas": "finance", "min_score": 0.0}, retriever={"k": 1})
    assert ingest([docs], settings, embedder=embedder).exit_code == 0
    pipeline = RagPipeline(settings, embedder=embedder, llm=local_llm)

    answer = pipeline.ask("What is Globex's FY2019 fixed asset turnover ratio, from the balance sheet?")

    assert answer.calculation is not None and round(answer.calculation["result"], 2) == 24.26, answer.text
    assert [hit.metadata.get("section") for hit in answer.contexts] == [
        "Consolidated Balance Sheets",
        "Consolidated Statements of Operations",
    ]
    assert {hit.metadata["source"] for hit in answer.contexts} == {"docs/globex-10k.md"}
    assert "6,489 / ((253 + 282) / 2) = 24.26 times" in answer.text and "99,999" not in answer.text
    assert answer.grounded and [c.number for c in answer.citations] == [1, 2]
    assert all(c.supported for c in answer.citations)
    # a line item the arithmetic gate does not take ("what is … total current assets"), in the units asked
    item = pipeline.ask("What are Globex's FY2019 total current assets in USD billions?")
    assert item.calculation is not None and item.calculation["shown"] == "7.29 in billions", item.text
    assert item.text == (
        "Total current assets, 2019 (in millions): 7,292 [1]. Calculated: (7,292) / 1000 = 7.29 in billions [1]."
    )
    # a yes/no about the metric's direction: computed for both years, the yes/no the calculator's, not retried
    trend = pipeline.ask("Does Globex have an improving operating margin profile as of FY2019?")
    assert trend.calculation is not None, trend.text
    assert trend.calculation["verdict"] == "No: operating margin fell from 26.51 % in 2018 to 24.76 % in 2019"
    assert trend.text.startswith("No: operating margin fell from 26.51 % in 2018 to 24.76 % in 2019 [")
    assert trend.found and trend.grounded and trend.restated == 0 and "99,999" not in trend.text
