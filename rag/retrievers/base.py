"""The one base every retriever shares: ``retrieve(query, k, filter) -> list[Hit]``, ``warm_up()``.

Our own small contract, no framework in it: LangChain and LlamaIndex see a retriever through the
adapters in :mod:`rag.integrations` (``as_langchain()``, ``as_llamaindex()``). ``run()`` also returns what
the strategy did (its rewrites, its HyDE passage, the scores of each stage), which strategies record with
:func:`note` while they work.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from rag.documents import Hit
from rag.embeddings.base import Embedder
from rag.stores.base import Filter, VectorStore
from rag.tracing import child

_TRACE: ContextVar[dict[str, Any] | None] = ContextVar("retrieval_trace", default=None)


def note(key: str, value: Any) -> None:
    """Record what a strategy did for the `run()` in progress (a no-op outside one; thread-safe)."""
    trace = _TRACE.get()
    if trace is not None:
        trace[key] = value


class Retriever(BaseModel):
    """Subclasses implement ``retrieve``; ``k`` is the default number of hits."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    strategy: ClassVar[str] = "retriever"  # the name config and traces use
    composite: ClassVar[bool] = False  # True: runs on retriever.base (so it cannot be a base itself)

    k: int = 5
    search_filter: Filter | None = None  # applied when the caller passes none

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        raise NotImplementedError

    def run(self, query: str, k: int | None = None, filter: Filter | None = None) -> tuple[list[Hit], dict[str, Any]]:
        """The hits and what the strategy did: ``{"strategy": ..., "rewrites": [...], ...}``."""
        trace: dict[str, Any] = {"strategy": self.strategy}
        token = _TRACE.set(trace)
        try:
            with child(f"retriever.{self.strategy}", "RETRIEVER", **{"rag.k": k or self.k}) as span:
                hits = self.retrieve(query, k, filter)
                if span is not None:
                    span.set_attribute("rag.hits", len(hits))
            return hits, trace
        finally:
            _TRACE.reset(token)

    def warm_up(self) -> None:
        """Load what the first query would otherwise wait for (models, indexes)."""

    def as_langchain(self) -> Any:
        """This retriever as a LangChain ``BaseRetriever`` (``invoke``, ``batch``, LCEL ``|``)."""
        from rag.integrations.langchain import LangChainRetriever

        return LangChainRetriever(retriever=self, k=self.k)

    def as_llamaindex(self) -> Any:
        """This retriever as a LlamaIndex ``BaseRetriever`` (for a ``RetrieverQueryEngine``)."""
        from rag.integrations.llamaindex import LlamaIndexRetriever

        return LlamaIndexRetriever(self)


def passage_vectors(hits: list[Hit], embedder: Embedder, store: VectorStore | None) -> np.ndarray:
    """The hits' vectors: from the store (no model call) where it has them, else embedded now."""
    from rag.stores.reuse import fetch_from, stored_or_embedded

    ids, texts = [h.id for h in hits], [h.text for h in hits]
    return stored_or_embedded(ids, texts, embedder.embed_documents, fetch_from(store))[0]
