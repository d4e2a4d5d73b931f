"""POST /query: a question and its conversation → a grounded, cited answer (JSON, or server-sent events)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rag.errors import RagError
from service.api.auth import audit, pipeline_of

router = APIRouter()


class ChatTurn(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class QueryRequest(BaseModel):
    """Lengths past answer.max_question_chars / max_history_chars are refused with 413."""

    question: str = Field(..., min_length=1)
    history: list[ChatTurn] = Field(default_factory=list, max_length=200)
    stream: bool = False


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/query")
def query(request: Request, body: QueryRequest):
    history = [turn.model_dump() for turn in body.history]
    pipeline = pipeline_of(request)
    if not body.stream:
        answer = pipeline.ask(body.question, history)
        audit_answer(request, answer)
        return answer.to_dict()
    stream = pipeline.stream(body.question, history)  # limits checked here: a 413, not an event

    def events() -> Iterator[str]:
        try:
            for token in stream:
                yield sse("token", token)
            audit_answer(request, stream.answer)
            yield sse("answer", stream.answer.to_dict())
        except RagError as exc:
            yield sse("error", {"detail": str(exc)})
        yield sse("done", {})

    return StreamingResponse(events(), media_type="text/event-stream")


def audit_answer(request: Request, answer, kb: str | None = None) -> None:
    """Who asked what, and the chunk ids their answer was built from and cited."""
    audit(
        request,
        "ask",
        kb,
        question=answer.question,
        chunks=[hit.id for hit in answer.contexts],
        cited=[c.chunk_id for c in answer.citations],
    )


class SearchRequest(BaseModel):
    query: str = Field(..., min_length=1)
    k: int = Field(5, ge=1, le=100)
    filter: dict[str, Any] | None = None
    strategy: str | None = None


@router.post("/search")
def search(request: Request, body: SearchRequest) -> dict[str, Any]:
    """The passages for a query (no answer): id, score, text and metadata, by the configured or a named strategy."""
    from rag.retrievers import REGISTRY

    if body.strategy and body.strategy not in REGISTRY:
        raise HTTPException(400, f"unknown strategy {body.strategy!r}; choose one of {', '.join(REGISTRY)}")
    pipeline = pipeline_of(request, strategy=body.strategy) if body.strategy else pipeline_of(request)
    hits = pipeline.retriever.retrieve(body.query, body.k, body.filter)[: body.k]
    audit(request, "search", query=body.query, chunks=[hit.id for hit in hits])
    return {
        "query": body.query,
        "hits": [{"id": h.id, "score": round(float(h.score), 4), "text": h.text, "metadata": h.metadata} for h in hits],
    }
