"""Load: one real `python -m rag serve` (uvicorn, Chroma, MiniLM, the packaged Qwen 0.5B with a fixed seed) asked
the same questions — single turns and follow-ups whose meaning depends on their own history — at 1 and 8
concurrent clients, then while a document is uploaded. No request fails, every answer cites the same documents as
the sequential run (no mixed histories; the wording may differ, see `sources`), and p50/p95 latency and throughput
per level are printed. Three passages per answer instead of five: what is tested is isolation under concurrency,
not recall, and the shorter prompt is most of each answer's time on one core."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import EXAMPLES, REPO
from tests.support.net import app_environment, free_port, start_process

pytestmark = pytest.mark.slow

TOKEN = "load-token"
# A conversation per client: the last question is only answerable with its own history.
CONVERSATIONS = [
    [("user", "How long does the battery of the Aurora e-bike last?")],
    [("user", "How many repair bays does the Amersfoort workshop have?")],
    [
        ("user", "Where did Northwind Cycles open its second workshop?"),
        ("assistant", "Northwind Cycles opened its second workshop in Amersfoort [1]."),
        ("user", "When is it open?"),
    ],
    [
        ("user", "How do I reset the Aurora display?"),
        ("assistant", "Hold the power button for ten seconds [1]."),
        ("user", "And how long does its battery take to charge?"),
    ],
    [("user", "Who won the Stanley Cup in 1990?")],
    [("user", "What is the capital of Mongolia?")],  # not in the documents: the no-answer reply
]


def sources(text: str) -> tuple[bool, str]:
    """What must not change under load: found or not, and the documents cited. (The wording may: llama.cpp
    reuses the KV cache of whichever prompt came before, so greedy decoding is not byte-stable across orders.)"""
    return "could not find the answer" in text, text.partition("Sources:")[2].strip()


def ask(base: str, conversation) -> tuple[str, float]:
    messages = [{"role": role, "content": content} for role, content in conversation]
    started = time.perf_counter()
    response = httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": "powerhouse-rag", "messages": messages},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    return response.json()["choices"][0]["message"]["content"], seconds


def test_concurrent_clients_get_the_sequential_answers(tmp_path, request):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_environment(
        tmp_path,
        RAG_API_TOKEN=TOKEN,
        RAG__LLM__MODEL="qwen2.5-coder-0.5b-instruct-q4_k_m",
        RAG__LLM__TEMPERATURE="0",
        RAG__ANSWER__K="3",
    )
    process = start_process(["-m", "rag", "serve", "--port", str(port)], env, f"{base}/health")
    rows = []
    try:
        files = [("files", (path.name, path.read_bytes())) for path in sorted(EXAMPLES.glob("*.md"))]
        files += [("files", (path.name, path.read_bytes())) for path in sorted(EXAMPLES.glob("*.csv"))]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(f"{base}/ingest", files=files, headers=headers, timeout=300).status_code == 200

        reference, latencies = {}, []
        started = time.perf_counter()
        for number, conversation in enumerate(CONVERSATIONS):
            reference[number], seconds = ask(base, conversation)
            latencies.append(seconds)
        rows.append((1, len(CONVERSATIONS), latencies, time.perf_counter() - started))
        assert "Amersfoort" not in reference[0] and "8:30" in reference[2], reference

        for clients in (8,):  # eight at once: two conversations are asked twice at the same time
            work = [number % len(CONVERSATIONS) for number in range(max(clients, len(CONVERSATIONS)))]
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                results = list(pool.map(lambda number: ask(base, CONVERSATIONS[number]), work))
            rows.append((clients, len(work), [seconds for _, seconds in results], time.perf_counter() - started))
            for number, (text, _) in zip(work, results, strict=True):
                assert sources(text) == sources(reference[number]), (clients, number, text, reference[number])

        # Ingest while querying: an upload lands while 3 clients ask; every question is answered. (Not compared
        # with the reference: a new document changes BM25's statistics, and so the ranking, by design.)
        pdf = EXAMPLES / "pypdf_crazyones.pdf"
        upload = threading.Thread(
            target=httpx.post,
            args=(f"{base}/ingest",),
            kwargs={"files": [("files", (pdf.name, pdf.read_bytes()))], "headers": headers, "timeout": 600},
        )
        upload.start()
        with ThreadPoolExecutor(3) as pool:  # a single turn, a follow-up and a question not in the documents
            answered = list(pool.map(lambda number: ask(base, CONVERSATIONS[number]), (0, 3, 5)))
        upload.join(timeout=600)
        assert all(text for text, _ in answered)
        listed = httpx.get(f"{base}/documents", headers=headers, timeout=60).json()
        assert any("crazyones" in str(document) for document in listed), listed
    finally:
        process.terminate()
        process.wait(timeout=30)
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and rows:
            reporter.write_line("")
            reporter.write_line("clients  requests  p50 s  p95 s  answers/s")
            for clients, count, latencies, wall in rows:
                p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
                reporter.write_line(
                    f"{clients:>7}  {count:>8}  {statistics.median(latencies):5.1f}  {p95:5.1f}  {count / wall:9.2f}"
                )


APP_CONVERSATIONS = [
    ["How long does the battery of the Aurora e-bike last?", "How long does it take to charge?"],
    ["Where did Northwind Cycles open its second workshop?", "When is it open?"],
    ["How many repair bays does the Amersfoort workshop have?", "Who is the founder quoted in the release?"],
]


def share_apptest_runtime(monkeypatch) -> None:
    """Make AppTest's process-wide swaps safe for sessions in threads, as one real server is. Each `AppTest.run`
    (1) puts a mock Runtime into `Runtime._instance` and sets it back to None when it ends, and (2) patches
    `config.get_option` so that `global.appTest` reads True, restoring whatever it found when it ends. With runs
    overlapping, the first to end pulls both from under the others: "Runtime hasn't been created!" in their script
    threads (the last rerun never renders: citations stayed plain [1]), or widgets not recorded for testing (a
    KeyError on `delete_choice` in CI). Here the last Runtime set stands in between runs, and `global.appTest` reads
    True underneath every run's patch, so any order of ends leaves both in place."""
    from streamlit import config
    from streamlit.runtime import Runtime

    last = {}

    def current(cls):
        if cls._instance is not None:
            last["runtime"] = cls._instance
        return last.get("runtime")

    def instance(cls):
        if (runtime := current(cls)) is None:
            raise RuntimeError("Runtime hasn't been created!")
        return runtime

    def exists(cls) -> bool:
        return current(cls) is not None

    real_get_option = config.get_option

    def get_option(name: str):
        return True if name == "global.appTest" else real_get_option(name)

    monkeypatch.setattr(Runtime, "instance", classmethod(instance))
    monkeypatch.setattr(Runtime, "exists", classmethod(exists))
    monkeypatch.setattr(config, "get_option", get_option)


