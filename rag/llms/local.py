"""The offline default: llama-cpp-python running a GGUF model (a packaged one from rag.models)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from rag.errors import LLMError
from rag.llms.base import Completion, Message


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


class LocalLLM:
    """A GGUF model in-process; loaded on first use; one generation at a time."""

    supports_grammar = True

    def __init__(
        self,
        model: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        temperature: float = 0.1,
        max_tokens: int = 512,
        seed: int = 0,
    ):
        self.reference = model
        self.name = model
        self.n_ctx = n_ctx
        self.n_threads = n_threads or physical_cores()
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self._llama = None
        self._lock = threading.Lock()  # llama.cpp contexts are not re-entrant

    def warm_up(self) -> None:
        if self._llama is not None:
            return
        from rag.models import resolve

        path = resolve(self.reference)
        try:
            from llama_cpp import Llama
        except ImportError:
            raise LLMError(
                "the local LLM needs llama-cpp-python: pip install llama-cpp-python (builds from source, ~5-10 min)"
            ) from None
        try:
            self._llama = Llama(
                model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, seed=self.seed, verbose=False
            )
        except Exception as exc:
            raise LLMError(f"could not load the model {path}: {exc}") from None

    def _params(self, max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
        return {
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
            "seed": self.seed,
        }

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Tokens as generated; `grammar` (GBNF) constrains the output."""
        self.warm_up()
        extra: dict[str, Any] = {}
        if grammar:
            from llama_cpp import LlamaGrammar

            extra["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        with self._lock:
            for event in self._llama.create_chat_completion(
                messages=messages, stream=True, **self._params(max_tokens, temperature), **extra
            ):
                delta = event["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta

    def complete(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None, **extra: Any
    ) -> Completion:
        self.warm_up()
        with self._lock:
            result = self._llama.create_chat_completion(
                messages=messages, **self._params(max_tokens, temperature), **extra
            )
        return Completion.from_openai(result)

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
