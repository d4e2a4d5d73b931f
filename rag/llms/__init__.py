"""LLM backends, chosen by name: ``build_llm(cfg.llm)``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rag.llms.base import LLM, Completion, Message

if TYPE_CHECKING:
    from rag.config import LLMConfig

REGISTRY = {
    "local": "rag.llms.local:LocalLLM",
    "openai": "rag.llms.openai_compat:OpenAICompatLLM",
}


def build_llm(cfg: LLMConfig) -> LLM:
    """The LLM backend named by the config."""
    from rag.errors import LLMError

    module_name, class_name = REGISTRY[cfg.backend].split(":")
    backend = getattr(importlib.import_module(module_name), class_name)
    if cfg.backend == "openai":
        if not cfg.base_url:
            raise LLMError("llm.backend is 'openai' but llm.base_url is not set (e.g. http://127.0.0.1:8000/v1)")
        return backend(
            cfg.model,
            cfg.base_url,
            cfg.api_key_env,
            cfg.temperature,
            cfg.max_tokens,
            cfg.timeout_s or 30.0,
            cfg.retries,
            cfg.seed,
        )
    return backend(
        cfg.model, cfg.n_ctx, cfg.n_threads, cfg.temperature, cfg.max_tokens, cfg.seed, cfg.timeout_s or 300.0
    )


__all__ = ["LLM", "REGISTRY", "Completion", "Message", "build_llm"]
