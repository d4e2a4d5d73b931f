"""The MCP server as assistants reach it: a real `python -m rag mcp` subprocess driven by the official SDK's client,
over stdio (what desktop assistants launch) and streamable HTTP (behind the bearer token). Real MiniLM, Chroma,
BM25 and the packaged Qwen 0.5B in its own process — which the crash test kills in the middle of an answer."""

from __future__ import annotations

import base64
import os
import signal
import sys
import time

import anyio
import httpx
import psutil
import pytest
from mcp import Client, StdioServerParameters

from ingest.run import ingest
from rag.config import load_config
from tests.conftest import EXAMPLES
from tests.support.net import REPO, app_environment, free_port, start_process

pytestmark = pytest.mark.slow
TOKEN = "mcp-s3cret"
QUESTION = "How long does the battery of the Aurora e-bike last?"


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """A store of examples/docs under tmp_path, and the environment the server process runs in."""
    env = app_environment(tmp_path)
    for key in ("RAG__STORE__PATH", "RAG__UPLOADS__DIR", "RAG__RETRIEVER__CACHE"):
        monkeypatch.setenv(key, env[key])
    assert ingest([EXAMPLES], load_config()).exit_code == 0
    return env


def stdio(env: dict[str, str], *args: str) -> Client:
    params = StdioServerParameters(command=sys.executable, args=["-m", "rag", "mcp", *args], env=env, cwd=str(REPO))
    return Client(params, read_timeout_seconds=300)


