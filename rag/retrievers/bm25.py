"""BM25 keyword retrieval over the index ingest keeps beside the store (``rag.stores.keyword``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import SkipValidation

from rag.documents import Hit
from rag.retrievers.base import Retriever
from rag.retrievers.glossary import Glossary
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter, VectorStore
from rag.stores.keyword import BM25Index

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts


class BM25Retriever(Retriever):
    strategy: ClassVar[str] = "bm25"
    index: SkipValidation[BM25Index]
    store: SkipValidation[VectorStore]  # holds the chunk texts
    glossary: SkipValidation[Glossary | None] = None  # query expansion (rag/retrievers/glossary.py)

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: StrategyOptions) -> BM25Retriever:
        return cls(index=parts.keyword_index(), store=parts.store, k=parts.cfg.k, glossary=parts.glossary)

    def warm_up(self) -> None:
        self.index.flush()  # loads the saved score matrix (or builds it)

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        searched = self.glossary.expand(query) if self.glossary else query
        return fill_texts(self.search(searched, k, filter), self.store)

    def search(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        """Hits without their texts (fusion needs only ids and scores)."""
        return self.index.search(query, k=k or self.k, filter=filter or self.search_filter)


def fill_texts(hits: list[Hit], store: VectorStore) -> list[Hit]:
    """Fetch the texts of hits that lack one from the store, in one call."""
    missing = [hit.id for hit in hits if not hit.text]
    if not missing:
        return hits
    texts = {row.id: row.text for row in store.get(missing)}
    for hit in hits:
        if not hit.text:
            hit.text = texts.get(hit.id, "")
    return [hit for hit in hits if hit.text]
