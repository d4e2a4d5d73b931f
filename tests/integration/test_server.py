"""The REST API: FastAPI's TestClient in-process, and one real `python -m rag serve` (uvicorn) process
driven by the official `openai` client. Real MiniLM, Chroma and the packaged Qwen 0.5B."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from rag.config import load_config
from service.api import create_app
from service.rag_service import RagService
from tests.conftest import DOCUMENTS, EXAMPLES
from tests.support.net import app_environment, free_port, start_process

TOKEN = "s3cret-token"
QUESTION = "How long does the battery of the Aurora e-bike last?"
AURORA = EXAMPLES / "aurora-e-bike-manual.md"


def tmp_settings(tmp_path, **uploads):
    settings = load_config().model_copy(deep=True)
    settings.store.path = str(tmp_path / "chroma")
    settings.uploads.dir = str(tmp_path / "library")
    settings.retriever.cache = str(tmp_path / "rewrites.sqlite")
    for key, value in uploads.items():
        setattr(settings.uploads, key, value)
    return settings


@pytest.fixture
def client(tmp_path, local_llm):
    service = RagService(tmp_settings(tmp_path), llm=local_llm)
    with TestClient(create_app(service, token=TOKEN)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client
    service.close()


def sse_events(text: str) -> list[tuple[str, object]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.slow
def test_the_api_takes_slides_and_scans_and_lists_their_parts(client, tmp_path):
    from tests.support import office_files as files

    deck = files.deck_pptx(tmp_path / "deck.pptx")
    scan = files.whiteboard_png(tmp_path / "whiteboard.png")
    response = client.post(
        "/ingest", files=[("files", (deck.name, deck.read_bytes())), ("files", (scan.name, scan.read_bytes()))]
    )
    assert response.status_code == 200, response.text
    assert sorted(i["id"] for i in response.json()["ingested"]) == [
        "library/uploads/deck.pptx",
        "library/uploads/whiteboard.png",
    ]
    service = client.app.state.service
    store = service.pipeline().store
    assert service.library.parts("library/uploads/deck.pptx", store) == ["slide 1", "slide 2"]
    assert service.library.parts("library/uploads/whiteboard.png", store) == ["page 1 (OCR)"]


@pytest.mark.slow
def test_ingest_query_stream_and_delete(client, tmp_path):
    bad = DOCUMENTS / "bad_inputs" / "pypdf_encrypted-file.pdf"
    response = client.post(
        "/ingest", files=[("files", (AURORA.name, AURORA.read_bytes())), ("files", (bad.name, bad.read_bytes()))]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["id"] for i in body["ingested"]] == ["library/uploads/aurora-e-bike-manual.md"]
    assert body["ingested"][0]["chunks"] > 0
    assert body["failed"][0]["file"] == bad.name and body["failed"][0]["reason"]

    documents = client.get("/documents").json()
    assert [(d["id"], d["uploaded"]) for d in documents] == [("library/uploads/aurora-e-bike-manual.md", True)]
    assert client.get("/health").json()["store"]["documents"] == 1

    answer = client.post("/query", json={"question": QUESTION}).json()
    assert answer["found"] and answer["citations"]
    assert {c["source"] for c in answer["citations"]} == {"library/uploads/aurora-e-bike-manual.md"}
    assert any(ch.isdigit() for ch in answer["answer"])

    streamed = client.post("/query", json={"question": QUESTION, "stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    tokens = [data for event, data in events if event == "token"]
    final = next(data for event, data in events if event == "answer")
    assert len(tokens) > 3 and "".join(tokens).strip().startswith(final["answer"][:20])
    assert events[-1][0] == "done"

    # A 100,000-character turn in the history is cut to the model's window, not sent whole (which the model
    # process refused: "maximum context length 4096, requested 10292").
    long_history = [{"role": "user", "content": "Tell me about bikes. " + "pedal " * 16_000}, *([
        {"role": "assistant", "content": answer["answer"]}])]  # fmt: skip
    trimmed = client.post("/query", json={"question": QUESTION, "history": long_history})
    assert trimmed.status_code == 200, trimmed.text
    assert trimmed.json()["found"]

    follow_up = client.post(
        "/query",
        json={
            "question": "And how long does charging it take?",
            "history": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer["answer"]}],
        },
    ).json()
    assert "aurora" in follow_up["standalone_question"].lower() or "bike" in follow_up["standalone_question"].lower()

    deleted = client.delete("/documents/library/uploads/aurora-e-bike-manual.md")
    assert deleted.status_code == 200 and deleted.json()["chunks"] > 0
    assert client.get("/documents").json() == []
    assert not (tmp_path / "library" / "uploads" / AURORA.name).exists()
    assert client.delete("/documents/library/uploads/aurora-e-bike-manual.md").status_code == 404
    gone = client.post("/query", json={"question": QUESTION}).json()
    assert gone["found"] is False


def test_token_traversal_type_and_size_limits(tmp_path, embedder):
    settings = tmp_settings(tmp_path, max_file_mb=0.01)
    settings.server.max_request_mb = 0.05
    service = RagService(settings, llm=object())  # no request here reaches the LLM
    service.embedder = embedder
    service.library._embedder = embedder
    with TestClient(create_app(service, token=TOKEN)) as client:
        assert client.get("/health").status_code == 200  # open: for load balancers and probes
        assert client.get("/documents").status_code == 401
        assert client.get("/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        assert client.get("/documents").json() == []

        response = client.post(
            "/ingest",
            files=[
                ("files", ("../../escape.md", b"# Escape\n\nOutside the uploads.")),
                ("files", ("..\\evil.md", b"# Evil")),
                ("files", ("tool.exe", b"MZ")),
                ("files", ("big.md", b"# Big\n\n" + b"word " * 4000)),  # 20 KB > 0.01 MB
            ],
        )
        assert response.status_code == 422
        reasons = {f["file"]: f["reason"] for f in response.json()["failed"]}
        assert "a file name with a path is not allowed" in reasons["../../escape.md"]
        assert "a file name with a path is not allowed" in reasons["..\\evil.md"]
        assert "type .exe is not accepted" in reasons["tool.exe"]
        assert "over the 0.01 MB limit" in reasons["big.md"]
        assert not list(tmp_path.rglob("escape.md")) and not list(tmp_path.rglob("*evil*"))

        huge = client.post("/ingest", files=[("files", ("huge.md", b"x" * 100_000))])
        assert huge.status_code == 413 and "server.max_request_mb" in huge.json()["detail"]
        assert client.post("/query", json={"question": ""}).status_code == 422
        assert client.get("/openapi.json").json()["info"]["title"] == "PowerHouse RAG"


def test_limits_counted_on_bytes_received_files_as_they_arrive_names_and_lengths(tmp_path, embedder):
    """Each numbered defect of issue 22 that the API had: a chunked body past the limit, too many files, two names
    that clean alike, a Windows path, the docs without the token, a question or conversation over the limits."""
    settings = tmp_settings(tmp_path, max_files=2)
    settings.server.max_request_mb = 0.05
    service = RagService(settings, llm=object())  # no request here reaches the LLM
    service.embedder = embedder
    service.library._embedder = embedder
    with TestClient(create_app(service, token=TOKEN)) as client:
        assert client.get("/docs").status_code == 401 and client.get("/openapi.json").status_code == 401
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        assert "swagger" in client.get("/docs").text.lower()

        chunks = iter([b"x" * 16_384] * 8)  # 128 KB with no Content-Length (chunked)
        chunked = client.post("/query", content=chunks, headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413 and "server.max_request_mb" in chunked.json()["detail"]

        three = [("files", (f"n{i}.md", b"# Note\n\nShort.")) for i in range(3)]
        too_many = client.post("/ingest", files=three)
        assert too_many.status_code == 400 and "Too many files. Maximum number of files is 2" in too_many.text

        both = client.post(
            "/ingest",
            files=[("files", ("r*1.md", b"# One\n\nThe first note.")), ("files", ("r?1.md", b"# Two\n\nThe second."))],
        )
        assert both.status_code == 200, both.text
        stored = {item["file"]: (item["id"], item.get("stored_as")) for item in both.json()["ingested"]}
        assert stored == {
            "r*1.md": ("library/uploads/r_1.md", None),
            "r?1.md": ("library/uploads/r_1 (2).md", "r_1 (2).md"),
        }
        again = client.post("/ingest", files=[("files", ("r*1.md", b"# One\n\nThe first note, edited."))])
        assert [i["id"] for i in again.json()["ingested"]] == ["library/uploads/r_1.md"]  # an update, not a third
        assert len(client.get("/documents").json()) == 2

        windows = client.post("/ingest", files=[("files", ("C:\\Users\\me\\x.md", b"# X"))])
        assert windows.status_code == 422
        assert "a file name with a path is not allowed" in windows.json()["failed"][0]["reason"]

        long = "why " * 2_001  # 8,004 characters > answer.max_question_chars
        for path, body in (
            ("/query", {"question": long}),
            ("/query", {"question": long, "stream": True}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": long}]}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": long}], "stream": True}),
        ):
            refused = client.post(path, json=body)
            assert refused.status_code == 413, (path, refused.text)
            assert "answer.max_question_chars" in refused.json()["detail"]


@pytest.mark.slow
def test_a_real_server_answers_the_official_openai_client(tmp_path, embedder):
    """Chat completions and embeddings through the official `openai` client: sync, async and streamed."""
    import asyncio

    import numpy as np
    from openai import AsyncOpenAI, AuthenticationError, NotFoundError, OpenAI

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_process(
        ["-m", "rag", "serve", "--port", str(port)], app_environment(tmp_path, RAG_API_TOKEN=TOKEN), f"{base}/health"
    )
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        ingested = httpx.post(
            f"{base}/ingest", files=[("files", (AURORA.name, AURORA.read_bytes()))], headers=headers, timeout=120
        )
        assert ingested.status_code == 200 and ingested.json()["ingested"]

        client = OpenAI(base_url=f"{base}/v1", api_key=TOKEN, timeout=300, max_retries=0)
        assert [m.id for m in client.models.list()] == ["powerhouse-rag", embedder.name]
        completion = client.chat.completions.create(
            model="powerhouse-rag", messages=[{"role": "user", "content": QUESTION}]
        )
        content = completion.choices[0].message.content
        assert "Sources:" in content and "library/uploads/aurora-e-bike-manual.md" in content

        chunks = client.chat.completions.create(
            model="powerhouse-rag", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert "library/uploads/aurora-e-bike-manual.md" in streamed and len(streamed) > 40

        # embeddings: the client asks for base64 unless told; both decode to the embedder's own vectors
        texts = ["The battery lasts about 80 km.", "Charging takes four hours."]
        expected = embedder.embed_documents(texts)
        packed = client.embeddings.create(model=embedder.name, input=texts)
        plain = client.embeddings.create(model=embedder.name, input=texts, encoding_format="float")
        for result in (packed, plain):
            got = np.array([item.embedding for item in result.data], dtype=np.float32)
            assert got.shape == (2, embedder.dimension) and np.allclose(got, expected, atol=1e-5)
            assert result.model == embedder.name and result.usage.prompt_tokens > 10
        query = client.embeddings.create(
            model=embedder.name, input="battery range", extra_body={"input_type": "query"}, encoding_format="float"
        )
        assert np.allclose(query.data[0].embedding, embedder.embed_query("battery range"), atol=1e-5)
        with pytest.raises(NotFoundError, match="this server embeds with"):
            client.embeddings.create(model="text-embedding-3-small", input="x")

        async def asynchronous() -> tuple[str, list[str], list[float]]:
            aclient = AsyncOpenAI(base_url=f"{base}/v1", api_key=TOKEN, timeout=300, max_retries=0)
            answer = await aclient.chat.completions.create(
                model="powerhouse-rag", messages=[{"role": "user", "content": QUESTION}]
            )
            pieces = []
            async for piece in await aclient.chat.completions.create(
                model="powerhouse-rag", messages=[{"role": "user", "content": QUESTION}], stream=True
            ):
                pieces.append(piece.choices[0].delta.content or "")
            vector = await aclient.embeddings.create(model=embedder.name, input=texts[0])
            await aclient.close()
            return answer.choices[0].message.content, pieces, vector.data[0].embedding

        answer, pieces, vector = asyncio.run(asynchronous())
        assert "aurora-e-bike-manual.md" in answer and "aurora-e-bike-manual.md" in "".join(pieces)
        assert len([piece for piece in pieces if piece]) > 5  # streamed token by token, not in one piece
        assert np.allclose(vector, expected[0], atol=1e-5)

        with pytest.raises(AuthenticationError):
            OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).models.list()
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).embeddings.create(model="x", input="y")
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_the_api_on_the_neo4j_graph_store(tmp_path, local_llm, neo4j_server):
    """Upload, ask and delete through the REST API with store.kind neo4j: the service never names a store kind."""
    from rag.stores import store_options

    settings = tmp_settings(tmp_path)
    settings.store = store_options(
        {"kind": "neo4j", "uri": neo4j_server, "collection": "api_graph", "state": str(tmp_path / "state")}
    )
    service = RagService(settings, llm=local_llm)
    with TestClient(create_app(service, token=TOKEN)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        response = client.post("/ingest", files=[("files", (AURORA.name, AURORA.read_bytes()))])
        assert response.status_code == 200, response.text
        assert client.get("/health").json()["store"]["documents"] == 1
        answer = client.post("/query", json={"question": QUESTION}).json()
        assert answer["found"] and {c["source"] for c in answer["citations"]} == {
            "library/uploads/aurora-e-bike-manual.md"
        }
        deleted = client.delete("/documents/library/uploads/aurora-e-bike-manual.md")
        assert deleted.status_code == 200 and deleted.json()["chunks"] > 0
        assert client.post("/query", json={"question": QUESTION}).json()["found"] is False
    service.close()
