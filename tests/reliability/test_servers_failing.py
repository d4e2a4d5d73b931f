"""Servers and disks failing: an LLM server that answers garbage, non-JSON, an error event or no stream at all
(a real HTTP server on loopback), through the library and the REST API — each a clear error in that one
request, the API stays up and answers the next question; the store's disk full (a small tmpfs) or read-only
— a clear error naming the problem, no traceback, nothing half-written, and a rerun with space converges."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from rag.errors import LLMError
from rag.llms.base import LLMOptions
from rag.llms.openai_compat import OpenAICompatLLM
from tests.conftest import EXAMPLES, REPO
from tests.support.tables import print_table

pytestmark = pytest.mark.slow

# path suffix → (status, content type, body): what a broken or misconfigured server sends back
BROKEN = {
    "html": (200, "text/html", b"<html><body>It works!</body></html>"),
    "not-json": (200, "application/json", b"{'choices': oops"),
    "no-choices": (200, "application/json", b'{"id": "x", "object": "chat.completion"}'),
    "garbage-stream": (200, "text/event-stream", b"data: {not json}\n\ndata: [DONE]\n\n"),
    "error-event": (200, "text/event-stream", b'data: {"error": {"message": "model overloaded"}}\n\n'),
    "server-error": (500, "application/json", b'{"error": {"message": "CUDA out of memory"}}'),
    # What llama.cpp's server sends for a prompt over its context window: 200, an event stream, no event at all.
    "empty-stream": (200, "text/event-stream; charset=utf-8", b""),
    # What other servers send: a JSON error where the stream should be.
    "json-error": (200, "application/json", b'{"error": {"message": "maximum context length is 4096 tokens"}}'),
}
EXPECTED = {
    "html": "not JSON",  # complete(); the stream says "without an OpenAI-compatible event stream"
    "not-json": "not JSON",
    "no-choices": "not a chat completion",
    "garbage-stream": "not an OpenAI chunk",
    "error-event": "model overloaded",
    "server-error": "500",
    "empty-stream": "not JSON",
    "json-error": "not a chat completion",
}
STREAMED = {  # what the stream says where it differs from complete()
    "html": "without an OpenAI-compatible event stream",
    "not-json": "without an OpenAI-compatible event stream",
    "no-choices": "without an OpenAI-compatible event stream",
    "empty-stream": "ended the answer before its first token .* longer than the model's context",
    "json-error": r"refused the request: maximum context length is 4096 tokens — .* \(llm.n_ctx\)",
}


ROWS: list[tuple[str, str]] = []


@pytest.fixture(scope="module", autouse=True)
def table(request):
    yield
    print_table(request, f"{'fault':<34} what the user is told", [f"{f:<34} {m[:150]}" for f, m in ROWS])


def error_line(stderr: str) -> str:
    return next((line for line in stderr.splitlines() if line.startswith("error:")), stderr.strip()[-150:])


class Broken(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        kind = self.path.split("/")[1]
        status, content_type, body = BROKEN[kind]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def broken_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_llm_server_is_a_clear_error(kind, broken_server):
    llm = OpenAICompatLLM("m", f"{broken_server}/{kind}/v1", api_key_env="", timeout_s=10, retries=0)
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(LLMError, match=STREAMED.get(kind, EXPECTED[kind])) as raised:
        list(llm.stream(messages))
    ROWS.append((f"LLM server: {kind}", str(raised.value)))
    if kind not in ("garbage-stream", "error-event"):
        with pytest.raises(LLMError, match=EXPECTED[kind]):
            llm.complete(messages)


def test_the_api_answers_503_per_request_and_stays_up(broken_server, tmp_path, embedder):
    from service.api import create_app
    from service.rag_service import RagService
    from tests.integration.test_server import tmp_settings

    settings = tmp_settings(tmp_path)
    settings.llm = LLMOptions.of({"backend": "openai", "base_url": f"{broken_server}/garbage-stream/v1"})
    service = RagService(settings)
    service.embedder = embedder
    service.library._embedder = embedder
    with TestClient(create_app(service)) as client:
        manual = EXAMPLES / "aurora-e-bike-manual.md"
        assert client.post("/ingest", files=[("files", (manual.name, manual.read_bytes()))]).status_code == 200
        question = {"question": "How long does the battery of the Aurora e-bike last?"}
        for _ in range(2):
            response = client.post("/query", json=question)
            assert response.status_code == 503 and "not an OpenAI chunk" in response.json()["detail"]
            assert client.get("/health").status_code == 200
        chat = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": question["question"]}]}
        )
        assert chat.status_code == 503 and "not an OpenAI chunk" in chat.json()["detail"]


@contextlib.contextmanager
def tmpfs(path, size: str):
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def run_ingest(folder, config, cwd):
    env = {k: v for k, v in os.environ.items() if k != "RAG_INGEST_CRASH_AT"} | {"PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "ingest", str(folder), "--config", str(config), "-q"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_a_full_disk_then_space_again_converges(tmp_path, embedder):
    from rag.config import load_config
    from tests.integration.test_ingest import snapshot
    from tests.reliability.test_crash_points import agreement

    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    with tmpfs(tmp_path / "disk", "1m") as disk:
        config = tmp_path / "ingest.yaml"
        config.write_text(f"store:\n  path: {disk / 'store'}\n  collection: full_disk\n")
        full = run_ingest(folder, config, tmp_path)
        assert full.returncode not in (0, -9), full.stderr[-2000:]
        assert "Traceback" not in full.stderr and "No space left" in full.stderr, full.stderr[-2000:]
        ROWS.append(("store disk full (1 MB tmpfs)", error_line(full.stderr)))
        subprocess.run(["mount", "-o", "remount,size=256m", str(disk)], check=True)
        again = run_ingest(folder, config, tmp_path)
        assert again.returncode == 0, again.stderr[-2000:]

        # Read-only (before this process opens the store: an open database keeps the remount busy).
        edited = folder / "northwind-press-release.md"
        original = edited.read_text()
        edited.write_text("# Changed\n\nThe workshop moved to Zwolle.\n")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        readonly = run_ingest(folder, config, tmp_path)
        assert readonly.returncode not in (0, -9) and "Traceback" not in readonly.stderr, readonly.stderr[-2000:]
        assert "read-only" in readonly.stderr.lower(), readonly.stderr[-2000:]
        ROWS.append(("store disk read-only", error_line(readonly.stderr)))
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        edited.write_text(original)
        assert run_ingest(folder, config, tmp_path).returncode == 0
        settings = load_config(str(config))
        stored, keyword, ledger, pending = agreement(settings, embedder)
        assert stored == keyword == ledger and stored and pending == []
        after = snapshot(settings, embedder)

        clean = tmp_path / "clean.yaml"
        clean.write_text(f"store:\n  path: {tmp_path / 'clean'}\n  collection: full_disk\n")
        assert run_ingest(folder, clean, tmp_path).returncode == 0
        assert after == snapshot(load_config(str(clean)), embedder)


@pytest.mark.milvus_server
def test_the_milvus_server_stopped_mid_ingest_and_queries_then_back(
    tmp_path, monkeypatch, embedder, milvus_server, milvus_process
):
    """Stop the real Milvus server while an ingest writes: the ingest stops with a clear error (no traceback),
    a query fails with a clear error; start it again: the rerun converges to a clean run and queries answer."""
    from rag.config import load_config
    from rag.errors import StoreError
    from rag.search import search
    from tests.integration.test_ingest import snapshot
    from tests.reliability.test_crash_points import abstracts, agreement, config_for, finished

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "corpus"
    abstracts(folder, 120)
    config = config_for(tmp_path, "milvus", milvus_server)
    env = {k: v for k, v in os.environ.items() if k != "RAG_INGEST_CRASH_AT"} | {"PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", str(folder), "--config", config, "-q"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while process.poll() is None and finished(tmp_path / "manifest.sqlite") < 5:
        time.sleep(0.1)
    milvus_process.stop()
    try:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2 and "Traceback" not in stderr, stderr[-2000:]
        assert "Milvus" in stderr, stderr[-2000:]
        ROWS.append(("Milvus server stopped mid-ingest", error_line(stderr)))
        settings = load_config(config)
        with pytest.raises(StoreError, match="Milvus") as raised:
            search(settings, "What causes scurvy?", k=3, embedder=embedder)
        ROWS.append(("Milvus server down, a query", str(raised.value)))
    finally:
        milvus_process.start()
    assert milvus_server.endswith(f":{milvus_process.listen_port}"), "the restarted server moved to another port"
    rerun = run_ingest(folder, config, tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    stored, keyword, ledger, pending = agreement(settings, embedder)
    assert stored == keyword == ledger and pending == []
    clean = tmp_path / "clean.yaml"
    clean.write_text(f"store:\n  path: {tmp_path / 'clean'}\n  collection: milvus_restart\n")
    assert run_ingest(folder, clean, tmp_path).returncode == 0
    assert snapshot(settings, embedder) == snapshot(load_config(str(clean)), embedder)
    assert search(settings, "What causes scurvy?", k=3, embedder=embedder)
