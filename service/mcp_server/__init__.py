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

Knowledge bases: every tool takes ``knowledge_base`` (default: the configured store). Over stdio the caller is the
local user who launched the server; over HTTP each request's ``Authorization`` names the principal (the admin token,
an API key or a JWT: service/identity.py) and the knowledge base's read or write rule is checked before the tool
runs (a tool error naming the rule, never a document).

Expected failures (an unknown filter field, an empty store, the model process crashing mid-answer) are tool errors
with a message a person can act on; the server stays up and the next call starts the model again. Over stdio
(the default, what desktop assistants launch) the SDK points fd 1 at stderr while serving, so nothing but the
protocol reaches stdout. ``--http`` serves streamable HTTP on ``server.host`` (loopback by default), behind
``Authorization: Bearer`` once a token, users or JWT verification is configured (401 otherwise).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any
from urllib.parse import unquote

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import Resource, ToolAnnotations
from pydantic import Field

from rag.config import DEFAULT_KB
from rag.errors import RagError
from rag.stores.restricted import Restriction
from service.identity import LOCAL_ADMIN, Identity, Principal, Unauthorized
from service.knowledge_bases import Forbidden, KnowledgeBases, UnknownKnowledgeBase
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


KB = Annotated[str, Field(description="the knowledge base (python -m rag kb list); default: the configured store")]


class Access:
    """Who is calling and which knowledge bases they may use. Over stdio the caller is the local user who launched
    the server (the local admin); over HTTP with users, keys or a JWT configured, each request's Authorization
    header names the principal, and every tool checks the knowledge base's read (or write) rule first."""

    def __init__(self, service: RagService, identity: Identity | None):
        self.service, self.identity = service, identity
        self.rules = KnowledgeBases(service.settings.server.knowledge_bases)
        self._views: dict[tuple[str, Restriction | None], RagTools] = {}
        self._lock = threading.Lock()

    def principal(self, ctx: Context | None) -> Principal:
        if self.identity is None or self.identity.open:
            return LOCAL_ADMIN
        headers = (ctx.headers if ctx is not None else None) or {}
        try:
            return self.identity.principal(headers.get("authorization"))
        except Unauthorized as exc:
            raise ToolError(str(exc)) from None

    def tools(self, ctx: Context | None, kb: str = DEFAULT_KB, write: bool = False) -> RagTools:
        principal = self.principal(ctx)
        try:
            self.rules.check(principal, kb, write=write)
        except (Forbidden, UnknownKnowledgeBase) as exc:
            raise ToolError(str(exc)) from None
        return self.view(kb, principal)

    def view(self, kb: str = DEFAULT_KB, principal: Principal | None = None) -> RagTools:
        """The tools over knowledge base `kb` as `principal` sees its documents, unchecked: for callers that checked
        already. Without a principal (the resource list has no caller): what a reader in no group sees."""
        service = self.service.for_kb(kb)
        if principal is None:
            principal = LOCAL_ADMIN if self.identity is None or self.identity.open else Principal("anyone")
        restriction = service.restriction(principal)
        with self._lock:
            if (kb, restriction) not in self._views:
                self._views[kb, restriction] = RagTools(service, restriction)
            return self._views[kb, restriction]

    def everyone_reads_default(self) -> bool:
        return self.identity is None or self.identity.open or "*" in self.rules.rule(DEFAULT_KB)["read"]


class RagMCPServer(MCPServer):
    """MCPServer whose resource list includes one ``doc://`` resource per document of the default knowledge base
    (when everyone may read it; resources are listed without a caller to check)."""

    def __init__(self, access: Access, **kwargs: Any):
        super().__init__(**kwargs)
        self.access = access

    async def list_resources(self):
        listed = await super().list_resources()
        if not self.access.everyone_reads_default():
            return listed
        try:
            # no caller here (resources are listed per session): the default base is readable by everyone
            documents = await anyio.to_thread.run_sync(self.access.view(DEFAULT_KB).documents)
        except (RagError, ToolError) as exc:
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


