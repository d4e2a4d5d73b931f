"""`python -m eval retrieval` as a user runs it, on a small slice of SciFact (real claims and abstracts)."""

import json
import os
import subprocess
import sys

import pytest

from ..conftest import REPO, SHARED

SCIFACT = SHARED / "scifact"


@pytest.fixture(scope="module")
def mini_scifact(tmp_path_factory):
    """30 test and 40 train claims, their cited abstracts and 300 other abstracts, in the BEIR layout."""
    root = tmp_path_factory.mktemp("beir") / "scifact-mini"
    (root / "qrels").mkdir(parents=True)
    relevant, queries = set(), set()
    for split, count in (("train", 40), ("test", 30)):
        lines = (SCIFACT / "qrels" / f"{split}.tsv").read_text().splitlines()
        qrels = [line.split("\t") for line in lines[1:] if line.strip()]
        chosen = sorted({q for q, _, _ in qrels}, key=int)[:count]
        kept = [row for row in qrels if row[0] in chosen]
        relevant |= {d for _, d, _ in kept}
        queries |= set(chosen)
        (root / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in kept)
        )
    corpus = []
    with (SCIFACT / "corpus.jsonl").open() as handle:
        for line in handle:
            record = json.loads(line)
            if record["_id"] in relevant or len(corpus) < 300:
                corpus.append(line)
    (root / "corpus.jsonl").write_text("".join(corpus))
    with (SCIFACT / "queries.jsonl").open() as handle:
        (root / "queries.jsonl").write_text("".join(line for line in handle if json.loads(line)["_id"] in queries))
    return root


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """One --work folder for the module: the slice is embedded once, later runs reuse its store."""
    return str(tmp_path_factory.mktemp("eval-work"))


# The packaged int8 MiniLM through ONNX Runtime: no torch start-up in each of the CLI runs.
ONNX_MINILM = {"RAG__EMBEDDING__PROVIDER": "onnx", "RAG__EMBEDDING__MODEL": "all-minilm-l6-v2-q"}


def run_eval(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "eval", "retrieval", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), **ONNX_MINILM},
    )


def test_eval_retrieval_reports_metrics_per_config(mini_scifact, work, tmp_path):
    result = run_eval(
        "--dataset",
        str(mini_scifact),
        "--strategies",
        "dense,bm25,hybrid",
        "--json",
        "--work",
        work,
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["configs"]
    assert [row["config"] for row in rows] == ["dense", "bm25", "hybrid"]
    for row in rows:
        assert set(row) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms", "queries"}
        assert row["queries"] == 30
        assert 0.5 < row["ndcg@10"] <= 1.0 and row["recall@100"] >= row["recall@10"]
        assert row["p50_ms"] > 0
    by_name = {row["config"]: row for row in rows}
    assert by_name["hybrid"]["ndcg@10"] >= min(by_name["dense"]["ndcg@10"], by_name["bm25"]["ndcg@10"])
    table = (tmp_path / "out" / "retrieval-scifact-mini.md").read_text()
    assert "| hybrid |" in table and "nDCG@10" in table
    again = run_eval(  # the store is reused: nothing is embedded again
        "--dataset", str(mini_scifact), "--strategies", "bm25", "--json", "--work", work, cwd=tmp_path
    )
    assert again.returncode == 0 and json.loads(again.stdout)["configs"][0]["ndcg@10"] == by_name["bm25"]["ndcg@10"]


def test_fusion_is_tuned_on_train_reported_on_test_and_a_floor_fails_loudly(mini_scifact, work, tmp_path):
    work = ["--work", work]
    result = run_eval(
        "--dataset",
        str(mini_scifact),
        "--tune",
        "train",
        "--json",
        "--fail-under",
        "ndcg@10=0.999",
        *work,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "regression: configured ndcg@10" in result.stderr and "below the floor 0.9990" in result.stderr
    payload = json.loads(result.stdout)
    assert [c["config"] for c in payload["configs"]] == ["configured", "hybrid tuned on train"]
    tuning = payload["tuning"]
    # 10 weightings, each weighted and confidence at three normalisation depths, and RRF
    assert tuning["split"] == "train" and tuning["queries"] == 40 and len(tuning["trials"]) == 70
    best = tuning["trials"][0]
    assert best["ndcg@10"] == max(t["ndcg@10"] for t in tuning["trials"])
    assert tuning["chosen"]["retriever"]["hybrid"]["weights"] == best["weights"]
    tuned = payload["configs"][1]
    assert tuned["queries"] == 30 and tuned["retriever"]["hybrid"]["weights"] == best["weights"]
    passing = run_eval("--dataset", str(mini_scifact), "-s", "bm25", "--fail-under", "ndcg@10=0.3", *work, cwd=tmp_path)
    assert passing.returncode == 0, passing.stderr  # the configured retriever was added and is above the floor
    bad = run_eval("--dataset", str(mini_scifact), "--fail-under", "ndcg=high", *work, cwd=tmp_path)
    assert bad.returncode == 2 and "write METRIC=VALUE" in bad.stderr and "Traceback" not in bad.stderr


def test_eval_retrieval_errors_are_one_line(tmp_path):
    missing = run_eval("--dataset", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "is not a BEIR dataset" in missing.stderr and "Traceback" not in missing.stderr
    unknown = run_eval("--dataset", str(SCIFACT), "--strategies", "dense,telepathy", cwd=tmp_path)
    assert unknown.returncode == 2 and "telepathy" in unknown.stderr and "Traceback" not in unknown.stderr
