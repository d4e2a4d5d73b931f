"""SIGKILL an ingest at 21 points on Chroma and 10 on the real Milvus server — between files, mid-batch, between
the store write and the keyword index, between a write and the manifest commit, during a delete and a prune,
during the keyword-index rebuild, during the recovery of an earlier crash — then rerun and compare with a clean
run: 0 lost chunks, 0 extra, the same vectors (cosine >= 0.9999) and top-10 search results, and the vector store,
keyword index and manifest agree. A series of kills at fixed intervals commits more every time. The table is
printed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys

import pytest

from ingest.manifest import Manifest, manifest_file
from ingest.run import ingest
from rag.config import load_config
from rag.stores import build_store
from tests.conftest import EXAMPLES, REPO
from tests.integration.test_crash import change, clean_run
from tests.support.store_state import assert_same_store, same_tops, state_of, vector_agreement
from tests.support.tables import print_table

pytestmark = pytest.mark.slow

# (scenario, RAG_INGEST_CRASH_AT): "change" = one file edited, one deleted, one added since the last run;
# "first" = an empty store; "recover" = killed mid-write, then killed again while the next run recovers.
CHROMA_POINTS = [
    ("change", "loaded:1"),  # a file parsed, nothing of it written
    ("change", "begin:1"),  # marked pending in the manifest, nothing written
    ("change", "begin:2"),  # between files
    ("change", "write:1"),  # mid-file: the first batch written
    ("change", "write:2"),
    ("change", "index:1"),  # vectors written, keyword index not yet
    ("change", "index:2"),
    ("change", "stale:1"),  # old chunks deleted, manifest not committed
    ("change", "unindex:1"),  # during the prune of the deleted file: vectors gone, keyword rows not
    ("change", "remove:1"),  # the prune done in the store, the manifest not told
    ("change", "commit:1"),  # one file committed, the next not
    ("change", "commit:2"),  # everything committed, the keyword matrix not rebuilt
    ("change", "rebuild:1"),  # during the keyword-index rebuild
    ("first", "loaded:3"),
    ("first", "begin:5"),
    ("first", "write:6"),
    ("first", "index:5"),
    ("first", "commit:4"),
    ("first", "commit:9"),
    ("first", "rebuild:1"),
    ("recover", "recover:1"),
]
MILVUS_POINTS = [
    ("change", "begin:1"),
    ("change", "write:2"),
    ("change", "index:1"),
    ("change", "stale:1"),
    ("change", "unindex:1"),
    ("change", "remove:1"),
    ("change", "commit:2"),
    ("change", "rebuild:1"),
    ("first", "commit:4"),
    ("recover", "recover:1"),
]
ROWS: list[tuple] = []
# The int8 ONNX MiniLM (Maven jar) instead of the torch one the suite pins: each CLI run starts in ~1 s instead of
# ~4 s (no torch import), 60+ runs here; its vectors are bit-equal whatever the batch.
ONNX_MINILM = {"RAG__EMBEDDING__PROVIDER": "onnx", "RAG__EMBEDDING__MODEL": "all-minilm-l6-v2-q"}


@pytest.fixture(scope="module", autouse=True)
def onnx_minilm_env():
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ONNX_MINILM.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="module")
def embedder(onnx_minilm_env):
    from rag.embeddings.onnx import OnnxEmbedder

    model = OnnxEmbedder("all-minilm-l6-v2-q")
    model.warm_up()
    return model


@pytest.fixture(scope="module", autouse=True)
def table(request):
    yield
    header = (
        "store   scenario  kill at      killed  lost  extra  keyword≠store  manifest≠store  pending  "
        "vectors≠ (bits)  min cosine  top-10 same"
    )
    line = "{:<7} {:<9} {:<12} {:<7} {:>4} {:>6} {:>14} {:>15} {:>8} {:>16} {:>11} {:>12}"
    print_table(request, header, [line.format(*(str(cell) for cell in r)) for r in ROWS])


def config_for(tmp_path, store: str, server: str | None) -> str:
    config = tmp_path / "ingest.yaml"
    if server:
        body = f"store:\n  kind: milvus\n  uri: {server}\n  collection: c{abs(hash(tmp_path.name)) % 10**8}\n"
    else:
        body = f"store:\n  path: {tmp_path / 'store'}\n  collection: crash_points\n"
    # A small window: several writes per file, so a kill can land between two of them.
    config.write_text(body + f"ingest:\n  window: 4\n  manifest: {tmp_path / 'manifest.sqlite'}\n")
    return str(config)


def run_cli(folder, config, cwd, crash_at=None):
    env = {k: v for k, v in os.environ.items() if k != "RAG_INGEST_CRASH_AT"} | {"PYTHONPATH": str(REPO)}
    if crash_at:
        env["RAG_INGEST_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "ingest", str(folder), "--config", config, "-q"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def agreement(settings, embedder) -> tuple[set, set, set, list]:
    """The chunk ids the vector store, its keyword index and the manifest each hold, and the pending sources."""
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        stored = {row.id for row in store.get()}
        keyword = store.keyword.ids()
    finally:
        store.close()
    manifest = Manifest(manifest_file(settings))
    try:
        ledger = {i for entry in manifest.entries().values() for i in entry.chunk_ids}
        pending = manifest.pending()
    finally:
        manifest.close()
    return stored, keyword, ledger, pending


@pytest.fixture(scope="module")
def clean_state(tmp_path_factory, embedder):
    return clean_run(tmp_path_factory, embedder)


def kill_then_rerun(scenario, crash_at, tmp_path, monkeypatch, embedder, clean_state, server=None):
    monkeypatch.chdir(tmp_path)  # a Milvus server's local state (.rag/) lands here, not in the checkout
    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    config = config_for(tmp_path, "milvus" if server else "chroma", server)
    settings = load_config(config)
    if scenario == "change":
        ingest([folder], settings, embedder=embedder)
    change(folder)
    if scenario == "recover":
        first = run_cli(folder, config, tmp_path, "write:2")
        assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    killed = run_cli(folder, config, tmp_path, crash_at)
    assert killed.returncode == -signal.SIGKILL, f"{crash_at} was never reached: {killed.stderr[-2000:]}"

    rerun = run_cli(folder, config, tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    stored, keyword, ledger, pending = agreement(settings, embedder)
    after = state_of(settings, embedder)
    differing, lowest = vector_agreement(after, clean_state)
    row = (
        "milvus" if server else "chroma", scenario, crash_at, "yes",
        len(set(clean_state.rows) - set(after.rows)), len(set(after.rows) - set(clean_state.rows)),
        len(keyword ^ stored), len(ledger ^ stored), len(pending), differing, f"{lowest:.6f}",
        "yes" if not same_tops(after, clean_state) else "NO",
    )  # fmt: skip
    ROWS.append(row)
    assert row[4:9] == (0, 0, 0, 0, 0)
    assert_same_store(after, clean_state)


@pytest.mark.parametrize(("scenario", "crash_at"), CHROMA_POINTS, ids=[f"{s}-{p}" for s, p in CHROMA_POINTS])
def test_chroma_kill_then_rerun_equals_a_clean_run(scenario, crash_at, tmp_path, monkeypatch, embedder, clean_state):
    kill_then_rerun(scenario, crash_at, tmp_path, monkeypatch, embedder, clean_state)


@pytest.mark.milvus_server
@pytest.mark.parametrize(("scenario", "crash_at"), MILVUS_POINTS, ids=[f"{s}-{p}" for s, p in MILVUS_POINTS])
def test_milvus_server_kill_then_rerun_equals_a_clean_run(
    scenario, crash_at, tmp_path, monkeypatch, embedder, clean_state, milvus_server
):
    kill_then_rerun(scenario, crash_at, tmp_path, monkeypatch, embedder, clean_state, milvus_server)


def abstracts(folder, count: int) -> None:
    """`count` SciFact abstracts, one text file each (a corpus big enough to be killed mid-way many times)."""
    import json

    from tests.conftest import SHARED

    folder.mkdir()
    with (SHARED / "scifact" / "corpus.jsonl").open() as corpus:
        for number, line in enumerate(corpus):
            if number >= count:
                break
            record = json.loads(line)
            (folder / f"{record['_id']}.txt").write_text(f"{record['title']}\n\n{record['text']}\n")


def finished(manifest_file) -> int:
    """How many sources the manifest has committed (0 before it exists), read without writing to it."""
    import sqlite3

    if not manifest_file.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{manifest_file}?mode=ro", uri=True, timeout=5)) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM sources").fetchone()[0]
        except sqlite3.OperationalError:  # the tables are not created yet
            return 0


def test_kills_every_few_seconds_commit_more_every_time(tmp_path, monkeypatch, embedder):
    """Kill an ingest of 900 files three times, each run a fixed 10 s after it started (model load included),
    as an outside probe did every 30 s on a busy machine: a window is what the model embeds in ~2 s
    (ingest.window_s), so files commit every few seconds, and a killed file's written chunks are reused, not wiped.
    Every run commits more than the one before; then a last run equals a clean run, vectors and top-10 results
    included."""

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "corpus"
    abstracts(folder, 900)
    config = tmp_path / "ingest.yaml"
    # The default window (512 chunks at most, ~2 s of embedding): what a user runs.
    config.write_text(f"store:\n  path: {tmp_path / 'store'}\n  collection: kills\n"
                      f"ingest:\n  manifest: {tmp_path / 'manifest.sqlite'}\n")  # fmt: skip
    settings = load_config(config)
    env = {k: v for k, v in os.environ.items() if k != "RAG_INGEST_CRASH_AT"} | {"PYTHONPATH": str(REPO)}
    committed: list[int] = []
    for _ in range(3):
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest", str(folder), "--config", str(config), "-q"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            process.wait(timeout=10)
            break  # finished before the kill
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        committed.append(finished(tmp_path / "manifest.sqlite"))
        before = committed[-2] if len(committed) > 1 else 0
        assert committed[-1] > before, f"a run killed after 10 s committed nothing more: {committed}"
    assert len(committed) == 3, f"the series finished after {len(committed)} kills: make the corpus bigger"
    final = run_cli(folder, str(config), tmp_path)
    assert final.returncode == 0, final.stderr[-2000:]
    stored, keyword, ledger, pending = agreement(settings, embedder)
    (tmp_path / "clean").mkdir()
    reference = load_config(config_for(tmp_path / "clean", "chroma", None))
    ingest([folder], reference, embedder=embedder)
    after, clean = state_of(settings, embedder), state_of(reference, embedder)
    differing, lowest = vector_agreement(after, clean)
    ROWS.append(
        ("chroma", f"{len(committed)} kills", "every 10 s", "yes", len(set(clean.rows) - set(after.rows)),
         len(set(after.rows) - set(clean.rows)), len(keyword ^ stored), len(ledger ^ stored), len(pending),
         differing, f"{lowest:.6f}", "yes" if not same_tops(after, clean) else "NO")
    )  # fmt: skip
    ROWS.append(("chroma", "", f"committed after each kill: {', '.join(map(str, committed))} of 900", *[""] * 9))
    assert_same_store(after, clean)
    assert keyword == stored == ledger and pending == []
