"""HyDE (Gao et al., 2022): the LLM writes a hypothetical answer passage; retrieve with its embedding,
optionally averaged with the query's (which keeps the question's own terms in play).

Over a hybrid base the passage's vector replaces the question's on the dense side; BM25 searches the
question, or with `expand_keywords` the question plus the passage (query2doc, Wang et al. 2023: the
question repeated so its own terms keep their weight) — which a small LLM's invented terms make worse
on SciFact (docs/benchmarks.md)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field, SkipValidation

from rag.documents import Hit
from rag.errors import LLMError
from rag.llms.base import LLM
from rag.retrievers import prompts
from rag.retrievers.base import Retriever, note
from rag.retrievers.cache import RewriteCache
from rag.retrievers.dense import DenseRetriever
from rag.retrievers.hybrid import HybridRetriever
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts

log = logging.getLogger(__name__)


class HyDEOptions(StrategyOptions):
    """`retriever.hyde:` how the hypothetical passage is used."""

    mix_query: bool = Field(True, description="average the passage's vector with the question's")
    expand_keywords: bool = Field(False, description="over hybrid: BM25 on question + passage (query2doc)")


class HyDERetriever(Retriever):
    Options: ClassVar[type] = HyDEOptions
    composite: ClassVar[bool] = True
    strategy: ClassVar[str] = "hyde"
    dense: DenseRetriever
    llm: SkipValidation[LLM]
    hybrid: HybridRetriever | None = None  # set: fuse with BM25
    expand_keywords: bool = False  # BM25 on question + passage (query2doc) instead of the question
    mix_query: bool = True
    max_tokens: int = 160
    cache: RewriteCache = Field(default_factory=lambda: RewriteCache(None))

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: HyDEOptions) -> HyDERetriever:
        hybrid = parts.build("hybrid") if parts.cfg.base == "hybrid" else None
        return cls(
            dense=hybrid.dense if hybrid else parts.build("dense"),
            hybrid=hybrid,
            llm=parts.llm,
            mix_query=options.mix_query,
            expand_keywords=options.expand_keywords,
            cache=parts.cache,
            k=parts.cfg.k,
        )

    def warm_up(self) -> None:
        (self.hybrid or self.dense).warm_up()
        getattr(self.llm, "warm_up", lambda: None)()

    def passage(self, query: str) -> str:
        def write() -> str:
            try:
                completion = self.llm.complete(
                    prompts.hyde_messages(query), max_tokens=self.max_tokens, temperature=0.0
                )
            except LLMError as exc:
                log.warning("HyDE passage failed, using the question alone: %s", exc)
                return ""
            return completion.text.strip()

        passage = self.cache.get_or_compute((prompts.HYDE_VERSION, self.llm.name, "hyde", query), write)
        note("hyde_passage", passage)
        return passage

    def vector(self, query: str) -> np.ndarray:
        embedder = self.dense.embedder
        passage = self.passage(query)
        if not passage:
            return embedder.embed_query(query)
        vector = embedder.embed_documents([passage])[0]
        if self.mix_query:
            vector = vector + embedder.embed_query(query)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        k, filter = k or self.k, filter or self.search_filter
        if self.hybrid is None:
            return self.dense.retrieve_by_vector(self.vector(query), k, filter)
        keywords = f"{query} {query} {query} {self.passage(query)}" if self.expand_keywords else query
        return self.hybrid.retrieve_with(keywords, self.vector(query), k, filter)
