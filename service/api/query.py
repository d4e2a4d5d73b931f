"""POST /query: a question and its conversation → a grounded, cited answer (JSON, or server-sent events)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rag.errors import RagError
from service.api.auth import service_of

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
    pipeline = service_of(request).pipeline()
    if not body.stream:
        return pipeline.ask(body.question, history).to_dict()
    stream = pipeline.stream(body.question, history)  # limits checked here: a 413, not an event

    def events() -> Iterator[str]:
        try:
            for token in stream:
                yield sse("token", token)
            yield sse("answer", stream.answer.to_dict())
        except RagError as exc:
            yield sse("error", {"detail": str(exc)})
        yield sse("done", {})

    return StreamingResponse(events(), media_type="text/event-stream")
