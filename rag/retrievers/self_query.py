"""Self-query retrieval: the LLM writes a query and a metadata filter over the store's real fields
(rag/graph/self_query.py); the base retriever runs with both. A filter that is refused (unknown field, wrong type) or
that matches nothing falls back to the unfiltered search, and the trace says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr, SkipValidation

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts


class SelfQueryRetriever(Retriever):
    strategy: ClassVar[str] = "self_query"
    composite: ClassVar[bool] = True
    base: SkipValidation[Any]
    llm: SkipValidation[Any]
    store: SkipValidation[Any]
    _parser: Any = PrivateAttr(default=None)

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: StrategyOptions) -> SelfQueryRetriever:
        return cls(base=parts.build(parts.cfg.base), llm=parts.llm, store=parts.store, k=parts.cfg.k)

    def parser(self) -> Any:
        from rag.graph.self_query import SelfQuery, describe_fields

        if self._parser is None:
            self._parser = SelfQuery(self.llm, describe_fields(self.store))
        return self._parser

    def warm_up(self) -> None:
        self.base.warm_up()

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        from rag.graph.self_query import SelfQueryError

        k = k or self.k
        try:
            structured = self.parser().parse(query)
        except SelfQueryError as exc:
            note("self_query", {"error": str(exc)})
            return self.base.retrieve(query, k=k, filter=filter)
        combined = {**structured.filter, **(filter or self.search_filter or {})}
        hits = self.base.retrieve(structured.query, k=k, filter=combined or None)
        relaxed = bool(combined) and not hits
        if relaxed:
            hits = self.base.retrieve(structured.query, k=k, filter=filter)
        note("self_query", {"query": structured.query, "filter": structured.filter, "relaxed": relaxed})
        return hits
