"""The one base every retriever shares: ``retrieve(query, k, filter) -> list[Hit]``.

Each retriever is also a LangChain ``BaseRetriever`` (``invoke``, LCEL chains, ``batch``) and adapts
to LlamaIndex with ``as_llamaindex()``. Our own small method is the contract; LangChain's is a view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LangChainDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.documents import Hit
from rag.stores.base import Filter


class Retriever(BaseRetriever):
    """Subclasses implement ``retrieve``; ``k`` is the default number of hits."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    k: int = 5
    search_filter: Filter | None = None  # applied when the caller passes none (LangChain's invoke)

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        raise NotImplementedError

    def as_llamaindex(self) -> Any:
        """This retriever as a LlamaIndex ``BaseRetriever`` (for a ``RetrieverQueryEngine``)."""
        from rag.retrievers.llamaindex import LlamaIndexRetriever

        return LlamaIndexRetriever(self)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LangChainDocument]:
        return [to_langchain(hit) for hit in self.retrieve(query, self.k, self.search_filter)]


def to_langchain(hit: Hit) -> LangChainDocument:
    return LangChainDocument(page_content=hit.text, id=hit.id, metadata={**hit.metadata, "score": hit.score})


def passage_vectors(hits: list[Hit], embedder: Any, store: Any | None) -> np.ndarray:
    """The hits' vectors: from the store (no model call) where it has them, else embedded now."""
    stored: dict[str, Any] = {}
    if store is not None:
        stored = {row.id: row.vector for row in store.get([h.id for h in hits], include_vectors=True)}
    missing = [h for h in hits if stored.get(h.id) is None]
    if missing:
        stored.update(zip([h.id for h in missing], embedder.embed_documents([h.text for h in missing]), strict=True))
    return np.vstack([np.asarray(stored[h.id], dtype=np.float32) for h in hits])
