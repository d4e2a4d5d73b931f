"""What the MCP tools do, as plain Python over one RagService, and the typed results they return (the schemas an
assistant reads). service/mcp_server/__init__.py wires them into the MCP server."""

from __future__ import annotations

import base64
import binascii
import threading
from typing import Any, Literal
from urllib.parse import quote

from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from rag.documents import Hit, part
from rag.errors import StoreError
from rag.graph.self_query import FieldInfo, check_filter, describe_fields
from rag.stores.restricted import Restriction
from service.rag_service import RagService

FilterValue = str | int | float | bool | list[str | int | float]
READ_ONLY = ToolAnnotations(read_only_hint=True)


class Passage(BaseModel):
    id: str = Field(description="the chunk id (get_chunk reads it with its neighbours)")
    text: str
    source: str = Field(description="the document it comes from (its id in list_documents)")
    page: int | None = None
    section: str | None = Field(None, description='the heading path it sits under ("Setup > Linux")')
    part: str | None = Field(None, description='the place inside the file: "slide 2", "sheet Sales, rows 2-21"')
    score: float | None = None
    uri: str = Field(description="the document as an MCP resource (doc://…)")


class SearchResult(BaseModel):
    query: str
    passages: list[Passage]


class Citation(BaseModel):
    number: int = Field(description="the [n] the answer uses")
    chunk_id: str
    source: str
    page: int | None = None
    section: str | None = None
    snippet: str
    supported: bool = Field(description="the citation check found the cited sentence backed by this passage")
    uri: str


class AskResult(BaseModel):
    answer: str
    found: bool = Field(description="false: the documents hold nothing relevant to the question")
    grounded: bool = Field(description="false: the answer could not be backed by a valid citation")
    citations: list[Citation]
    unsupported: list[str] = Field(description="sentences whose cited passage does not back them")


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class DocumentInfo(BaseModel):
    id: str
    chunks: int
    ingested_at: str
    uploaded: bool
    uri: str


class ChunkWindow(BaseModel):
    chunk: Passage
    before: list[Passage] = Field(description="the chunks just before it in its document, in order")
    after: list[Passage] = Field(description="the chunks just after it, in order")


class FileUpload(BaseModel):
    name: str = Field(description="the file name, with its extension (guide.pdf, notes.md)")
    text: str | None = Field(None, description="the content of a text file")
    base64: str | None = Field(None, description="the content of any file, base64-encoded")


class IngestResult(BaseModel):
    ingested: list[dict[str, Any]]
    failed: list[dict[str, Any]] = Field(description="{file, reason} for each file not ingested")


def doc_uri(source: str) -> str:
    return "doc://" + quote(source, safe="")


def passage(hit: Hit) -> Passage:
    meta = hit.metadata
    section = meta.get("section")
    return Passage(
        id=hit.id,
        text=hit.text,
        source=str(meta.get("source", "")),
        page=int(meta["page"]) if isinstance(meta.get("page"), int | float) else None,
        section=" > ".join(section) if isinstance(section, list) else section or None,
        part=part(meta) or None,
        score=round(float(hit.score), 4) if hit.score is not None else None,
        uri=doc_uri(str(meta.get("source", ""))),
    )


