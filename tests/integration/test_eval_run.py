"""`python -m eval run` / `compare`: Ragas plumbing with a deterministic judge, the real local model as
generator and judge end to end (interrupt, resume, cached judge calls), reports, the gate's exit codes.

The dataset: 3 PubMedQA test questions over their 3 abstracts and 25 other abstracts (3: each answered question
costs the real model six judge calls; the plumbing is the same for 3 or 300).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eval.config import load_eval_config
from eval.datasets import convert_pubmedqa, load_qa, sample, write_qa
from eval.judge import JudgeCache, JudgeEmbeddings, JudgeLLM, bounded, schema_in_prompt
from eval.ragas_suite import JudgeInput, RagasSuite
from tests.conftest import REPO, SHARED
from tests.support.lexical_judge import LexicalJudge, serve
from tests.support.net import NETGUARD, free_port


@pytest.fixture(scope="module")
def pubmed_small(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("pubmed")
    converted = convert_pubmedqa(SHARED / "pubmedqa", out / "full")
    chosen = sample(load_qa(converted.qa), 3, seed=7)
    gold = {s.context_ids[0] for s in chosen}
    others = sorted(p.name for p in converted.corpus.iterdir() if p.name not in gold)[:25]
    corpus = out / "corpus"
    corpus.mkdir()
    for name in [*sorted(gold), *others]:
        shutil.copy(converted.corpus / name, corpus / name)
    write_qa(chosen, out / "qa.jsonl")
    return out / "qa.jsonl", corpus


def eval_data(tmp: Path, qa: Path, corpus: Path, **extra) -> dict:
    data = {
        "name": "t",
        "dataset": {"kind": "jsonl", "qa": str(qa), "corpus": str(corpus)},
        "work": str(tmp / "work"),
        "runs": str(tmp / "runs"),
        "judge": {"cache": str(tmp / "judge.sqlite"), "strictness": 1, "max_tokens": 384},
        "gate": {"min": {}, "max_drop": {}},
    }
    for key, value in extra.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return data


# -- the judge adapter ------------------------------------------------------------------------------


def test_the_schema_ragas_embeds_is_lifted_and_bounded():
    prompt = (
        "Do it.\nPlease return the output in a JSON format that complies with the following schema as specified "
        'in JSON Schema:\n{"properties": {"statements": {"items": {"type": "string"}, "type": "array"}}, '
        '"title": "X", "type": "object"}Do not use single quotes'
    )
    schema = schema_in_prompt(prompt)
    items = schema["properties"]["statements"]
    assert schema["title"] == "X"
    assert items["minItems"] == 1 and items["maxItems"] == 24 and items["items"]["maxLength"] == 600
    assert schema_in_prompt("free text, no schema") is None
    assert bounded({"type": "string", "enum": ["a"]}) == {"type": "string", "enum": ["a"]}


def test_known_verdicts_give_known_scores(embedder, tmp_path):
    """Through ragas' own prompts and parsers: 1 supported + 1 unsupported statement → faithfulness 0.5."""
    judge = JudgeLLM(LexicalJudge(), JudgeCache(tmp_path / "cache.sqlite"))
    suite = RagasSuite(
        [
            "faithfulness",
            "context_recall",
            "context_precision",
            "answer_relevancy",
            "id_context_recall",
            "id_context_precision",
        ],
        judge,
        JudgeEmbeddings(embedder),
        strictness=1,
    )
    relevant = "IBM has its headquarters in Armonk, New York, where the company moved its head office."
    other = "Bananas grow in tropical climates and are harvested green."
    item = JudgeInput(
        question="Where is IBM headquartered?",
        answer="IBM headquarters are in Armonk, New York. The company sells tropical fruit juice worldwide.",
        contexts=[relevant, other],
        reference="IBM headquarters are in Armonk, New York. IBM was founded in 1911 by Charles Flint.",
        context_ids=["ibm.md", "bananas.md"],
        reference_ids=["ibm.md"],
    )
    scores = suite.score(item)
    assert scores["faithfulness"] == pytest.approx(0.5)
    assert scores["context_recall"] == pytest.approx(0.5)
    assert scores["context_precision"] == pytest.approx(1.0, abs=1e-6)  # the relevant passage ranks first
    assert scores["answer_relevancy"] > 0.5
    assert scores["id_context_recall"] == pytest.approx(1.0)
    assert scores["id_context_precision"] == pytest.approx(0.5)
    # the judge's calls: statements + verdicts, recall, one per passage, one generated question
    assert judge.stats.calls == 2 + 1 + 2 + 1 and judge.stats.parse_failures == 0

    reversed_item = JudgeInput(**{**vars(item), "contexts": [other, relevant], "context_ids": ["b.md", "ibm.md"]})
    assert suite.score(reversed_item)["context_precision"] == pytest.approx(0.5, abs=1e-6)

    cached = JudgeLLM(LexicalJudge(), JudgeCache(tmp_path / "cache.sqlite"))
    again = RagasSuite(["faithfulness"], cached, JudgeEmbeddings(embedder)).score(item)
    assert again["faithfulness"] == pytest.approx(0.5) and cached.stats.calls == 0 and cached.stats.cached == 2


