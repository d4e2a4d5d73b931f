"""`python -m rag serve`: the REST API for headless use (FastAPI on 127.0.0.1; OpenAPI docs at /docs).

POST /ingest                upload files (multipart `files`) → ingested, with failures named
POST /query                 {question, history, stream} → answer, citations, contexts (SSE when stream)
GET  /documents             the indexed documents
DELETE /documents/{id}      remove one (its chunks, keyword entries, manifest entry, uploaded file)
GET  /health                liveness and store stats (never needs the token)
POST /v1/chat/completions   OpenAI-compatible: existing chat UIs can use the RAG as a model
GET  /v1/models

With the variable named by `server.token_env` (RAG_API_TOKEN) set, every other route needs
`Authorization: Bearer <token>`. Bodies over `server.max_request_mb` are refused with 413.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rag.errors import LLMError, RagError, StoreError
from service.library import UploadRejected
from service.rag_service import RagService

MODEL_ID = "powerhouse-rag"


class ChatTurn(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class QueryRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=4000)
    history: list[ChatTurn] = Field(default_factory=list, max_length=50)
    stream: bool = False


class ChatCompletionRequest(BaseModel):
    model: str = MODEL_ID
    messages: list[ChatTurn] = Field(..., min_length=1, max_length=100)
    stream: bool = False
    temperature: float | None = None  # accepted for compatibility; the pipeline's config decides
    max_tokens: int | None = None


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(service: RagService, token: str | None = None) -> FastAPI:
    settings = service.settings
    limit = int(settings.server.max_request_mb * 1024 * 1024)
    app = FastAPI(
        title="PowerHouse RAG",
        version="0.1.0",
        description="Grounded, cited answers over your documents. Offline by default.",
    )

    @app.middleware("http")
    async def body_limit(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return JSONResponse(
                {
                    "detail": f"request body of {int(length) / 1024 / 1024:.1f} MB is over the "
                    f"{settings.server.max_request_mb:g} MB limit (server.max_request_mb)"
                },
                status_code=413,
            )
        return await call_next(request)

    def authorised(request: Request) -> None:
        if not token:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorised)]

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError):
        status = 503 if isinstance(exc, LLMError | StoreError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": service.library.stats(), "llm": settings.llm.model}

    @app.get("/documents", dependencies=guarded)
    def documents() -> list[dict[str, Any]]:
        return [vars(d) for d in service.library.documents()]

    @app.delete("/documents/{document_id:path}", dependencies=guarded)
    def delete_document(document_id: str) -> dict[str, Any]:
        try:
            removed = service.library.delete(document_id)
        except KeyError:
            raise HTTPException(404, f"no document {document_id!r}; GET /documents lists them") from None
        return {"deleted": removed.id, "chunks": removed.chunks}

    @app.post("/ingest", dependencies=guarded)
    async def ingest_files(files: list[UploadFile] = File(...)) -> dict[str, Any]:
        uploads = []
        per_file = settings.uploads.max_file_mb * 1024 * 1024
        for upload in files:
            data = await upload.read(int(per_file) + 1)  # one byte over is enough to refuse it
            uploads.append((upload.filename or "", data))
        try:
            outcome = await run_in_threadpool(service.library.add, uploads)
        except UploadRejected as exc:
            raise HTTPException(400, str(exc)) from None
        status = 200 if outcome.ingested or not outcome.failed else 422
        return JSONResponse(outcome.to_dict(), status_code=status)

    @app.post("/query", dependencies=guarded)
    def query(body: QueryRequest):
        history = [turn.model_dump() for turn in body.history]
        pipeline = service.pipeline()
        if not body.stream:
            return pipeline.ask(body.question, history).to_dict()

        def events() -> Iterator[str]:
            try:
                stream = pipeline.stream(body.question, history)
                for token in stream:
                    yield _sse("token", token)
                yield _sse("answer", stream.answer.to_dict())
            except RagError as exc:
                yield _sse("error", {"detail": str(exc)})
            yield _sse("done", {})

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/v1/models", dependencies=guarded)
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "powerhouse-rag"}]}

    @app.post("/v1/chat/completions", dependencies=guarded)
    def chat_completions(body: ChatCompletionRequest):
        turns = [turn.model_dump() for turn in body.messages]
        last_user = max((i for i, t in enumerate(turns) if t["role"] == "user"), default=None)
        if last_user is None:
            raise HTTPException(400, "messages need at least one user message")
        question, history = turns[last_user]["content"], turns[:last_user]
        pipeline = service.pipeline()
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

        def sources(answer) -> str:
            if not answer.citations:
                return ""
            lines = [f"[{c.number}] {c.where}" for c in answer.citations]
            return "\n\nSources:\n" + "\n".join(lines)

        if not body.stream:
            answer = pipeline.ask(question, history)
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": MODEL_ID,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.text + sources(answer)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 0,
                    "completion_tokens": answer.tokens.get("generated", 0),
                    "total_tokens": 0,
                },
                "citations": [vars(c) for c in answer.citations],
            }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        def events() -> Iterator[str]:
            yield chunk({"role": "assistant"})
            try:
                stream = pipeline.stream(question, history)
                for token in stream:
                    yield chunk({"content": token})
                tail = sources(stream.answer)
                if tail:
                    yield chunk({"content": tail})
            except RagError as exc:
                yield chunk({"content": f"\n\n[error: {exc}]"})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def serve(settings, host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn (blocking)."""
    import os

    import uvicorn

    token = os.environ.get(settings.server.token_env) or None
    app = create_app(RagService(settings), token)
    uvicorn.run(app, host=host or settings.server.host, port=port or settings.server.port, log_level="warning")
