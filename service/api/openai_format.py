"""The OpenAI-compatible face: /v1/models, /v1/chat/completions (plain and streamed), so chat UIs and the
`openai` client use the RAG as a model (``model="powerhouse-rag"``), and /v1/embeddings, so other tools reuse the
configured embedder (``model=`` its name, as /v1/models lists it) in the OpenAI embeddings format."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rag.errors import RagError
from service.api.auth import pipeline_of, principal_of
from service.api.query import ChatTurn, audit_answer
from service.knowledge_bases import DEFAULT

router = APIRouter(prefix="/v1")
MODEL_ID = "powerhouse-rag"


class ChatCompletionRequest(BaseModel):
    model: str = Field(MODEL_ID, description="powerhouse-rag (the default knowledge base) or powerhouse-rag:NAME")
    messages: list[ChatTurn] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    temperature: float | None = None  # accepted for compatibility; the pipeline's config decides
    max_tokens: int | None = None


@router.get("/models")
def models(request: Request) -> dict[str, Any]:
    """The knowledge bases the caller may read, as models (``powerhouse-rag`` the default one,
    ``powerhouse-rag:NAME`` the others), and the configured embedder (embeddings)."""
    readable = request.app.state.knowledge_bases.readable(principal_of(request))
    names = [MODEL_ID if kb == DEFAULT else f"{MODEL_ID}:{kb}" for kb in readable]
    names.append(request.app.state.service.embedder.name)
    return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "powerhouse-rag"} for name in names]}


def kb_of_model(model: str) -> str:
    """``powerhouse-rag`` → the default knowledge base, ``powerhouse-rag:hr`` → ``hr``."""
    name, _, kb = model.partition(":")
    if name != MODEL_ID:
        raise HTTPException(404, f"no model {model!r}; GET /v1/models lists the knowledge bases you may use")
    return kb or DEFAULT


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request. ``input_type`` (an extension, as Cohere and NVIDIA NIM name it): "query" embeds
    with the model's query prefix (bge, e5), "document" (the default) as a passage."""

    input: str | list[str] = Field(..., description="a text or a list of up to 2048 texts")
    model: str
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None
    input_type: Literal["query", "document"] = "document"


@router.post("/embeddings")
def embeddings(request: Request, body: EmbeddingRequest) -> dict[str, Any]:
    embedder = request.app.state.service.embedder
    if body.model not in (embedder.name, MODEL_ID):
        raise HTTPException(404, f"no embedding model {body.model!r} here; this server embeds with {embedder.name!r}")
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or len(texts) > 2048 or any(not text for text in texts):
        raise HTTPException(400, "input: give 1 to 2048 non-empty texts (token arrays are not accepted)")
    if body.dimensions is not None and body.dimensions != embedder.dimension:
        raise HTTPException(400, f"dimensions: {embedder.name} gives {embedder.dimension}; it cannot shorten them")
    if body.input_type == "query":
        vectors = np.stack([embedder.embed_query(text) for text in texts])
    else:
        vectors = embedder.embed_documents(texts)
    vectors = np.asarray(vectors, dtype="<f4")  # little-endian float32, as OpenAI's base64
    tokens = sum(embedder.count_tokens(text) for text in texts)
    packed = body.encoding_format == "base64"
    encode = (lambda row: base64.b64encode(row.tobytes()).decode()) if packed else np.ndarray.tolist
    return {
        "object": "list",
        "model": embedder.name,
        "data": [{"object": "embedding", "index": i, "embedding": encode(row)} for i, row in enumerate(vectors)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


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
    kb = kb_of_model(body.model)
    pipeline = pipeline_of(request, kb=kb)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if not body.stream:
        answer = pipeline.ask(question, history)
        audit_answer(request, answer, kb)
        return completion(completion_id, created, answer)
    stream = pipeline.stream(question, history)  # limits checked here: a 413, not a broken stream

    def events() -> Iterator[str]:
        yield chunk(completion_id, created, {"role": "assistant"})
        try:
            for token in stream:
                yield chunk(completion_id, created, {"content": token})
            audit_answer(request, stream.answer, kb)
            tail = sources(stream.answer)
            if tail:
                yield chunk(completion_id, created, {"content": tail})
        except RagError as exc:
            yield chunk(completion_id, created, {"content": f"\n\n[error: {exc}]"})
        yield chunk(completion_id, created, {}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