def test_ragas_telemetry_is_off_and_the_network_guard_bites():
    from ragas._analytics import do_not_track

    assert os.environ["RAGAS_DO_NOT_TRACK"] == "true" and do_not_track()
    with pytest.raises(AssertionError, match="reach the network"), socket.socket() as sock:
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed


def test_the_gate_must_name_metrics_the_run_computes(tmp_path, pubmed_small):
    qa, corpus = pubmed_small
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(eval_data(tmp_path, qa, corpus, gate={"min": {"bleu": 0.5}})))
    with pytest.raises(Exception, match="bleu"):
        load_eval_config(path)


# -- the real local model, end to end ---------------------------------------------------------------


@pytest.mark.slow
def test_real_model_run_interrupt_resume_and_reports(tmp_path, pubmed_small, local_llm, embedder):
    from eval.runner import RunHooks, run_evaluation
    from rag.config import load_config

    three, corpus = pubmed_small
    qa = tmp_path / "qa.jsonl"  # two questions: one before the interrupt, one after (each is ~5 judge calls)
    write_qa(load_qa(three)[:2], qa)
    path = tmp_path / "eval.yaml"
    # Two of the four judged metrics (their prompts differ; context precision and answer relevancy go through the
    # same adapter, and test_known_verdicts_give_known_scores runs all four): half the model's judge calls.
    metrics = ["faithfulness", "context_recall", "id_context_recall", "id_context_precision"]
    path.write_text(yaml.safe_dump(eval_data(tmp_path, qa, corpus, metrics=metrics)))
    cfg = load_eval_config(path)
    settings = load_config().model_copy(deep=True)
    settings.answer.k = 2

    def stop_after_one(result) -> None:
        raise KeyboardInterrupt

    first = run_evaluation(cfg, settings=settings, llm=local_llm, hooks=RunHooks(on_sample=stop_after_one))
    assert first.exit_code == 130
    partial = json.loads((first.run_dir / "results.json").read_text())
    assert partial["status"] == "interrupted" and partial["samples_done"] == 1
    assert (first.run_dir / "report.md").is_file()

    second = run_evaluation(cfg, settings=settings, llm=local_llm, resume=first.run_dir)
    results = second.results
    assert second.run_dir == first.run_dir and second.exit_code == 0
    assert results["status"] == "complete" and results["samples_done"] == 2
    assert sorted(s["id"] for s in results["samples"]) == sorted(s.id for s in load_qa(qa))
    # both segments together asked the judge once per expected call: the resumed part only for the one
    # sample it had left (faithfulness 2, recall 1)
    judge = results["judge"]
    if judge["parse_failures"] == 0:
        assert judge["calls"] + judge["cached"] == (2 + 1) * len(results["samples"])
    assert judge["errors"] == 0
    assert "context_precision" not in results["summary"]

    for metric in ("faithfulness", "context_recall", "id_context_recall", "ndcg@10"):
        stats = results["summary"][metric]
        assert stats["n"] + stats["nan"] == 2
        assert stats["mean"] is None or 0.0 <= stats["mean"] <= 1.0
    assert results["summary"]["ndcg@10"]["mean"] > 0.5  # the gold abstract is among 28
    assert results["models"]["generator"].startswith("sha256:")

    html = (second.run_dir / "report.html").read_text()
    assert html.count("<svg") >= 2 and 'id="distributions"' in html and 'id="trend"' in html
    assert html.count("<tr><td>") >= 2 + len(results["summary"])
    markdown = (second.run_dir / "report.md").read_text()
    assert "| faithfulness |" in markdown and "complete" in markdown
    history = [json.loads(line) for line in (tmp_path / "runs" / "history.jsonl").read_text().splitlines()]
    assert [h["status"] for h in history] == ["complete"]

    # a finished sample judged again: every call comes from the cache, with the same scores
    done = results["samples"][0]
    again = JudgeLLM(local_llm, JudgeCache(tmp_path / "judge.sqlite"), max_tokens=384)
    suite = RagasSuite(["faithfulness", "context_recall"], again, JudgeEmbeddings(embedder), strictness=1)
    from eval.ragas_suite import judged_text
    from rag.answer import prompts

    rescored = suite.score(
        JudgeInput(
            question=done["question"],
            answer=judged_text(done["answer"], (prompts.UNSUPPORTED_NOTE, prompts.UNCITED_NOTE)),
            contexts=[c["text"] for c in done["contexts"]],
            reference=done["reference"],
            context_ids=[c["source"] for c in done["contexts"]],
            reference_ids=done["reference_ids"],
        )
    )
    assert again.stats.calls == 0 and again.stats.cached >= 3
    assert rescored == {k: done["scores"][k] for k in rescored}


