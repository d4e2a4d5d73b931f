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
    """30 test claims, their cited abstracts and 300 other abstracts, in the BEIR layout."""
    root = tmp_path_factory.mktemp("beir") / "scifact-mini"
    (root / "qrels").mkdir(parents=True)
    lines = (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()
    qrels = [line.split("\t") for line in lines[1:] if line.strip()]
    queries = sorted({q for q, _, _ in qrels}, key=int)[:30]
    kept = [row for row in qrels if row[0] in queries]
    relevant = {d for _, d, _ in kept}
    corpus = []
    with (SCIFACT / "corpus.jsonl").open() as handle:
        for line in handle:
            record = json.loads(line)
            if record["_id"] in relevant or len(corpus) < 300:
                corpus.append(line)
    (root / "corpus.jsonl").write_text("".join(corpus))
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in kept)
    )
    with (SCIFACT / "queries.jsonl").open() as handle:
        (root / "queries.jsonl").write_text("".join(line for line in handle if json.loads(line)["_id"] in queries))
    return root


def run_eval(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "eval", "retrieval", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_eval_retrieval_reports_metrics_per_config(mini_scifact, tmp_path):
    result = run_eval(
        "--dataset",
        str(mini_scifact),
        "--strategies",
        "dense,bm25,hybrid",
        "--json",
        "--work",
        str(tmp_path / "w"),
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
        "--dataset", str(mini_scifact), "--strategies", "bm25", "--json", "--work", str(tmp_path / "w"), cwd=tmp_path
    )
    assert again.returncode == 0 and json.loads(again.stdout)["configs"][0]["ndcg@10"] == by_name["bm25"]["ndcg@10"]


def test_eval_retrieval_errors_are_one_line(tmp_path):
    missing = run_eval("--dataset", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "is not a BEIR dataset" in missing.stderr and "Traceback" not in missing.stderr
    unknown = run_eval("--dataset", str(SCIFACT), "--strategies", "dense,telepathy", cwd=tmp_path)
    assert unknown.returncode == 2 and "telepathy" in unknown.stderr and "Traceback" not in unknown.stderr
