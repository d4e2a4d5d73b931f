"""Our retrievers as LlamaIndex retrievers (usable in a ``RetrieverQueryEngine``)."""

from __future__ import annotations

from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode


class LlamaIndexRetriever(BaseRetriever):
    def __init__(self, retriever: Any, k: int | None = None, **kwargs: Any):
        self._retriever = retriever
        self._k = k
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._retriever.retrieve(query_bundle.query_str, self._k, None)
        return [
            NodeWithScore(node=TextNode(id_=hit.id, text=hit.text, metadata=dict(hit.metadata)), score=hit.score)
            for hit in hits
        ]
