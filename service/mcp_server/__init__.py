"""`python -m rag mcp`: the RAG as a Model Context Protocol server, for assistants and IDEs (Claude Desktop,
VS Code, Cursor, agent frameworks), on the official SDK (``mcp`` 2.x, ``MCPServer``).

Tools, each with a typed schema:
  search         query, k, filter, strategy → passages with source, page, section, score and a ``doc://`` link
  ask            question, history → the checked answer with its citations (progress notifications per stage)
  list_documents the indexed documents
  get_chunk      id, neighbours → a passage with the chunks around it in its document
  ingest         files (name + text or base64) → ingested, refused, failed — only with ``mcp.ingest: true``
Resources: ``doc://{id}`` for every indexed document (its text rebuilt from its chunks, in order), so a client can
open a cited source.

Expected failures (an unknown filter field, an empty store, the model process crashing mid-answer) are tool errors
with a message a person can act on; the server stays up and the next call starts the model again. Over stdio
(the default, what desktop assistants launch) the SDK points fd 1 at stderr while serving, so nothing but the
protocol reaches stdout. ``--http`` serves streamable HTTP on ``server.host`` (loopback by default), behind
``Authorization: Bearer`` with the token in ``server.token_env`` when it is set.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any
from urllib.parse import unquote

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import Resource, ToolAnnotations
from pydantic import Field

from rag.errors import RagError
from service.mcp_server.tools import (
    READ_ONLY,
    AskResult,
    ChunkWindow,
    DocumentInfo,
    FileUpload,
    FilterValue,
    IngestResult,
    RagTools,
    SearchResult,
    Turn,
)
from service.rag_service import RagService

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Grounded answers and passages from the user's own documents (PowerHouse RAG). Use `search` to find passages "
    "(each has a doc:// link and a chunk id), `get_chunk` to read around a passage, `ask` for a cited answer "
    "written by the configured model, `list_documents` to see what is indexed."
)


async def _in_thread(function, *args):
    """Run blocking work off the event loop; a RagError becomes the tool error a person reads."""
    try:
        return await anyio.to_thread.run_sync(function, *args)
    except RagError as exc:
        raise ToolError(str(exc)) from None


_STAGES = {"condense": 1, "retrieve": 1, "calculate": 2, "generate": 2, "check": 3, "retry": 3}
_SAID = {
    "condense": "Reading the conversation …",
    "retrieve": "Searching your documents …",
    "calculate": "Calculating from {passages} passages …",
    "generate": "Found {passages} passages · writing the answer …",
    "check": "Checking every citation …",
    "retry": "Rewriting an answer that said nothing …",
}


class RagMCPServer(MCPServer):
    """MCPServer whose resource list includes one ``doc://`` resource per indexed document."""

    def __init__(self, tools: RagTools, **kwargs: Any):
        super().__init__(**kwargs)
        self.rag = tools

    async def list_resources(self):
        listed = await super().list_resources()
        try:
            documents = await anyio.to_thread.run_sync(self.rag.documents)
        except RagError as exc:
            log.warning("could not list the documents as resources: %s", exc)
            return listed
        listed += [
            Resource(
                uri=document.uri,
                name=document.id,
                description=f"{document.id} ({document.chunks} chunks, ingested {document.ingested_at})",
                mime_type="text/plain",
            )
            for document in documents
        ]
        return listed


def build_server(service: RagService) -> RagMCPServer:
    """The MCP server over `service`: its tools and the documents as resources."""
    tools = RagTools(service)
    server = RagMCPServer(tools, name="powerhouse-rag", instructions=INSTRUCTIONS, version="0.1.0")

    @server.tool(annotations=READ_ONLY)
    async def search(
        query: Annotated[str, Field(min_length=1, description="what to look for, in words")],
        k: Annotated[int, Field(ge=1, description="how many passages")] = 5,
        filter: Annotated[
            dict[str, FilterValue] | None,
            Field(description='metadata to match, e.g. {"source": "guide.pdf"}; a list means any of its values'),
        ] = None,
        strategy: Annotated[
            str | None, Field(description="a retrieval strategy (dense, bm25, hybrid, …); default: the config's")
        ] = None,
    ) -> SearchResult:
        """Search the user's documents: the passages that best match the query, with where each comes from."""
        return await _in_thread(tools.search, query, k, filter, strategy)

    @server.tool(annotations=READ_ONLY)
    async def ask(
        question: Annotated[str, Field(min_length=1, description="the question, in the user's words")],
        ctx: Context,
        history: Annotated[
            list[Turn] | None, Field(description="the conversation so far, oldest first (for follow-up questions)")
        ] = None,
    ) -> AskResult:
        """Answer a question from the user's documents, with numbered citations checked against the passages.
        Says so when the documents do not hold the answer. Sends progress while the local model works."""

        def on_stage(stage: str, detail: dict[str, Any]) -> None:
            message = _SAID.get(stage, stage).format(passages=detail.get("passages", "the"))
            anyio.from_thread.run(ctx.report_progress, _STAGES.get(stage, 1), 4, message)

        result = await _in_thread(tools.ask, question, history or [], on_stage)
        await ctx.report_progress(4, 4, "Done")
        return result

    @server.tool(annotations=READ_ONLY)
    async def list_documents() -> list[DocumentInfo]:
        """The documents in the index: id, number of chunks, when each was ingested, and its doc:// link."""
        return await _in_thread(tools.documents)

    @server.tool(annotations=READ_ONLY)
    async def get_chunk(
        id: Annotated[str, Field(min_length=1, description="a chunk id from search (passages[].id)")],
        neighbours: Annotated[int, Field(ge=0, le=10, description="chunks to add on each side")] = 1,
    ) -> ChunkWindow:
        """One passage by its chunk id, with the chunks just before and after it in its document."""
        return await _in_thread(tools.chunk, id, neighbours)

    if service.settings.mcp.ingest:

        @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
        async def ingest(
            files: Annotated[list[FileUpload], Field(min_length=1, description="the files to add to the index")],
        ) -> IngestResult:
            """Add files to the index (the same checks as uploads: types, sizes, names). Each file is listed as
            ingested or failed, with the reason."""
            return await _in_thread(tools.ingest, files)

    @server.custom_route("/health", methods=["GET"])
    async def health(request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok"})

    @server.resource("doc://{document}", name="document", mime_type="text/plain")
    async def document(document: str) -> str:
        """An indexed document's text, rebuilt from its chunks (the id as list_documents gives it, URL-quoted)."""
        try:
            return await anyio.to_thread.run_sync(tools.document_text, unquote(document))
        except RagError as exc:
            raise ResourceNotFoundError(str(exc)) from None

    return server


class BearerToken:
    """ASGI middleware: 401 unless ``Authorization: Bearer <token>`` (constant-time compare)."""

    def __init__(self, app: Any, token: str):
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") != "/health":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not secrets.compare_digest(given, self.expected):
                from starlette.responses import JSONResponse

                response = JSONResponse(
                    {"detail": "missing or wrong bearer token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve(settings, http: bool = False, host: str | None = None, port: int | None = None) -> None:
    """Run the server (blocking): stdio, or streamable HTTP with `http`."""
    import os

    server = build_server(RagService(settings))
    if not http:
        server.run("stdio")
        return
    import uvicorn

    host = host or settings.server.host
    app: Any = server.streamable_http_app(streamable_http_path=settings.mcp.path, host=host)
    token = os.environ.get(settings.server.token_env)
    if token:
        app = BearerToken(app, token)
    uvicorn.run(app, host=host, port=port or settings.mcp.port, log_level="warning")
