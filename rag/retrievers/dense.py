"""Dense retrieval: embed the query, nearest chunks from the vector store (with metadata filters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import SkipValidation

from rag.documents import Hit, ranked
from rag.embeddings import Embedder
from rag.retrievers.base import Retriever
from rag.retrievers.glossary import Glossary
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter, VectorStore

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts


class DenseRetriever(Retriever):
    strategy: ClassVar[str] = "dense"
    embedder: SkipValidation[Embedder]
    store: SkipValidation[VectorStore]
    glossary: SkipValidation[Glossary | None] = None  # query expansion (rag/retrievers/glossary.py)

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        searched = self.glossary.expand(query) if self.glossary else query
        return self.retrieve_by_vector(self.embedder.embed_query(searched), k, filter)

    def retrieve_by_vector(self, vector: np.ndarray, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        return ranked(self.store.search(vector, k=k or self.k, filter=filter or self.search_filter))

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: StrategyOptions) -> DenseRetriever:
        return cls(embedder=parts.embedder, store=parts.store, k=parts.cfg.k, glossary=parts.glossary)
