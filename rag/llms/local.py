"""The offline default: a GGUF model (a packaged one from rag.packaged.models) run by llama.cpp in a model process.

The model never runs inside the caller: a segfault, a hang or an out-of-memory kill in llama.cpp is an
:class:`~rag.errors.LLMError` for the one request it hits, and the next request gets a fresh process
(:mod:`rag.llms.supervisor`). The worker speaks the OpenAI protocol on loopback, so requests go
through :class:`~rag.llms.openai_compat.OpenAICompatLLM`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from rag.cores import usable_cores
from rag.errors import LLMError, LLMServerError
from rag.llms.base import Completion, LLMOptions, Message
from rag.llms.openai_compat import OpenAICompatLLM
from rag.llms.supervisor import ModelProcess, shared_process

# llama-cpp-python's in-process defaults; its server defaults repeat_penalty to 1.1 instead.
_SAMPLING = {"repeat_penalty": 1.0}


class LocalOptions(LLMOptions):
    backend: Literal["local"] = "local"
    n_threads: int | None = Field(None, ge=1, description="None = the physical cores this process may use")


class LocalLLM:
    """A GGUF model in a supervised process; started on first use; requests queue (one generation at a time)."""

    Options = LocalOptions

    supports_grammar = True

    def __init__(
        self,
        model: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        temperature: float = 0.1,
        max_tokens: int = 512,
        seed: int = 0,
        timeout_s: float = 300.0,
    ):
        self.reference = model
        self.name = model
        self.n_ctx = n_ctx
        self.n_threads = n_threads or usable_cores()
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.timeout_s = timeout_s
        self.process: ModelProcess | None = None

    @classmethod
    def from_config(cls, cfg: LocalOptions) -> LocalLLM:
        return cls(
            cfg.model, cfg.n_ctx, cfg.n_threads, cfg.temperature, cfg.max_tokens, cfg.seed, cfg.timeout_s or 300.0
        )

    def warm_up(self) -> None:
        """Resolve the model file and start its process (a no-op while it runs)."""
        self._client()

    def _client(self) -> OpenAICompatLLM:
        if self.process is None:
            from rag.packaged.models import resolve

            path = resolve(self.reference)
            try:
                import llama_cpp  # noqa: F401
            except ImportError:
                raise LLMError(
                    "the local LLM needs llama-cpp-python: pip install -e '.[llm]' (builds llama.cpp once, ~5-10 min)"
                ) from None
            self.process = shared_process(path, self.name, self.n_ctx, self.n_threads, self.seed)
        return OpenAICompatLLM(
            self.name,
            self.process.url(),
            api_key_env="",
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
            retries=0,
            seed=self.seed,
        )

    def _failure(self, exc: LLMServerError) -> LLMError:
        """What went wrong in the model process, as a message for this one request."""
        assert self.process is not None
        reason = self.process.exit_reason(wait_s=2.0)
        if reason is None and exc.timed_out:
            self.process.kill()
            return LLMError(
                f"the local model {self.name} did not answer within {self.timeout_s:.0f} s and was stopped; "
                "the next question starts it again (raise llm.timeout_s for long prompts on a slow CPU)"
            )
        if reason is not None:
            tail = self.process.log_tail(1)
            return LLMError(
                f"the local model {self.name} crashed while answering (its process {reason}"
                f"{'; ' + tail if tail else ''}); the next question starts it again. "
                "If it keeps crashing, run `python -m rag doctor`"
            )
        return LLMError(f"the local model {self.name} failed: {exc}")

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Tokens as generated; `grammar` (GBNF) constrains the output."""
        extra = {**_SAMPLING, **({"grammar": grammar} if grammar else {})}
        client = self._client()
        try:
            yield from client.stream(messages, max_tokens=max_tokens, temperature=temperature, **extra)
        except LLMServerError as exc:
            raise self._failure(exc) from None

    def complete(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None, **extra: Any
    ) -> Completion:
        client = self._client()
        try:
            return client.complete(messages, max_tokens=max_tokens, temperature=temperature, **{**_SAMPLING, **extra})
        except LLMServerError as exc:
            raise self._failure(exc) from None

    def complete_json(
        self,
        messages: list[Message],
        schema: dict[str, Any],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> dict[str, Any]:
        # The grammar keeps the structure; a bounded schema plus a repeat penalty keeps small models from
        # looping inside one string until max_tokens. A truncated answer is retried once with more room.
        budget = max_tokens or self.max_tokens
        for attempt in range(2):
            completion = self.complete(
                messages,
                max_tokens=budget * (attempt + 1),
                temperature=temperature,
                response_format={"type": "json_object", "schema": schema},
                repeat_penalty=1.3,
            )
            if completion.finish_reason != "length":
                try:
                    return json.loads(completion.text)
                except json.JSONDecodeError:
                    pass
        raise LLMError(f"the model {self.name} did not return valid JSON within {budget * 2} tokens")
