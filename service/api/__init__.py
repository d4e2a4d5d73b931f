"""`python -m rag serve`: the REST API for headless use (FastAPI on 127.0.0.1; OpenAPI docs at /docs).

POST /ingest                upload files (multipart `files`) → ingested, with failures named
POST /query                 {question, history, stream} → answer, citations, contexts (SSE when stream)
POST /search                {query, k, filter, strategy} → the passages, no answer
GET  /documents             the indexed documents
DELETE /documents/{id}      remove one (its chunks, keyword entries, manifest entry, uploaded file)
GET  /health                liveness and store stats (never needs the token)
POST /v1/chat/completions   OpenAI-compatible: existing chat UIs can use the RAG as a model (powerhouse-rag[:KB])
GET  /v1/models             the knowledge bases the caller may read, and the embedder
POST /v1/embeddings
/kb/{kb}/query, /kb/{kb}/documents, /kb/{kb}/ingest, DELETE /kb/{kb}/documents/{id}: the same, in knowledge base kb

Every route but /health needs `Authorization: Bearer <credential>` once any is configured: the admin token (the
variable named by `server.token_env`, RAG_API_TOKEN), an API key of `server.users`, or a JWT (`server.jwt`);
knowledge bases check who may read and write them (service/knowledge_bases.py): 401 without valid credentials, 403
without the right. /docs and /openapi.json included. Bodies over `server.max_request_mb` are refused with 413, counted
on the bytes actually received (chunked or not); questions and conversations over `answer.max_question_chars` /
`answer.max_history_chars` too.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from rag.errors import InputTooLong, LLMError, RagError, StoreError
from service.api import documents, openai_format, query
from service.api.auth import bearer
from service.api.limits import BodyLimit
from service.audit import AuditLog
from service.identity import Identity
from service.knowledge_bases import KnowledgeBases
from service.rag_service import RagService

MODEL_ID = openai_format.MODEL_ID


def create_app(service: RagService, token: str | None = None) -> FastAPI:
    """The API over one `RagService`; with `token`, every route but /health needs it."""
    settings = service.settings
    app = FastAPI(
        title="PowerHouse RAG",
        version="0.1.0",
        description="Grounded, cited answers over your documents. Offline by default.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the token like every other route
    )
    app.state.service = service
    app.state.identity = Identity(settings.server, token)
    app.state.knowledge_bases = KnowledgeBases(settings.server.knowledge_bases)
    app.state.audit = AuditLog(settings.server.audit)
    app.add_middleware(BodyLimit, limit=int(settings.server.max_request_mb * 1024 * 1024))
    guarded = [Depends(bearer)]

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        status = 413 if isinstance(exc, InputTooLong) else 503 if isinstance(exc, LLMError | StoreError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=guarded)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="PowerHouse RAG")

    app.include_router(documents.public)
    app.include_router(documents.router, dependencies=guarded)
    app.include_router(query.router, dependencies=guarded)
    app.include_router(documents.router, prefix="/kb/{kb}", dependencies=guarded)  # the same, per knowledge base
    app.include_router(query.router, prefix="/kb/{kb}", dependencies=guarded)
    app.include_router(openai_format.router, dependencies=guarded)
    return app


def serve(settings, host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn (blocking)."""
    import os

    import uvicorn

    token = os.environ.get(settings.server.token_env) or None
    app = create_app(RagService(settings), token)
    uvicorn.run(app, host=host or settings.server.host, port=port or settings.server.port, log_level="warning")


__all__ = ["MODEL_ID", "create_app", "serve"]