def text_of(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def check_every_tool(client: Client, ingest: bool = False) -> dict:
    """Each read tool called as an assistant would, with the failures a person can make; returns a passage."""
    listed = await client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    read_tools = {"search", "ask", "list_documents", "get_chunk"}
    assert set(tools) == read_tools | ({"ingest"} if ingest else set())  # ingest is opt-in
    assert tools["search"].input_schema["properties"]["k"]["minimum"] == 1
    assert "citations" in tools["ask"].description
    assert all(tools[name].annotations.read_only_hint for name in read_tools)

    found = await client.call_tool("search", {"query": "Where is IBM headquartered?", "k": 2})
    assert not found.is_error
    passages = found.structured_content["passages"]
    assert len(passages) == 2 and passages[0]["source"] == "docs/docling_wiki.md" and "Armonk" in passages[0]["text"]
    assert passages[0]["uri"] == "doc://docs%2Fdocling_wiki.md" and passages[0]["score"] is not None

    only = await client.call_tool(
        "search", {"query": "battery", "k": 3, "filter": {"source": ["docs/northwind-support-faq.txt"]}}
    )
    assert {p["source"] for p in only.structured_content["passages"]} == {"docs/northwind-support-faq.txt"}
    bm25 = await client.call_tool("search", {"query": "Armonk", "k": 1, "strategy": "bm25"})
    assert bm25.structured_content["passages"][0]["source"] == "docs/docling_wiki.md"

    bad_k = await client.call_tool("search", {"query": "battery", "k": 0})
    assert bad_k.is_error and "greater than or equal to 1" in text_of(bad_k) and "Traceback" not in text_of(bad_k)
    unknown_field = await client.call_tool("search", {"query": "battery", "filter": {"colour": "red"}})
    assert unknown_field.is_error and "unknown metadata field 'colour'" in text_of(unknown_field)
    assert "source" in text_of(unknown_field)  # it names the fields the store has
    unknown_strategy = await client.call_tool("search", {"query": "battery", "strategy": "telepathy"})
    assert unknown_strategy.is_error and "unknown strategy 'telepathy'" in text_of(unknown_strategy)

    documents = (await client.call_tool("list_documents", {})).structured_content["result"]
    assert {d["id"] for d in documents} >= {"docs/aurora-e-bike-manual.md", "docs/docling_wiki.md"}
    assert all(d["chunks"] > 0 for d in documents)

    window = await client.call_tool("get_chunk", {"id": passages[0]["id"], "neighbours": 1})
    assert window.structured_content["chunk"]["id"] == passages[0]["id"]
    assert len(window.structured_content["before"]) + len(window.structured_content["after"]) >= 1
    missing = await client.call_tool("get_chunk", {"id": "no-such-chunk"})
    assert missing.is_error and "no chunk 'no-such-chunk'" in text_of(missing)

    resources = (await client.list_resources()).resources
    uris = {str(r.uri) for r in resources}
    assert "doc://docs%2Faurora-e-bike-manual.md" in uris
    opened = await client.read_resource("doc://docs%2Fdocling_wiki.md")
    assert "Armonk" in opened.contents[0].text and "Big Blue" in opened.contents[0].text
    return passages[0]


def test_every_tool_over_stdio_with_progress_and_a_model_crash_mid_answer(environment):
    async def main():
        async with stdio(environment) as client:
            await check_every_tool(client)

            said: list[str] = []

            async def progress(done: float, total: float | None, message: str | None) -> None:
                said.append(message or "")

            answer = await client.call_tool("ask", {"question": QUESTION}, progress_callback=progress)
            assert not answer.is_error, text_of(answer)
            result = answer.structured_content
            assert result["found"] and result["citations"] and "[1]" in result["answer"]
            assert result["citations"][0]["source"] == "docs/aurora-e-bike-manual.md"
            assert result["citations"][0]["uri"] == "doc://docs%2Faurora-e-bike-manual.md"
            assert "Searching your documents …" in said and any("writing the answer" in m for m in said)

            follow_up = await client.call_tool(
                "ask",
                {
                    "question": "And how long does it take to charge?",
                    "history": [
                        {"role": "user", "content": QUESTION},
                        {"role": "assistant", "content": result["answer"]},
                    ],
                },
            )
            assert not follow_up.is_error and follow_up.structured_content["citations"]

            # the model process crashes while it writes: one tool error, the server stays up
            killed: list[int] = []

            async def kill_the_model(done: float, total: float | None, message: str | None) -> None:
                if message and "writing the answer" in message and not killed:
                    # the MCP server's own model process (a worker's session-wide model may be running too)
                    servers = [p for p in psutil.Process().children() if "rag mcp" in " ".join(p.cmdline())]
                    (model,) = [
                        p
                        for server in servers
                        for p in server.children(recursive=True)
                        if "rag.llms.worker" in " ".join(p.cmdline()) or "llama_cpp" in " ".join(p.cmdline())
                    ]
                    await anyio.sleep(0.5)  # into the generation
                    os.kill(model.pid, signal.SIGKILL)
                    killed.append(model.pid)

            crashed = await client.call_tool("ask", {"question": QUESTION}, progress_callback=kill_the_model)
            assert killed and crashed.is_error, text_of(crashed)
            assert "crashed while answering" in text_of(crashed) and "Traceback" not in text_of(crashed)

            alive = await client.call_tool("search", {"query": "battery", "k": 1})
            assert not alive.is_error
            again = await client.call_tool("ask", {"question": QUESTION})
            assert not again.is_error and again.structured_content["citations"]  # the next answer starts it again

    anyio.run(main)


def test_streamable_http_behind_the_token_with_the_opt_in_ingest_tool(environment, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    env = {**environment, "RAG_API_TOKEN": TOKEN, "RAG__MCP__INGEST": "true"}
    process = start_process(["-m", "rag", "mcp", "--http", "--port", str(port)], env, f"http://127.0.0.1:{port}/health")

    async def main():
        import httpx2  # the MCP SDK's HTTP client
        from mcp.client.streamable_http import streamable_http_client

        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300) as http,
            Client(streamable_http_client(url, http_client=http), read_timeout_seconds=300) as client,
        ):
            await check_every_tool_with_ingest(client)
            await check_every_tool(client, ingest=True)

    try:
        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)
        assert refused.status_code == 401
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        anyio.run(main)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except Exception:
            process.kill()


