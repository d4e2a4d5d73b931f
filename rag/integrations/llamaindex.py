"""LlamaIndex at the edge: our retrievers as LlamaIndex retrievers and our LLM backends as a LlamaIndex LLM,
so a ``RetrieverQueryEngine`` runs on them offline.

from rag.integrations.llamaindex import as_llamaindex_llm
engine = RetrieverQueryEngine.from_args(retriever.as_llamaindex(), llm=as_llamaindex_llm(llm))
"""

from __future__ import annotations

from typing import Any

from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import ConfigDict


class RagLlamaIndexLLM(CustomLLM):
    """A LlamaIndex completion LLM backed by one of our LLM backends (prompts go in as one user turn)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    backend: Any
    context_window: int = 4096
    num_output: int = 256

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.num_output, model_name=self.backend.name)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        completion = self.backend.complete([{"role": "user", "content": prompt}], max_tokens=self.num_output)
        return CompletionResponse(text=completion.text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = ""
        for token in self.backend.stream([{"role": "user", "content": prompt}], max_tokens=self.num_output):
            text += token
            yield CompletionResponse(text=text, delta=token)


def as_llamaindex_llm(backend: Any, context_window: int = 4096, num_output: int = 256) -> RagLlamaIndexLLM:
    return RagLlamaIndexLLM(backend=backend, context_window=context_window, num_output=num_output)


class LlamaIndexRetriever(BaseRetriever):
    """One of our retrievers (rag.retrievers.base.Retriever) as a LlamaIndex retriever."""

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

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """The search in a worker thread: an async query engine's event loop is not blocked by it."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self._retrieve, query_bundle)
