"""Multi-query: the LLM writes N phrasings of the question; each is retrieved, results fused by RRF.

The original question is always one of the queries, so a poor rewrite can dilute but not replace it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SkipValidation

from rag.documents import Hit
from rag.errors import LLMError
from rag.llms.base import LLM, Message
from rag.retrievers import prompts
from rag.retrievers.base import Retriever, note
from rag.retrievers.cache import RewriteCache
from rag.retrievers.fuse import reciprocal_rank_fusion
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts

log = logging.getLogger(__name__)


def queries_schema(n: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "queries": {
                "type": "array",
                "items": {"type": "string", "minLength": 3, "maxLength": 160},
                "minItems": n,
                "maxItems": n,
            }
        },
        "required": ["queries"],
    }


def generate_queries(
    llm: Any, cache: RewriteCache, messages: Callable[[str, int], list[Message]], version: str, query: str, n: int
) -> list[str]:
    """N rewrites of `query` from the LLM (JSON-constrained), cached on disk; [] when the LLM fails."""

    def ask() -> list[str]:
        try:
            reply = llm.complete_json(messages(query, n), queries_schema(n), max_tokens=60 * n)
        except LLMError as exc:
            log.warning("query rewriting failed, using the question alone: %s", exc)
            return []
        return [q.strip() for q in reply.get("queries", []) if isinstance(q, str) and q.strip()][:n]

    return cache.get_or_compute((version, llm.name, "queries", query, n), ask)


class MultiQueryOptions(StrategyOptions):
    """`retriever.multi_query:` the rewrites."""

    queries: int = Field(3, ge=1, le=10, description="rewrites the LLM writes")
    include_original: bool = Field(True, description="search the question itself too")
    rrf_k: int = Field(60, ge=1)


class MultiQueryRetriever(Retriever):
    Options: ClassVar[type] = MultiQueryOptions
    composite: ClassVar[bool] = True
    strategy: ClassVar[str] = "multi_query"
    base: Retriever
    llm: SkipValidation[LLM]
    queries: int = 3
    include_original: bool = True
    rrf_k: int = 60
    candidates: int = 50
    cache: RewriteCache = Field(default_factory=lambda: RewriteCache(None))
    prompt: Callable[[str, int], list[Message]] = prompts.multi_query_messages
    prompt_version: str = prompts.MULTI_QUERY_VERSION

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: MultiQueryOptions) -> MultiQueryRetriever:
        return cls(
            base=parts.build(parts.cfg.base),
            llm=parts.llm,
            cache=parts.cache,
            queries=options.queries,
            include_original=options.include_original,
            rrf_k=options.rrf_k,
            candidates=parts.cfg.candidates,
            k=parts.cfg.k,
        )

    def warm_up(self) -> None:
        self.base.warm_up()
        getattr(self.llm, "warm_up", lambda: None)()

    def rewrites(self, query: str) -> list[str]:
        generated = generate_queries(self.llm, self.cache, self.prompt, self.prompt_version, query, self.queries)
        wanted = [query, *generated] if self.include_original or not generated else generated
        seen: set[str] = set()
        return [q for q in wanted if not (q.lower() in seen or seen.add(q.lower()))]

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        k = k or self.k
        depth = max(self.candidates, k)
        queries = self.rewrites(query)
        note("rewrites", queries)
        rankings = [self.base.retrieve(q, depth, filter or self.search_filter) for q in queries]
        return reciprocal_rank_fusion(rankings, k=self.rrf_k)[:k]
