"""LLM backends, chosen by ``llm.backend``: ``build_llm(cfg.llm)``.

A backend is one module whose class has ``Options`` and ``from_config(options)``, plus one line in
:data:`REGISTRY` (rag/llms/base.py).
"""

from __future__ import annotations

from rag.llms.base import LLM, REGISTRY, Completion, LLMOptions, Message


def backend_class(backend: str) -> type:
    return REGISTRY.load(backend)


def register(backend: str, llm: str | type) -> None:
    """Add a backend: a class with ``Options`` and ``from_config(options)``, or "module:Class"."""
    REGISTRY.register(backend, llm)


def build_llm(cfg: LLMOptions) -> LLM:
    """The LLM backend the `llm:` section names."""
    return backend_class(cfg.backend).from_config(cfg)


__all__ = ["LLM", "REGISTRY", "Completion", "LLMOptions", "Message", "backend_class", "build_llm", "register"]
