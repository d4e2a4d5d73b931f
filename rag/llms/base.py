"""The small interface every LLM backend implements: chat messages in, text (streamed) or JSON out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypedDict

from pydantic import Field, field_validator

from rag.registry import KindOptions, Registry

# backend -> "module:Class" (imported when first used) or the class itself; the class has ``Options`` and
# ``from_config(options)``. A new backend: its module plus one line here (or ``rag.llms.register``).
REGISTRY = Registry(
    "LLM backend",
    {
        "local": "rag.llms.local:LocalLLM",
        "openai": "rag.llms.openai_compat:OpenAICompatLLM",
    },
)


class LLMOptions(KindOptions):
    """The `llm:` section: what every backend takes; the backend's own ``Options`` add the rest."""

    registry: ClassVar[Registry] = REGISTRY
    kind_field: ClassVar[str] = "backend"
    chooses_kind: ClassVar[bool] = True

    backend: str = Field("local", description="rag.llms.REGISTRY: local (llama.cpp, offline), openai (any server)")
    # local: a packaged model name (python -m rag models list), a .gguf path, or a hub repo_id/file.gguf;
    # openai: the model name the server serves.
    # 1.5B: on TAT-QA it answered 0.53 correct and 0.95 grounded against the 0.5B's 0.41 and 0.75
    # (docs/benchmarks.md#answering-models); configs/fast.yaml is the 0.5B.
    model: str = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    n_ctx: int = Field(4096, ge=256, description="the model's window: prompts are fitted to it")
    temperature: float = Field(0.1, ge=0)
    max_tokens: int = Field(512, ge=1)
    seed: int = 0
    timeout_s: float | None = Field(
        None, gt=0, description="longest wait for a reply (or between streamed tokens); None: server 30 s, local 300 s"
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return REGISTRY.known(value)


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
