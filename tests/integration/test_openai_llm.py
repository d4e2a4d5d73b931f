"""The OpenAI-compatible LLM backend against a real server: our model process (llama-cpp-python's server)."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from rag.errors import LLMError
from rag.llms.openai_compat import OpenAICompatLLM
from rag.packaged import models

from ..support.net import free_port

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "Say hello in one short sentence."}]


@pytest.fixture(scope="module")
def server():
    model = models.pull("smollm2-135m-instruct-q4_1", download=False)
    port = free_port()
    # Our model process (llama-cpp-python's server behind the CPU guard, rag/llms/gguf.py) on a fixed port.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag.llms.worker",
            "--model",
            str(model),
            "--port",
            str(port),
            "--n_ctx",
            "1024",
            "--alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the llama.cpp server (python -m rag.llms.worker) did not start within 120 s")
    yield process, url
    process.send_signal(signal.SIGCONT)
    process.terminate()
    process.wait(timeout=20)


def test_complete_and_stream_against_the_real_server(server):
    _, url = server
    llm = OpenAICompatLLM("smollm2", url, max_tokens=24, temperature=0.0, timeout_s=60)
    completion = llm.complete(QUESTION)
    assert completion.text.strip() and completion.completion_tokens > 0
    tokens = list(llm.stream(QUESTION))
    assert len(tokens) > 2
    streamed = "".join(tokens)
    assert len(streamed.split()) >= 3 and "data:" not in streamed  # SSE framing parsed away


def test_a_paused_server_gives_the_documented_timeout_error(server):
    process, url = server
    llm = OpenAICompatLLM("smollm2", url, max_tokens=8, timeout_s=2, retries=0)
    process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(LLMError, match=r"did not answer within 2 s — is it running\? see README#llm"):
            llm.complete(QUESTION)
        assert time.monotonic() - started < 10
    finally:
        process.send_signal(signal.SIGCONT)


def test_a_refused_connection_gives_the_documented_error():
    llm = OpenAICompatLLM("any", f"http://127.0.0.1:{free_port()}/v1", retries=1)
    with pytest.raises(LLMError, match=r"is unreachable \(ConnectError\) — is it running\? see README#llm"):
        llm.complete(QUESTION)
