"""Graph-expanded retrieval: the base retriever's top chunks are seeds; chunks linked to them in the graph
(a shared entity, a neighbouring chunk) join the base's later hits.

The first ``seeds`` hits of the base stay first, in its order and with its scores; the rest of the list fuses
the base's later hits with the linked chunks by reciprocal rank (``expand_weight`` the linked list's share), so
a chunk that only shares an entity with a seed can reach the answer. A linked hit says why in
``metadata["graph_via"]`` ("entity: Mara Lindqvist", "next to <id>"). Needs a store with ``related()``
(rag.stores.neo4j); a vector store without it is a configuration error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SkipValidation

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.fuse import reciprocal_rank_fusion
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts


class GraphOptions(StrategyOptions):
    """`retriever.graph:` seeds from `base`, expanded through the Neo4j graph. As its own base it is not
    retriever.base, so multi_query/fusion/hyde/rerank can run on top of graph."""

    base: Literal["dense", "bm25", "sparse", "hybrid"] = Field("hybrid", description="the retriever that seeds it")
    seeds: int = Field(3, ge=1, description="the base's top hits that seed the expansion (and stay first)")
    hops: int = Field(1, ge=0, le=3, description="NEXT steps to neighbouring chunks (0: entities only)")
    per_entity: int = Field(5, ge=1, description="chunks taken through one shared entity")
    max_degree: int = Field(50, ge=2, description="skip entities mentioned by more chunks than this (too common)")
    expand_weight: float = Field(1.0, ge=0, description="the linked chunks' share against the base's later hits")
    rrf_k: int = Field(60, ge=1)


class GraphRetriever(Retriever):
    Options: ClassVar[type] = GraphOptions
    strategy: ClassVar[str] = "graph"
    base: SkipValidation[Any]  # any Retriever: dense or hybrid seeds
    graph: SkipValidation[Any]  # a store with related() (rag.stores.neo4j.Neo4jStore)
    seeds: int = 3
    hops: int = 1
    per_entity: int = 5
    max_degree: int = 50
    expand_weight: float = 1.0
    rrf_k: int = 60

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: GraphOptions) -> GraphRetriever:
        return cls(
            base=parts.build(options.base),
            graph=parts.graph("graph"),
            seeds=options.seeds,
            hops=options.hops,
            per_entity=options.per_entity,
            max_degree=options.max_degree,
            expand_weight=options.expand_weight,
            rrf_k=options.rrf_k,
            k=parts.cfg.k,
        )

    def warm_up(self) -> None:
        self.base.warm_up()

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        k = k or self.k
        filter = filter if filter is not None else self.search_filter
        base_hits = self.base.retrieve(query, k=max(k, self.seeds), filter=filter)
        head = base_hits[: self.seeds]
        linked = self.graph.related(
            [h.id for h in head],
            hops=self.hops,
            per_entity=self.per_entity,
            max_degree=self.max_degree,
            limit=2 * k,
            filter=filter,
        )
        expansion = []
        for hit, _weight, via in linked:
            hit.metadata = {**hit.metadata, "graph_via": via}
            expansion.append(hit)
        # The linked list goes first: at equal fused scores a linked chunk wins over the base's next hit.
        rest = reciprocal_rank_fusion(
            [expansion, base_hits[self.seeds :]], k=self.rrf_k, weights=[self.expand_weight, 1.0]
        )
        seen = {h.id for h in head}
        top = head + [h for h in rest if h.id not in seen][: max(0, k - len(head))]
        note("graph", {"seeds": [h.id for h in head], "linked": [{"id": h.id, "via": v} for h, _, v in linked]})
        return top[:k]