# -- the CLI, its gate and its errors, against a judge server ----------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(NETGUARD), str(REPO)]),
        "RAGAS_DO_NOT_TRACK": "true",
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "eval", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def judge_server():
    port = free_port()
    server = serve(LexicalJudge(), port)
    yield f"http://127.0.0.1:{port}/v1"
    server.shutdown()


def write_configs(tmp: Path, qa: Path, corpus: Path, base_url: str, k: int, name: str = "gate") -> Path:
    pipeline = tmp / f"pipeline-k{k}.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "llm": {"backend": "openai", "model": "lexical-judge", "base_url": base_url, "retries": 0},
                "answer": {"k": k},
                "retriever": {"cache": str(tmp / "rewrites.sqlite")},
            }
        )
    )
    data = eval_data(
        tmp,
        qa,
        corpus,
        name=name,
        pipeline=str(pipeline),
        judge={"max_workers": 4},
        gate={"max_drop": {"context_recall": 0.1, "faithfulness": 0.1}},
    )
    path = tmp / f"eval-k{k}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_a_worse_config_fails_the_gate_naming_the_metric(tmp_path, pubmed_small, judge_server):
    qa, corpus = pubmed_small
    baseline = run_cli("run", "--config", str(write_configs(tmp_path, qa, corpus, judge_server, k=5)), cwd=REPO)
    assert baseline.returncode == 0, baseline.stderr[-2000:]
    assert "gate: **pass** (no baseline)" in baseline.stdout

    worse = run_cli("run", "--config", str(write_configs(tmp_path, qa, corpus, judge_server, k=1)), cwd=REPO)
    assert worse.returncode == 1, worse.stderr[-2000:]
    failing = [line for line in worse.stderr.splitlines() if line.startswith("regression:")]
    assert failing and all("context_recall" in line or "faithfulness" in line for line in failing)
    assert any("context_recall: dropped" in line for line in failing)

    runs = sorted(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    compared = run_cli("compare", str(runs[0]), str(runs[1]), "--json", cwd=REPO)
    assert compared.returncode == 0, compared.stderr
    deltas = {m["metric"]: m for m in json.loads(compared.stdout)["metrics"]}
    recall = deltas["context_recall"]
    assert recall["delta"] < -0.1 and recall["ci_low"] <= recall["delta"] <= recall["ci_high"]
    history = [json.loads(line) for line in (tmp_path / "runs" / "history.jsonl").read_text().splitlines()]
    assert [h["gate"]["passed"] for h in history] == [True, False]


@pytest.mark.slow
def test_a_failing_judge_server_exits_2_not_a_silent_pass(tmp_path, pubmed_small):
    qa, corpus = pubmed_small
    port = free_port()
    server = serve(LexicalJudge(), port, fail_with=500)
    try:
        path = write_configs(tmp_path, qa, corpus, f"http://127.0.0.1:{port}/v1", k=3, name="down")
        result = run_cli("run", "--config", str(path), cwd=REPO)
    finally:
        server.shutdown()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "judge is not answering" in result.stderr and "500" in result.stderr
    assert "Traceback" not in result.stderr


def test_compare_names_a_missing_run(tmp_path):
    result = run_cli("compare", "nope-a", "nope-b", "--runs", str(tmp_path), cwd=REPO)
    assert result.returncode == 2 and "no run 'nope-a'" in result.stderr


def test_judge_free_metrics_score_numbers_and_grounding(tmp_path, embedder):
    """answer_match and grounded need no judge: a table corpus, known references, and an LLM that answers with
    the reference's number (once right, once wrong)."""
    from eval.datasets import QASample
    from eval.runner import run_evaluation
    from rag.config import load_config
    from rag.llms.base import Completion

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "capex.md").write_text(
        "# Capital expenditures\n\n| Segment | 2019 | 2018 |\n|---|---|---|\n| Wireless | 1,320 | 1,086 |\n"
        "| Cable | 1,153 | 1,429 |\n\nCapital expenditures in Wireless grew with the network upgrade.\n"
    )
    (corpus / "staff.md").write_text("# Employees\n\nThe company had 26,100 employees at the end of 2019.\n")
    questions = [
        QASample("q1", "What were the Wireless capital expenditures in 2019?", "1,320 million", ["capex.md"]),
        QASample("q2", "How many employees did the company have at the end of 2019?", "26,100", ["staff.md"]),
    ]
    write_qa(questions, tmp_path / "qa.jsonl")
    answers = {
        "What were the Wireless capital expenditures in 2019?": "Wireless capital expenditures were 1,320 in 2019 [1].",
        "How many employees did the company have at the end of 2019?": "The company had 25,000 employees [1].",
    }

    class Answers:
        name = "scripted"

        def complete(self, messages, **options):
            return Completion("OK")

        def stream(self, messages, **options):
            question = messages[-1]["content"].split("Question: ")[1].split("\n")[0]
            yield answers[question]

    path = tmp_path / "eval.yaml"
    data = eval_data(tmp_path, tmp_path / "qa.jsonl", corpus, metrics=["answer_match", "grounded", "restated"])
    data["gate"] = {"min": {"answer_match": 0.9}, "max_drop": {}}
    path.write_text(yaml.safe_dump(data))
    outcome = run_evaluation(load_eval_config(path), settings=load_config(), llm=Answers(), judge_llm=Answers())
    scores = {s["id"]: s["scores"] for s in outcome.results["samples"]}
    assert scores["q1"]["answer_match"] == 1.0 and scores["q2"]["answer_match"] == 0.0
    assert scores["q1"]["grounded"] == 1.0 and scores["q1"]["ndcg@10"] == 1.0
    assert scores["q2"]["grounded"] == 0.0  # 25,000 is in no passage: the staff file says 26,100
    assert scores["q1"]["restated"] == scores["q2"]["restated"] == 0.0
    assert outcome.results["summary"]["answer_match"]["mean"] == 0.5
    assert outcome.results["expected_judge_calls"] == 0
    assert outcome.exit_code == 1 and "answer_match" in outcome.results["gate"]["failures"][0]
