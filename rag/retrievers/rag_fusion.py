"""RAG-fusion (Raudaschl/rag-fusion): the LLM writes related search queries, each is run through a
base retriever (dense or hybrid), and the lists are fused by reciprocal rank fusion (k=60).

As in the reference, the original query is not one of the searches unless `include_original`."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rag.llms.base import Message
from rag.retrievers import prompts
from rag.retrievers.multi_query import MultiQueryOptions, MultiQueryRetriever


class RagFusionOptions(MultiQueryOptions):
    """`retriever.fusion:` as the reference RAG-fusion: the rewrites only, not the question itself."""

    include_original: bool = False


class RagFusionRetriever(MultiQueryRetriever):
    Options: ClassVar[type] = RagFusionOptions
    strategy: ClassVar[str] = "fusion"
    queries: int = 4
    include_original: bool = False
    prompt: Callable[[str, int], list[Message]] = prompts.fusion_messages
    prompt_version: str = prompts.FUSION_VERSION
