"""Ingest with --engine ray on a local Ray cluster started by the tests: the same store as the local engine, the
same incremental, prune, bad-input and crash behaviour."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from ingest.run import ingest

from ..conftest import DOCUMENTS, EXAMPLES, REPO
from .test_ingest import by_source, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    from ingest.ray_engine import start_local_ray

    start_local_ray(num_cpus=2)  # address="local": this process's own instance (tried twice if it starts too slowly)
    yield ray
    ray.shutdown()


def on_ray(settings, workers=2):
    data = settings.ingest.model_copy(update={"engine": "ray"})
    data.ray = data.ray.model_copy(update={"workers": workers})
    return settings.model_copy(update={"ingest": data})


@pytest.mark.parametrize("provider", ["sentence_transformers", "onnx"])
def test_a_ray_ingest_equals_a_local_one(ray_cluster, docs, tmp_path, settings_for, provider):
    """Rows, vectors (cosine >= 0.9999; >= 1 - 1e-6 for the int8 ONNX model, embedded one text at a time) and the
    top-10 search results of a local ingest, with the torch MiniLM and the default int8 ONNX bge-small."""
    from rag.embeddings import SentenceTransformerEmbedder
    from rag.embeddings.onnx import OnnxEmbedder
    from tests.support.store_state import assert_same_store, state_of

    torch = provider == "sentence_transformers"
    model = SentenceTransformerEmbedder("all-MiniLM-L6-v2") if torch else OnnxEmbedder("bge-small-en-v1.5-q")
    embedding = {"provider": provider, "model": "all-MiniLM-L6-v2" if torch else "bge-small-en-v1.5-q"}
    local = settings_for(store={"path": str(tmp_path / "local")}, embedding=embedding)
    distributed = on_ray(settings_for(store={"path": str(tmp_path / "ray")}, embedding=embedding))
    ingest([docs], local, embedder=model)
    report = ingest([docs], distributed)  # the Ray workers build their own embedder from the settings
    assert report.exit_code == 0 and report.counts["new"] == 9
    assert_same_store(state_of(distributed, model), state_of(local, model), exact=provider == "onnx")


def test_incremental_prune_and_bad_inputs_on_ray(ray_cluster, docs, settings_for, embedder):
    settings = on_ray(settings_for())
    ingest([docs], settings, embedder=embedder)
    manual = docs / "aurora-e-bike-manual.md"
    manual.write_text(manual.read_text().replace("540 Wh", "625 Wh"))
    (docs / "northwind-support-faq.txt").unlink()
    shutil.copy(DOCUMENTS / "bad_inputs" / "pypdf_encrypted-file.pdf", docs / "locked.pdf")
    report = ingest([docs], settings, embedder=embedder)
    assert report.counts == {"new": 0, "changed": 1, "unchanged": 7, "removed": 1, "failed": 1}
    [failure] = report.failed
    assert failure.source == "docs/locked.pdf" and "encrypted" in failure.reason.lower()
    assert report.chunks_embedded == 1  # only the edited section; the rest of the file's vectors came back
    rows = snapshot(settings, embedder)
    assert any("625 Wh" in text for text, _ in by_source(rows, "docs/aurora-e-bike-manual.md").values())
    assert not by_source(rows, "docs/northwind-support-faq.txt") and not by_source(rows, "docs/locked.pdf")
    again = ingest([docs], settings, embedder=embedder)
    assert again.chunks_written == 0 and again.counts["unchanged"] == 8  # the locked PDF is retried and fails again


def test_killing_the_ray_driver_mid_write_then_rerun(tmp_path, embedder):
    """SIGKILL of the driver (python -m ingest --engine ray) while it writes; the rerun finishes the job."""
    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    config = tmp_path / "ray.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'store'}\n  collection: ray_crash\ningest:\n  window: 4\n")
    clean = tmp_path / "clean.yaml"
    clean.write_text(f"store:\n  path: {tmp_path / 'clean'}\n  collection: ray_crash\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAG_INGEST_CRASH_AT": "write:3"}
    command = [sys.executable, "-m", "ingest", str(folder), "-q", "--engine", "ray"]
    killed = subprocess.run([*command, "--config", str(config)], env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    env.pop("RAG_INGEST_CRASH_AT")
    rerun = subprocess.run([*command, "--config", str(config)], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "left half-written by an interrupted run" in rerun.stderr
    from rag.config import load_config

    ingest([folder], load_config(clean), embedder=embedder)
    assert snapshot(load_config(config), embedder) == snapshot(load_config(clean), embedder)


def test_ray_into_a_real_milvus_server(ray_cluster, docs, tmp_path, settings_for, embedder, milvus_server):
    settings = on_ray(
        settings_for(
            kind="milvus",
            store={"uri": milvus_server, "collection": "ray_server"},
            ingest={"manifest": str(tmp_path / "manifest.sqlite")},
        )
    )
    local = settings_for(store={"path": str(tmp_path / "local")})
    assert ingest([docs], settings, embedder=embedder).exit_code == 0
    ingest([docs], local, embedder=embedder)
    assert snapshot(settings, embedder) == snapshot(local, embedder)
    (docs / "northwind-support-faq.txt").unlink()
    second = ingest([docs], settings, embedder=embedder)
    assert second.counts["removed"] == 1 and second.chunks_written == 0
