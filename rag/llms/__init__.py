"""LLM backends, chosen by ``llm.backend``: ``build_llm(cfg.llm)``.

A backend is one module whose class has ``from_config(cfg)``, plus one line in :data:`REGISTRY`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.llms.base import LLM, Completion, Message
from rag.registry import load

if TYPE_CHECKING:
    from rag.config import LLMConfig

# backend -> "module:Class" (imported when first used) or the class itself.
REGISTRY: dict[str, str | type] = {
    "local": "rag.llms.local:LocalLLM",
    "openai": "rag.llms.openai_compat:OpenAICompatLLM",
}


def backend_class(backend: str) -> type:
    return load(REGISTRY[backend])


def build_llm(cfg: LLMConfig) -> LLM:
    """The LLM backend named by the config."""
    return backend_class(cfg.backend).from_config(cfg)


__all__ = ["LLM", "REGISTRY", "Completion", "Message", "backend_class", "build_llm"]
