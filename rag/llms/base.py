"""The small interface every LLM backend implements: chat messages in, text (streamed) or JSON out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass
class Completion:
    text: str
    finish_reason: str = "stop"  # "stop" | "length"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_openai(cls, result: dict[str, Any]) -> Completion:
        """From an OpenAI-format chat completion (llama.cpp returns the same shape)."""
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return cls(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        )


class LLM(Protocol):
    name: str

    def warm_up(self) -> None:
        """Load the model (or start its process) now rather than on the first request."""
        ...

    def stream(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Iterator[str]:
        """Tokens of the answer as they are generated."""
        ...

    def complete(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> Completion: ...

    def complete_json(
        self,
        messages: list[Message],
        schema: dict[str, Any],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> dict[str, Any]:
        """A JSON object matching `schema` (grammar-constrained where the backend can)."""
        ...