class RagTools:
    """What the tools do, over one RagService (kept apart from the MCP wiring so each reads as plain Python)."""

    def __init__(self, service: RagService, restriction: Restriction | None = None):
        self.service = service
        self.restriction = restriction  # the caller's access keys (rag/stores/restricted.py); None: everything
        self._fields: tuple[int, dict[str, FieldInfo]] | None = None
        self._lock = threading.Lock()

    @property
    def store(self):
        return self.service.pipeline(self.restriction).store

    def fields(self) -> dict[str, FieldInfo]:
        """The store's filterable metadata fields, read again when its size changed."""
        with self._lock:
            count = self.store.count()
            if self._fields is None or self._fields[0] != count:
                self._fields = (count, describe_fields(self.store))
            return self._fields[1]

    def search(self, query: str, k: int, filter: dict[str, Any] | None, strategy: str | None) -> SearchResult:
        from rag.retrievers import REGISTRY

        if strategy and strategy not in REGISTRY:
            raise ToolError(f"unknown strategy {strategy!r}; choose one of {', '.join(REGISTRY)}")
        if k > self.service.settings.mcp.max_k:
            raise ToolError(f"k={k} is over mcp.max_k ({self.service.settings.mcp.max_k})")
        overrides = {"strategy": strategy} if strategy else {}
        pipeline = self.service.pipeline(self.restriction, **overrides)
        if pipeline.store.count() == 0:
            raise StoreError("the store is empty: ingest documents first (python -m ingest PATH)")
        checked = check_filter(filter, self.fields()) if filter else None
        hits = pipeline.retriever.retrieve(query, k, checked)
        return SearchResult(query=query, passages=[passage(hit) for hit in hits[:k]])

    def ask(self, question: str, history: list[Turn], on_stage) -> AskResult:
        turns = [t.model_dump() for t in history]
        stream = self.service.pipeline(self.restriction).stream(question, turns, on_stage=on_stage)
        for _ in stream:
            pass
        answer = stream.answer
        return AskResult(
            answer=answer.text,
            found=answer.found,
            grounded=answer.grounded,
            citations=[
                Citation(
                    number=c.number,
                    chunk_id=c.chunk_id,
                    source=c.source,
                    page=c.page,
                    section=c.section,
                    snippet=c.snippet,
                    supported=c.supported,
                    uri=doc_uri(c.source),
                )
                for c in answer.citations
            ],
            unsupported=[c.sentence for c in answer.unsupported],
        )

    def documents(self) -> list[DocumentInfo]:
        return [
            DocumentInfo(id=d.id, chunks=d.chunks, ingested_at=d.ingested_at, uploaded=d.uploaded, uri=doc_uri(d.id))
            for d in self.service.library.documents(self.restriction)
        ]

    def chunk(self, chunk_id: str, neighbours: int) -> ChunkWindow:
        store = self.store
        found = store.get([chunk_id])
        if not found:
            raise ToolError(f"no chunk {chunk_id!r} in the store; chunk ids come from search (passages[].id)")
        stored = found[0]
        index = getattr(store, "keyword", None)
        rows = index.window(chunk_id, neighbours) if index is not None and neighbours else []
        ids = [row["id"] for row in rows] or [chunk_id]
        by_id = {c.id: c for c in store.get(ids)}
        at = ids.index(chunk_id)

        def as_passage(cid: str) -> Passage:
            c = by_id.get(cid, stored)
            return passage(Hit(id=c.id, text=c.text, metadata=c.metadata, score=None))

        return ChunkWindow(
            chunk=as_passage(chunk_id),
            before=[as_passage(cid) for cid in ids[:at] if cid in by_id],
            after=[as_passage(cid) for cid in ids[at + 1 :] if cid in by_id],
        )

    def document_text(self, document_id: str) -> str:
        """A document's text rebuilt from its chunks, in order (overlaps removed)."""
        from ingest.manifest import read_chunk_ids
        from rag.answer.context import stitch

        ids = read_chunk_ids(self.service.library.manifest, document_id)
        chunks = sorted(self.store.get(ids), key=lambda c: int(c.metadata.get("chunk_index", 0))) if ids else []
        if not chunks:
            raise ResourceNotFoundError(f"no document {document_id!r}; list_documents names them")
        rows = [
            {"id": c.id, "text": c.text, "start": c.metadata.get("start"), "end": c.metadata.get("end")} for c in chunks
        ]
        pages: dict[Any, list[dict]] = {}
        for chunk, row in zip(chunks, rows, strict=True):  # spans are offsets in their page (or record)
            pages.setdefault((chunk.metadata.get("page"), chunk.metadata.get("record")), []).append(row)
        return "\n\n".join(stitch(group) for group in pages.values())

    def ingest(self, files: list[FileUpload]) -> IngestResult:
        uploads, failed = [], []
        for upload in files:
            try:
                data = base64.b64decode(upload.base64, validate=True) if upload.base64 else None
            except (binascii.Error, ValueError):
                failed.append({"file": upload.name, "reason": "base64 is not valid base64"})
                continue
            if data is None:
                if upload.text is None:
                    failed.append({"file": upload.name, "reason": "give the content as text or base64"})
                    continue
                data = upload.text.encode()
            uploads.append((upload.name, data))
        outcome = self.service.library.add(uploads) if uploads else None
        return IngestResult(
            ingested=outcome.ingested if outcome else [], failed=failed + (outcome.failed if outcome else [])
        )
