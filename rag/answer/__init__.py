"""The stages of an answer: condense → retrieve → context → prompt → generate → citations and guard.

``RagPipeline(settings).stream(question, history)`` runs them; each stage is one module here. The names below are
imported on first use, so a retriever can import the prompts without importing the pipeline (which imports it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Answer", "AnswerStream", "RagPipeline"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rag.answer import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'rag.answer' has no attribute {name!r}")
