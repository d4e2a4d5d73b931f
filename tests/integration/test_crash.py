"""SIGKILL an ingest during a first run and at a random moment (and on Neo4j); the re-run must equal a clean run —
rows, vectors and top-10 search results — for every embedder provider. Every named crash point, on Chroma and the
Milvus server, is in tests/reliability/test_crash_points.py."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from ingest.run import ingest
from rag.config import load_config
from rag.embeddings import build_embedder

from ..conftest import EXAMPLES, REPO
from ..support.store_state import assert_same_store, state_of

pytestmark = pytest.mark.slow

# The embedder providers (environment, as for the CLI): MiniLM on torch (sentence-transformers), the default int8 ONNX
# bge-small (whose vectors must be bit-equal), and an OpenAI-compatible endpoint (the test embedding server).
PROVIDERS = {
    "sentence_transformers": {
        "RAG__EMBEDDING__PROVIDER": "sentence_transformers",
        "RAG__EMBEDDING__MODEL": "all-MiniLM-L6-v2",
    },
    "onnx": {"RAG__EMBEDDING__PROVIDER": "onnx", "RAG__EMBEDDING__MODEL": "bge-small-en-v1.5-q"},
    "openai": {
        "RAG__EMBEDDING__PROVIDER": "openai",
        "RAG__EMBEDDING__MODEL": "minilm",
        "RAG__EMBEDDING__API_KEY_ENV": "TEST_EMBED_KEY",
        "RAG__EMBEDDING__MAX_TOKENS": "256",
        "TEST_EMBED_KEY": "sk-test",
    },
}


def write_config(tmp_path, name):
    config = tmp_path / f"{name}.yaml"
    # A small window makes several writes per file, so a kill can land in the middle of one.
    config.write_text(f"store:\n  path: {tmp_path / name}\n  collection: crash_test\ningest:\n  window: 4\n")
    return config


def run_cli(folder, config, crash_at=None, timeout=180):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAG_INGEST_CRASH_AT", None)
    if crash_at:
        env["RAG_INGEST_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "ingest", str(folder), "--config", str(config), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def change(folder):
    """The edit a crashed run was applying: one file changed, one deleted, one added."""
    manual = folder / "aurora-e-bike-manual.md"
    manual.write_text(manual.read_text().replace("## Maintenance", "## Maintenance and care"))
    (folder / "unstructured_stanley-cups.csv").unlink()
    shutil.copy(EXAMPLES / "northwind-support-faq.txt", folder / "faq-copy.txt")


@pytest.fixture(scope="module")
def clean_state(tmp_path_factory, embedder):
    return clean_run(tmp_path_factory, embedder)


def clean_run(tmp_path_factory, embedder):
    """What one clean run over the final folder (the examples after `change`) leaves in a fresh store."""
    tmp = tmp_path_factory.mktemp("clean")
    folder = tmp / "docs"
    shutil.copytree(EXAMPLES, folder)
    change(folder)
    settings = load_config(write_config(tmp, "store"))
    ingest([folder], settings, embedder=embedder)
    return state_of(settings, embedder)


@pytest.fixture(params=list(PROVIDERS))
def provider(request, monkeypatch):
    """(name, embedder) with the provider's settings in the environment (the CLI subprocesses inherit them)."""
    env = dict(PROVIDERS[request.param])
    if request.param == "openai":
        env["RAG__EMBEDDING__BASE_URL"] = request.getfixturevalue("embedding_server")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return request.param, build_embedder(load_config().embedding)


def test_kill_during_a_first_ingest_then_rerun_equals_a_clean_run_for_each_provider(tmp_path, provider):
    name, model = provider
    clean_folder = tmp_path / "clean" / "docs"
    shutil.copytree(EXAMPLES, clean_folder)
    change(clean_folder)
    clean = load_config(write_config(tmp_path / "clean", "store"))
    ingest([clean_folder], clean, embedder=model)

    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    change(folder)
    config = write_config(tmp_path, "store")
    killed = run_cli(folder, config, crash_at="write:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    rerun = run_cli(folder, config)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "left half-written by an interrupted run" in rerun.stderr
    assert "aurora-e-bike-manual.md" in rerun.stderr.split("interrupted run")[-1]
    assert_same_store(state_of(load_config(config), model), state_of(clean, model), exact=name == "onnx")


def test_edit_delete_add_rerun_equals_a_clean_ingest_for_each_provider(tmp_path, provider):
    """Incremental runs (one edit, one deletion, one addition) leave what one clean ingest of the result leaves."""
    name, model = provider
    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    settings = load_config(write_config(tmp_path, "store"))
    ingest([folder], settings, embedder=model)
    change(folder)
    report = ingest([folder], settings, embedder=model)
    assert report.counts == {"new": 1, "changed": 1, "unchanged": 7, "removed": 1, "failed": 0}
    (tmp_path / "clean").mkdir()
    clean_folder = tmp_path / "clean" / "docs"
    shutil.copytree(folder, clean_folder)
    clean = load_config(write_config(tmp_path / "clean", "store"))
    ingest([clean_folder], clean, embedder=model)
    assert_same_store(state_of(settings, model), state_of(clean, model), exact=name == "onnx")


def test_kill_at_a_random_moment_then_rerun(tmp_path, clean_state, embedder):
    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    change(folder)
    config = write_config(tmp_path, "store")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", str(folder), "--config", str(config), "-q"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest = tmp_path / "store" / "manifest-crash_test.sqlite"
    deadline = time.monotonic() + 120
    while not manifest.exists() and time.monotonic() < deadline:  # wait until it has started writing
        time.sleep(0.05)
    time.sleep(random.uniform(0.5, 4.0))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    rerun = run_cli(folder, config)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_same_store(state_of(load_config(config), embedder), clean_state)


def test_kill_mid_write_on_neo4j_then_rerun_equals_a_clean_run(tmp_path, clean_state, embedder, neo4j_server):
    """The same guarantee on the graph store: the rerun leaves exactly a clean run's chunks (and a whole graph)."""
    from rag.stores import base_store, build_store

    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    config = tmp_path / "neo4j.yaml"
    config.write_text(
        f"store:\n  kind: neo4j\n  uri: {neo4j_server}\n  collection: crash_graph\n  state: {tmp_path / 'state'}\n"
        "ingest:\n  window: 4\n"
    )
    settings = load_config(config)
    ingest([folder], settings, embedder=embedder)
    change(folder)
    killed = run_cli(folder, config, crash_at="write:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    rerun = run_cli(folder, config)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_same_store(state_of(settings, embedder), clean_state)
    store = base_store(build_store(settings.store, embedder.name, embedder.dimension))
    try:
        records, _, _ = store.driver.execute_query(
            "MATCH (d:Document_crash_graph) OPTIONAL MATCH (d)-[:HAS_CHUNK]->(c) "
            "WITH d, count(c) AS n RETURN count(d) AS documents, sum(n) AS chunks, min(n) AS fewest"
        )
        assert records[0]["documents"] == len({meta["source"] for _, meta in clean_state.rows.values()})
        assert records[0]["chunks"] == len(clean_state.rows) and records[0]["fewest"] >= 1
    finally:
        store.close()
