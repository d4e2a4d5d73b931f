"""The OpenAI-compatible face: /v1/models and /v1/chat/completions (plain and streamed), so chat UIs and the
`openai` client use the RAG as a model (``model="powerhouse-rag"``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rag.errors import RagError
from service.api.auth import service_of
from service.api.query import ChatTurn

router = APIRouter(prefix="/v1")
MODEL_ID = "powerhouse-rag"


class ChatCompletionRequest(BaseModel):
    model: str = MODEL_ID
    messages: list[ChatTurn] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    temperature: float | None = None  # accepted for compatibility; the pipeline's config decides
    max_tokens: int | None = None


@router.get("/models")
def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "powerhouse-rag"}]}


def sources(answer: Any) -> str:
    """The answer's citations as a text tail (OpenAI clients show only the content)."""
    if not answer.citations:
        return ""
    return "\n\nSources:\n" + "\n".join(f"[{c.number}] {c.where}" for c in answer.citations)


def completion(completion_id: str, created: int, answer: Any) -> dict[str, Any]:
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
        "usage": {"prompt_tokens": 0, "completion_tokens": answer.tokens.get("generated", 0), "total_tokens": 0},
        "citations": [vars(c) for c in answer.citations],
    }


def chunk(completion_id: str, created: int, delta: dict[str, Any], finish: str | None = None) -> str:
    payload = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


@router.post("/chat/completions")
def chat_completions(request: Request, body: ChatCompletionRequest):
    turns = [turn.model_dump() for turn in body.messages]
    last_user = max((i for i, t in enumerate(turns) if t["role"] == "user"), default=None)
    if last_user is None:
        raise HTTPException(400, "messages need at least one user message")
    question, history = turns[last_user]["content"], turns[:last_user]
    pipeline = service_of(request).pipeline()
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if not body.stream:
        return completion(completion_id, created, pipeline.ask(question, history))
    stream = pipeline.stream(question, history)  # limits checked here: a 413, not a broken stream

    def events() -> Iterator[str]:
        yield chunk(completion_id, created, {"role": "assistant"})
        try:
            for token in stream:
                yield chunk(completion_id, created, {"content": token})
            tail = sources(stream.answer)
            if tail:
                yield chunk(completion_id, created, {"content": tail})
        except RagError as exc:
            yield chunk(completion_id, created, {"content": f"\n\n[error: {exc}]"})
        yield chunk(completion_id, created, {}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