def build_server(service: RagService, identity: Identity | None = None) -> RagMCPServer:
    """The MCP server over `service`: its tools and the documents as resources; with `identity` (HTTP), each call
    is checked against the knowledge bases' rules."""
    access = Access(service, identity)
    server = RagMCPServer(access, name="powerhouse-rag", instructions=INSTRUCTIONS, version="0.1.0")

    @server.tool(annotations=READ_ONLY)
    async def search(
        query: Annotated[str, Field(min_length=1, description="what to look for, in words")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, description="how many passages")] = 5,
        filter: Annotated[
            dict[str, FilterValue] | None,
            Field(description='metadata to match, e.g. {"source": "guide.pdf"}; a list means any of its values'),
        ] = None,
        strategy: Annotated[
            str | None, Field(description="a retrieval strategy (dense, bm25, hybrid, …); default: the config's")
        ] = None,
        knowledge_base: KB = DEFAULT_KB,
    ) -> SearchResult:
        """Search the user's documents: the passages that best match the query, with where each comes from."""
        return await _in_thread(access.tools(ctx, knowledge_base).search, query, k, filter, strategy)

    @server.tool(annotations=READ_ONLY)
    async def ask(
        question: Annotated[str, Field(min_length=1, description="the question, in the user's words")],
        ctx: Context,
        history: Annotated[
            list[Turn] | None, Field(description="the conversation so far, oldest first (for follow-up questions)")
        ] = None,
        knowledge_base: KB = DEFAULT_KB,
    ) -> AskResult:
        """Answer a question from the user's documents, with numbered citations checked against the passages.
        Says so when the documents do not hold the answer. Sends progress while the local model works."""
        tools = access.tools(ctx, knowledge_base)

        def on_stage(stage: str, detail: dict[str, Any]) -> None:
            message = _SAID.get(stage, stage).format(passages=detail.get("passages", "the"))
            anyio.from_thread.run(ctx.report_progress, _STAGES.get(stage, 1), 4, message)

        result = await _in_thread(tools.ask, question, history or [], on_stage)
        await ctx.report_progress(4, 4, "Done")
        return result

    @server.tool(annotations=READ_ONLY)
    async def list_documents(ctx: Context, knowledge_base: KB = DEFAULT_KB) -> list[DocumentInfo]:
        """The documents in the index: id, number of chunks, when each was ingested, and its doc:// link."""
        return await _in_thread(access.tools(ctx, knowledge_base).documents)

    @server.tool(annotations=READ_ONLY)
    async def get_chunk(
        id: Annotated[str, Field(min_length=1, description="a chunk id from search (passages[].id)")],
        ctx: Context,
        neighbours: Annotated[int, Field(ge=0, le=10, description="chunks to add on each side")] = 1,
        knowledge_base: KB = DEFAULT_KB,
    ) -> ChunkWindow:
        """One passage by its chunk id, with the chunks just before and after it in its document."""
        return await _in_thread(access.tools(ctx, knowledge_base).chunk, id, neighbours)

    if service.settings.mcp.ingest:

        @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
        async def ingest(
            files: Annotated[list[FileUpload], Field(min_length=1, description="the files to add to the index")],
            ctx: Context,
            knowledge_base: KB = DEFAULT_KB,
        ) -> IngestResult:
            """Add files to the index (the same checks as uploads: types, sizes, names). Each file is listed as
            ingested or failed, with the reason."""
            return await _in_thread(access.tools(ctx, knowledge_base, write=True).ingest, files)

    @server.custom_route("/health", methods=["GET"])
    async def health(request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok"})

    @server.resource("doc://{document}", name="document", mime_type="text/plain")
    async def document(document: str, ctx: Context) -> str:
        """A document of the default knowledge base, its text rebuilt from its chunks (the id as list_documents gives
        it, URL-quoted)."""
        try:
            tools = access.tools(ctx)
            return await anyio.to_thread.run_sync(tools.document_text, unquote(document))
        except (RagError, ToolError) as exc:
            raise ResourceNotFoundError(str(exc)) from None

    return server


class IdentityGate:
    """ASGI middleware: 401 unless the request's credentials verify (service/identity.py); /health stays open."""

    def __init__(self, app: Any, identity: Identity):
        self.app, self.identity = app, identity

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") != "/health":
            given = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            try:
                self.identity.principal(given)
            except Unauthorized as exc:
                from starlette.responses import JSONResponse

                response = JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve(settings, http: bool = False, host: str | None = None, port: int | None = None) -> None:
    """Run the server (blocking): stdio, or streamable HTTP with `http`."""
    import os

    if not http:
        build_server(RagService(settings)).run("stdio")
        return
    import uvicorn

    identity = Identity(settings.server, os.environ.get(settings.server.token_env))
    server = build_server(RagService(settings), identity)
    host = host or settings.server.host
    app: Any = server.streamable_http_app(streamable_http_path=settings.mcp.path, host=host)
    if not identity.open:
        app = IdentityGate(app, identity)
    uvicorn.run(app, host=host, port=port or settings.mcp.port, log_level="warning")
