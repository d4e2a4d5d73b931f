"""`python -m eval generate` with the real local model over the shipped example documents, then `python -m eval
run` on the set it wrote (judge-free metrics: are the chunks the questions came from found)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.slow


def cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG__RETRIEVER__CACHE": str(tmp_path / "rewrites.sqlite")}
    command = [sys.executable, "-m", "eval", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)


def test_generate_a_set_from_a_folder_and_evaluate_on_it(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name in ("aurora-e-bike-manual.md", "northwind-support-faq.txt"):
        shutil.copy(EXAMPLES / name, corpus / name)
    out = tmp_path / "sets" / "mine.jsonl"
    generated = cli(
        "generate", str(corpus), "--out", str(out), "-n", "6", "--work", str(tmp_path / "w"), tmp_path=tmp_path
    )
    assert generated.returncode == 0, generated.stderr[-3000:]
    said = " ".join(generated.stderr.split())  # rich wraps the lines
    assert "6 questions planned from" in said and "calls to qwen2.5-coder-0.5b" in said
    counts = json.loads(generated.stdout)
    assert counts["planned"] == 6 and counts["kept"] + sum(counts["rejected"].values()) == 6
    samples = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(samples) == counts["kept"] >= 1  # the 0.5B writes at least one question that passes every filter
    for sample in samples:
        assert sample["question"].endswith("?") and sample["metadata"]["chunk_ids"]
        if sample["metadata"]["kind"] != "unanswerable":
            assert set(sample["context_ids"]) <= {"aurora-e-bike-manual.md", "northwind-support-faq.txt"}

    # a second set from one of the two files, in the same work store: its questions come from that file only
    faq = tmp_path / "faq"
    faq.mkdir()
    shutil.copy(EXAMPLES / "northwind-support-faq.txt", faq / "northwind-support-faq.txt")
    second = tmp_path / "sets" / "faq.jsonl"
    again = cli("generate", str(faq), "--out", str(second), "-n", "2", "--work", str(tmp_path / "w"), tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    said_both = " ".join([*generated.stderr.split(), "|", *again.stderr.split()])
    chunks = [int(n) for n in re.findall(r"planned from (\d+) chunks", said_both)]
    assert len(chunks) == 2 and 0 < chunks[1] < chunks[0], chunks
    for sample in map(json.loads, second.read_text().splitlines()):
        assert sample["context_ids"] in ([], ["northwind-support-faq.txt"])

    config = tmp_path / "eval.yaml"
    config.write_text(
        "name: mine\npipeline: configs/default.yaml\n"
        f"dataset: {{kind: jsonl, qa: {out}, corpus: {corpus}, limit: null}}\n"
        f"work: {tmp_path / 'eval-work'}\nruns: {tmp_path / 'runs'}\nmetrics: [id_context_recall]\nir: true\n"
        "gate: {baseline: none, min: {}, max_drop: {}}\n"
    )
    run = cli("run", "--config", str(config), tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(next((tmp_path / "runs").glob("*-mine/results.json")).read_text())
    assert len(results["samples"]) == len(samples)
    kinds = {sample["id"]: sample["metadata"]["kind"] for sample in samples}
    for scored in results["samples"]:
        if kinds[scored["id"]] == "unanswerable":  # no source holds its answer: nothing to rank, nothing to recall
            assert "ndcg@10" not in scored["scores"] and "id_context_recall" not in scored["scores"], scored
        else:
            assert "id_context_recall" in scored["scores"] and "ndcg@10" in scored["scores"], scored
