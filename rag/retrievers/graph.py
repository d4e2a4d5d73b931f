"""Graph-expanded retrieval: the base retriever's top chunks are seeds; chunks linked to them in the graph
(a shared entity, a neighbouring chunk) join the base's later hits.

The first ``seeds`` hits of the base stay first, in its order and with its scores; the rest of the list fuses
the base's later hits with the linked chunks by reciprocal rank (``expand_weight`` the linked list's share), so
a chunk that only shares an entity with a seed can reach the answer. A linked hit says why in
``metadata["graph_via"]`` ("entity: Mara Lindqvist", "next to <id>"). Needs a store with ``related()``
(rag.stores.neo4j); a vector store without it is a configuration error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import SkipValidation

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.fuse import reciprocal_rank_fusion
from rag.stores.base import Filter


class GraphRetriever(Retriever):
    strategy: ClassVar[str] = "graph"
    base: SkipValidation[Any]  # any Retriever: dense or hybrid seeds
    graph: SkipValidation[Any]  # a store with related() (rag.stores.neo4j.Neo4jStore)
    seeds: int = 3
    hops: int = 1
    per_entity: int = 5
    max_degree: int = 50
    expand_weight: float = 1.0
    rrf_k: int = 60

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
