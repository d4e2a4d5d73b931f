"""QA datasets: the JSONL format, seeded sampling, and the PubMedQA / TAT-QA converters on the real files."""

import json

import pytest

from eval.datasets import QASample, convert_pubmedqa, convert_tatqa, load_qa, markdown_table, sample, write_qa
from rag.errors import ConfigError

from ..conftest import SHARED


def test_qa_jsonl_round_trip_and_errors(tmp_path):
    samples = [QASample("1", "Q?", "A.", ["a.md"], ["passage"], {"k": 1}), QASample("2", "Q2?", "")]
    write_qa(samples, tmp_path / "qa.jsonl")
    assert load_qa(tmp_path / "qa.jsonl") == samples
    (tmp_path / "bad.jsonl").write_text('{"id": "1", "question": "ok"}\n{"question": "no id"}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl, line 2"):
        load_qa(tmp_path / "bad.jsonl")
    with pytest.raises(ConfigError, match="does not exist"):
        load_qa(tmp_path / "missing.jsonl")


def test_sampling_is_seeded_and_keeps_order():
    samples = [QASample(str(i), f"q{i}", "") for i in range(100)]
    first, again = sample(samples, 5), sample(samples, 5)
    assert [s.id for s in first] == [s.id for s in again]
    assert [int(s.id) for s in first] == sorted(int(s.id) for s in first)
    assert [s.id for s in sample(samples, 5, seed=1)] != [s.id for s in first]
    assert len(sample(samples, None)) == 100 and len(sample(samples, 500)) == 100


def test_pubmedqa_converter(tmp_path):
    converted = convert_pubmedqa(SHARED / "pubmedqa", tmp_path)
    assert (converted.samples, converted.documents) == (500, 1000)
    assert len(list(converted.corpus.glob("*.md"))) == 1000
    first = load_qa(converted.qa)[0]
    document = (converted.corpus / first.context_ids[0]).read_text()
    assert document.startswith(f"# {first.question}") and "## " in document
    assert all(context.strip()[:60] in document for context in first.contexts)
    assert first.reference and first.metadata["decision"] in {"yes", "no", "maybe"}
    truth = json.loads((SHARED / "pubmedqa" / "test_ground_truth.json").read_text())
    assert {s.id for s in load_qa(converted.qa)} == set(truth)


def test_tatqa_converter(tmp_path):
    converted = convert_tatqa(SHARED / "tatqa", tmp_path)
    assert (converted.samples, converted.documents) == (1668, 278)
    samples = load_qa(converted.qa)
    by_type = {s.metadata["answer_from"] for s in samples}
    assert by_type == {"table", "text", "table-text"}
    table_question = next(s for s in samples if s.metadata["answer_from"] == "table")
    assert table_question.contexts[0].startswith("| ")
    document = (converted.corpus / table_question.context_ids[0]).read_text()
    assert document.startswith(table_question.contexts[0])


def test_markdown_table_escapes_and_pads():
    assert markdown_table([["a", "b|c"], ["1"]]) == "| a | b\\|c |\n|---|---|\n| 1 |  |"
