"""A strategy defined outside the package: dense hits, at most `per_source` per source (a toy diversity strategy).

What a user's plug-in looks like: one module (a Retriever with ``Options`` and ``from_config``), then
``rag.retrievers.register("one_per_source", "tests.support.toy_strategy:OnePerSource")``; its options sit under
``retriever.one_per_source:`` and nothing else changes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from rag.retrievers.base import Retriever, note
from rag.retrievers.options import StrategyOptions


class OnePerSourceOptions(StrategyOptions):
    per_source: int = Field(1, ge=1, description="hits kept from one source")
    pool: int = Field(50, ge=1, description="dense hits to choose from")


class OnePerSource(Retriever):
    Options: ClassVar[type] = OnePerSourceOptions
    strategy: ClassVar[str] = "one_per_source"
    dense: Retriever
    per_source: int = 1
    pool: int = 50

    @classmethod
    def from_config(cls, parts: Any, options: OnePerSourceOptions) -> OnePerSource:
        return cls(dense=parts.build("dense"), per_source=options.per_source, pool=options.pool, k=parts.cfg.k)

    def retrieve(self, query, k=None, filter=None):
        hits, taken = [], {}
        for hit in self.dense.retrieve(query, self.pool, filter):
            source = hit.metadata["source"]
            if taken.get(source, 0) < self.per_source:
                taken[source] = taken.get(source, 0) + 1
                hits.append(hit)
        note("sources", len(taken))
        return hits[: k or self.k]
