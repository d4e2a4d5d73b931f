"""Loopback helpers for tests that start servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NETGUARD = Path(__file__).resolve().parent / "netguard"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an app process under test: its store, uploads and caches in `tmp_path`, and the
    no-network guard (tests/support/netguard) loaded at start."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(NETGUARD), str(REPO)]),
        "RAG__STORE__PATH": str(tmp_path / "chroma"),
        "RAG__UPLOADS__DIR": str(tmp_path / "library"),
        "RAG__RETRIEVER__CACHE": str(tmp_path / "rewrites.sqlite"),
        "RAG__CHAT__CONVERSATIONS": str(tmp_path / "conversations"),
        "RAG__CHAT__FEEDBACK": str(tmp_path / "feedback.jsonl"),
        "EVAL__SETS": str(tmp_path / "sets"),
        **extra,
    }


def start_process(args: list[str], env: dict[str, str], ready_url: str, timeout: float = 120) -> subprocess.Popen:
    """Start `python <args>` in the repo and wait until `ready_url` answers 200 (fails with its output if not)."""
    import httpx

    process = subprocess.Popen(
        [sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.5)
    process.kill()
    output = process.communicate(timeout=30)[0]
    raise AssertionError(f"{' '.join(args)} did not come up at {ready_url}:\n{output[-3000:]}")


def send_json(handler, status: int, payload: object) -> None:
    """Answer a BaseHTTPRequestHandler request with JSON."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