def test_shared_runtime_survives_overlapping_app_test_runs(monkeypatch):
    """The swaps of two overlapping AppTest runs (A starts, B starts, A ends) leave B's run with a Runtime and with
    `global.appTest` on only when shared — without it B sees neither, as in the CI failure."""
    from unittest.mock import MagicMock

    from streamlit import config
    from streamlit.runtime import Runtime
    from streamlit.testing.v1.util import patch_config_options

    def b_after_a_ended() -> tuple[bool, bool]:
        a, b = patch_config_options({"global.appTest": True}), patch_config_options({"global.appTest": True})
        Runtime._instance = MagicMock(spec=Runtime)
        a.__enter__()
        b.__enter__()
        Runtime.instance()  # B's script reads the Runtime while A's is current
        a.__exit__(None, None, None)
        Runtime._instance = None  # A's end
        try:
            return Runtime.exists(), config.get_option("global.appTest")
        finally:
            b.__exit__(None, None, None)

    assert b_after_a_ended() == (False, False)
    share_apptest_runtime(monkeypatch)
    assert b_after_a_ended() == (True, True)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_three_app_sessions_at_once_keep_their_own_histories(tmp_path, monkeypatch):
    """Three Streamlit sessions (AppTest, one thread each) over one store, two turns each: every session's answers
    equal the same conversation run alone in outcome and rendering, and each session's history holds only its own
    turns."""
    from streamlit.testing.v1 import AppTest

    from tests.integration.test_app import assistant_messages, upload

    monkeypatch.chdir(REPO)
    for key, value in {
        "RAG__STORE__PATH": tmp_path / "chroma",
        "RAG__UPLOADS__DIR": tmp_path / "library",
        "RAG__RETRIEVER__CACHE": tmp_path / "rewrites.sqlite",
        "RAG__LLM__TEMPERATURE": "0",
        "RAG__ANSWER__K": "3",
    }.items():
        monkeypatch.setenv(key, str(value))
    app = str(REPO / "apps" / "chat.py")
    first = AppTest.from_file(app, default_timeout=300)
    first.run()
    upload(first, EXAMPLES / "aurora-e-bike-manual.md", EXAMPLES / "northwind-press-release.md")

    def converse(turns: list[str]) -> tuple[list[str], list[str]]:
        session = AppTest.from_file(app, default_timeout=300)
        session.run()
        for turn in turns:
            session.chat_input[0].set_value(turn)
            session.run()
            assert not session.exception, session.exception
        answers = [m.markdown[0].value if m.markdown else m.info[0].value for m in assistant_messages(session)]
        asked = [m["content"] for m in session.session_state["messages"] if m["role"] == "user"]
        return answers, asked

    alone = [converse(turns) for turns in APP_CONVERSATIONS]
    share_apptest_runtime(monkeypatch)
    with ThreadPoolExecutor(len(APP_CONVERSATIONS)) as pool:
        together = list(pool.map(converse, APP_CONVERSATIONS))
    for turns, (answers, asked), reference in zip(APP_CONVERSATIONS, together, alone, strict=True):
        assert asked == turns  # no turn of another session in this one's history
        assert len(answers) == len(reference[0]) == len(turns)
        for answer, alone_answer in zip(answers, reference[0], strict=True):  # the same found / not-found outcome
            assert ("could not find" in answer) == ("could not find" in alone_answer), (turns, answers, reference[0])
            assert ("](#source-" in answer) == ("](#source-" in alone_answer), (answer, alone_answer)  # linked [n]
