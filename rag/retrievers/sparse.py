"""Learned-sparse (SPLADE) retrieval over the index ingest keeps beside the store (``rag.stores.sparse``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SkipValidation

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.bm25 import fill_texts
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter, VectorStore

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts


class SparseRetriever(Retriever):
    strategy: ClassVar[str] = "sparse"
    index: SkipValidation[Any]  # rag.stores.sparse.SparseIndex
    store: SkipValidation[VectorStore]  # holds the chunk texts

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: StrategyOptions) -> SparseRetriever:
        return cls(index=parts.sparse_index(), store=parts.store, k=parts.cfg.k)

    def warm_up(self) -> None:
        self.index.encoder.warm_up()
        self.index.flush()

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        return fill_texts(self.search(query, k, filter), self.store)

    def search(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        """Hits without their texts (fusion needs only ids and scores); notes the query's strongest terms."""
        vector = self.index.encoder.encode_query(query)
        note("sparse_terms", [term for term, _ in self.index.encoder.terms(vector, top=8)])
        return self.index.search(vector, k=k or self.k, filter=filter or self.search_filter)
