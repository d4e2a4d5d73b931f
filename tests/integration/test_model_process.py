"""The local model runs in a supervised process: a native crash, a hang or a kill fails one answer, never
the caller, and the next answer gets a fresh process. Real llama.cpp, real packaged models, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from rag.errors import LLMError
from rag.llms.gguf import cpu_flags
from rag.llms.local import LocalLLM
from rag.llms.supervisor import describe_exit
from rag.packaged import models
from tests.conftest import EXAMPLES
from tests.support.net import REPO, app_environment, free_port, start_process

pytestmark = pytest.mark.slow

SMALL = "smollm2-135m-instruct-q4_1"
LONG_ANSWER = [{"role": "user", "content": "Write a long story about a lighthouse keeper, at least 300 words."}]
HELLO = [{"role": "user", "content": "Say hello."}]


def _flags() -> str:
    return " ".join(sorted(cpu_flags() & {"avx2", "avx512f", "amx_int8"})) or "none"


def run_probe(model: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    path = models.pull(model, download=False)
    return subprocess.run(
        [sys.executable, "-m", "rag.llms.gguf", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize("model", ["qwen2.5-coder-0.5b-instruct-q4_k_m", SMALL])
def test_a_real_generation_in_a_child_process_exits_normally(model):
    """Fails (not crashes) on a machine where llama.cpp dies, e.g. an AMX CPU with a native build."""
    result = run_probe(model, "--tokens", "5")
    assert result.returncode == 0, (
        f"generating 5 tokens with {model}: the process {describe_exit(result.returncode)} on this CPU "
        f"[{_flags()}]; run `python -m rag doctor`. stderr: {result.stderr[-800:]}"
    )
    assert "generated 5 tokens" in result.stdout and "tokens/s" in result.stdout


def test_the_load_guard_reaches_llama_cpp():
    """RAG_LLAMA_REPACK=0 is the parameter the AMX fix sets: llama.cpp then allocates no repacked buffer."""
    repacked = run_probe(
        "qwen2.5-coder-0.5b-instruct-q4_k_m", "--tokens", "1", "--verbose", env={"RAG_LLAMA_REPACK": "1"}
    )
    plain = run_probe("qwen2.5-coder-0.5b-instruct-q4_k_m", "--tokens", "1", "--verbose", env={"RAG_LLAMA_REPACK": "0"})
    assert repacked.returncode == 0 and plain.returncode == 0, plain.stderr[-800:]
    assert "CPU_REPACK" in repacked.stderr
    assert "CPU_REPACK" not in plain.stderr and "CPU_Mapped model buffer size" in plain.stderr


@pytest.fixture
def small_llm():
    llm = LocalLLM(SMALL, n_ctx=1024, temperature=0.0, max_tokens=400, seed=7, timeout_s=60)
    llm.warm_up()
    yield llm
    llm.process.stop()


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_a_model_that_dies_mid_answer_fails_that_answer_and_comes_back(small_llm, sig):
    first_pid, restarts = small_llm.process.pid, small_llm.process.restarts
    tokens = []
    with pytest.raises(LLMError) as failure:
        for token in small_llm.stream(LONG_ANSWER):
            tokens.append(token)
            if len(tokens) == 3:
                os.kill(first_pid, sig)
    assert len(tokens) >= 3
    message = str(failure.value)
    assert f"crashed while answering (its process killed by {sig.name}" in message
    assert "the next question starts it again" in message and "python -m rag doctor" in message

    again = small_llm.complete(HELLO, max_tokens=8)
    assert again.text.strip() and again.completion_tokens > 0
    assert small_llm.process.pid != first_pid and small_llm.process.restarts == restarts + 1


def test_a_hung_model_times_out_is_stopped_and_comes_back(small_llm):
    small_llm.timeout_s = 3
    first_pid = small_llm.process.pid
    os.kill(first_pid, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"did not answer within 3 s and was stopped; the next question starts it"):
        small_llm.complete(HELLO, max_tokens=8)
    assert time.monotonic() - started < 15
    assert small_llm.process.exit_reason() == "killed by SIGKILL (killed)"
    small_llm.timeout_s = 60
    assert small_llm.complete(HELLO, max_tokens=8).text.strip()
    assert small_llm.process.pid != first_pid


def test_the_model_process_ends_when_its_parent_is_killed(tmp_path):
    script = (
        "from rag.llms.local import LocalLLM\n"
        f"llm = LocalLLM({SMALL!r}, n_ctx=512, n_threads=1)\n"
        "llm.warm_up()\n"
        "print(llm.process.pid, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the model process outlived its parent")


def test_the_api_stays_up_when_the_model_crashes_mid_answer(tmp_path):
    """A real `python -m rag serve`: the crash is an error event in that one answer; the next one works."""
    import psutil

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_environment(tmp_path, RAG__LLM__MODEL=SMALL, RAG__LLM__MAX_TOKENS="200")
    server = start_process(["-m", "rag", "serve", "--port", str(port)], env, f"{base}/health")
    try:
        aurora = EXAMPLES / "aurora-e-bike-manual.md"
        ingested = httpx.post(f"{base}/ingest", files=[("files", (aurora.name, aurora.read_bytes()))], timeout=120)
        assert ingested.status_code == 200, ingested.text
        question = {"question": "Describe the Aurora battery and how to charge it.", "stream": True}

        events: list[str] = []
        with httpx.stream("POST", f"{base}/query", json=question, timeout=300) as response:
            for line in response.iter_lines():
                if line.startswith("event: "):
                    events.append(line[7:])
                    if events[-1] == "token" and events.count("token") == 2:
                        children = psutil.Process(server.pid).children()
                        (worker,) = [c for c in children if "rag.llms.worker" in c.cmdline()]
                        worker.send_signal(signal.SIGSEGV)
                elif line.startswith("data: ") and events and events[-1] == "error":
                    assert "crashed while answering" in line and "SIGSEGV" in line
        assert events[-2:] == ["error", "done"], events
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200

        answer = httpx.post(f"{base}/query", json={"question": question["question"]}, timeout=300)
        assert answer.status_code == 200, answer.text
        assert answer.json()["found"] and answer.json()["answer"].strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
