"""Runs a local model in its own process and brings it back when it dies.

A native crash (segfault), a hang or an out-of-memory kill in llama.cpp ends only the model process
(:mod:`rag.llms.worker`); the caller sees an error for the one request in flight and the next request
starts a fresh process. Processes are shared per (model file, context, threads, seed) within a Python
process, stop when it exits, and stop by themselves when it is killed.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from rag.errors import LLMError

log = logging.getLogger(__name__)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def describe_exit(returncode: int) -> str:
    """'killed by SIGSEGV (segmentation fault)' / 'exited with status 1'."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
            return f"killed by {sig.name} ({signal.strsignal(sig) or 'signal'})".replace("(Killed)", "(killed)")
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class ModelProcess:
    """One model worker: started on demand, restarted after it died."""

    def __init__(self, model_path: Path, alias: str, n_ctx: int, n_threads: int, seed: int, start_timeout_s: float):
        self.model_path = model_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.start_timeout_s = start_timeout_s
        self.restarts = 0
        self._process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self._url: str | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def url(self) -> str:
        """The worker's OpenAI-compatible base URL, starting (or restarting) the worker when needed."""
        with self._lock:
            if self._process is not None and self._process.poll() is None and self._url:
                return self._url
            if self._process is not None:
                self.restarts += 1
                log.warning("model process %s; restarting", self.exit_reason())
                self._cleanup_log()
            self._start()
            assert self._url
            return self._url

    def exit_reason(self, wait_s: float = 0.0) -> str | None:
        """Why the worker ended, or None while it runs (waits up to `wait_s` for a dying one)."""
        if self._process is None:
            return None
        try:
            code = self._process.wait(timeout=wait_s) if wait_s else self._process.poll()
        except subprocess.TimeoutExpired:
            return None
        return None if code is None else describe_exit(code)

    def log_tail(self, lines: int = 3) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:] if line.strip())

    def kill(self) -> None:
        """End a hung or misbehaving worker now (the next request starts another)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._cleanup_log()

    def _start(self) -> None:
        handle, name = tempfile.mkstemp(prefix="rag-model-", suffix=".log")
        self._log_path = Path(name)
        command = [
            sys.executable,
            "-m",
            "rag.llms.worker",
            "--model",
            str(self.model_path),
            "--alias",
            self.alias,
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--seed",
            str(self.seed),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        # A session of its own: Ctrl-C in a terminal reaches the app, which stops the worker itself.
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=handle, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
        os.close(handle)
        port = self._wait_ready()
        self._url = f"http://127.0.0.1:{port}/v1"

    def _wait_ready(self) -> int:
        assert self._process is not None and self._process.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self._process.stdout.readline().decode()), daemon=True)
        reader.start()
        reader.join(self.start_timeout_s)
        ready = lines[0].strip() if lines else ""
        if ready.startswith("READY "):
            return int(ready.split()[1])
        self.kill()
        reason = self.exit_reason(wait_s=5) or f"did not start within {self.start_timeout_s:.0f} s"
        raise LLMError(
            f"the local model {self.model_path.name} could not start: its process {reason} "
            f"({self.log_tail() or 'no output'}); run `python -m rag doctor` to check the CPU, build and model"
        )

    def _cleanup_log(self) -> None:
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None


_SHARED: dict[tuple, ModelProcess] = {}
_SHARED_LOCK = threading.Lock()


def shared_process(
    model_path: Path, alias: str, n_ctx: int, n_threads: int, seed: int, start_timeout_s: float = 300.0
) -> ModelProcess:
    """The one worker for these settings in this Python process (a judge and a generator share it)."""
    key = (str(model_path), alias, n_ctx, n_threads, seed)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = ModelProcess(model_path, alias, n_ctx, n_threads, seed, start_timeout_s)
        return _SHARED[key]


@atexit.register
def _stop_all() -> None:
    for process in list(_SHARED.values()):
        try:
            process.stop()
        except Exception:  # exiting anyway; never mask the real exit status
            log.debug("stopping a model process failed", exc_info=True)