async def check_every_tool_with_ingest(client: Client) -> None:
    ingest_tool = {tool.name: tool for tool in (await client.list_tools()).tools}["ingest"]
    assert ingest_tool.annotations.read_only_hint is False
    note = "# Zephyr kettle\n\nThe Zephyr kettle boils one litre of water in 94 seconds.\n"
    added = await client.call_tool(
        "ingest",
        {
            "files": [
                {"name": "zephyr.md", "text": note},
                {"name": "zephyr-copy.md", "base64": base64.b64encode(note.encode()).decode()},
                {"name": "broken.md", "base64": "***not base64***"},
                {"name": "tool.exe", "text": "MZ"},
            ]
        },
    )
    assert not added.is_error, text_of(added)
    result = added.structured_content
    assert {item["file"] for item in result["ingested"]} == {"zephyr.md", "zephyr-copy.md"}
    failed = {item["file"]: item["reason"] for item in result["failed"]}
    assert set(failed) == {"broken.md", "tool.exe"} and "base64" in failed["broken.md"]
    found = await client.call_tool("search", {"query": "How fast does the Zephyr kettle boil water?", "k": 1})
    assert "94 seconds" in found.structured_content["passages"][0]["text"]
    started = time.perf_counter()
    answer = await client.call_tool("ask", {"question": "How fast does the Zephyr kettle boil a litre?"})
    assert not answer.is_error and "94" in answer.structured_content["answer"], text_of(answer)
    assert time.perf_counter() - started < 300


def test_over_http_each_user_reaches_only_the_knowledge_bases_they_may_read(tmp_path, monkeypatch, embedder):
    from rag.config import knowledge_base_settings
    from service.identity import KeyFile
    from service.knowledge_bases import KnowledgeBases

    files = {"RAG__SERVER__USERS": str(tmp_path / "users.json"), "RAG__SERVER__KNOWLEDGE_BASES": str(tmp_path / "kbs")}
    env = app_environment(tmp_path, **files)
    for key in ("RAG__STORE__PATH", "RAG__SERVER__USERS", "RAG__SERVER__KNOWLEDGE_BASES"):
        monkeypatch.setenv(key, env[key])
    settings = load_config()
    rules = KnowledgeBases(settings.server.knowledge_bases)
    for team, source in (("hr", "northwind-support-faq.txt"), ("eng", "aurora-e-bike-manual.md")):
        rules.create(team, read=[team], write=[team])
        (tmp_path / team).mkdir()
        (tmp_path / team / source).write_bytes((EXAMPLES / source).read_bytes())
        assert ingest([tmp_path / team], knowledge_base_settings(settings, team), embedder=embedder).exit_code == 0
    alice = KeyFile(settings.server.users).add("alice", ["hr"])
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    process = start_process(["-m", "rag", "mcp", "--http", "--port", str(port)], env, f"http://127.0.0.1:{port}/health")

    async def main():
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice}"}, timeout=120) as http,
            Client(streamable_http_client(url, http_client=http), read_timeout_seconds=120) as client,
        ):
            own = await client.call_tool("search", {"query": "battery warranty", "knowledge_base": "hr"})
            assert not own.is_error, text_of(own)
            assert {p["source"] for p in own.structured_content["passages"]} == {"hr/northwind-support-faq.txt"}
            for tool, arguments in (
                ("search", {"query": "Aurora battery", "knowledge_base": "eng"}),
                ("list_documents", {"knowledge_base": "eng"}),
                ("get_chunk", {"id": "x", "knowledge_base": "eng"}),
                ("ask", {"question": "How long does the Aurora battery last?", "knowledge_base": "eng"}),
            ):
                refused = await client.call_tool(tool, arguments)
                assert refused.is_error and "alice may not read the knowledge base 'eng'" in text_of(refused)
                assert "aurora" not in text_of(refused).lower()
            default = await client.call_tool("list_documents", {})
            assert default.structured_content["result"] == []  # the default base: readable, and empty here

    try:
        assert httpx.post(url, json={}, headers={"Authorization": "Bearer phr_forged"}, timeout=10).status_code == 401
        anyio.run(main)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except Exception:
            process.kill()
