"""A router that picks, per question, vector search, graph-expanded search or a Cypher query (graph store only).

Rules, no model call: a question that counts or lists over the collection ("how many", "which documents",
"list all", "most often") goes to text-to-Cypher; one that names two or more entities the graph knows goes to
graph retrieval (it has to connect them); anything else to the vector (base) retriever. The route and why are
in the trace (an answer's ``retrieval``). A Cypher query that fails or finds nothing falls back to the vector
route; its rows come back as one passage (``source: graph query``) ahead of the vector hits, so the answer
can cite them. A reader restricted to some documents (rag/stores/restricted.py) always takes the vector route:
a Cypher count or the graph's entity names would speak of documents they may not read.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SkipValidation

from rag.documents import Hit
from rag.retrievers.base import Retriever, note
from rag.retrievers.options import StrategyOptions
from rag.stores.base import Filter

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts

_AGGREGATE = re.compile(
    r"\b(how many|how much of|number of|count|list (all|every)|which (documents?|files?|sources?|chunks?)|"
    r"what (documents?|files?)|most (often|common|frequent)|top \d+|mentioned (in|by) (the )?most)\b",
    re.I,
)


class RouterRetriever(Retriever):
    strategy: ClassVar[str] = "router"
    composite: ClassVar[bool] = True
    vector: SkipValidation[Any]
    graph: SkipValidation[Any]  # GraphRetriever
    cypher: SkipValidation[Any]  # rag.graph.cypher.CypherQA
    restricted: bool = False  # a reader who may not see every document: no Cypher route, no graph-name routing

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: StrategyOptions) -> RouterRetriever:
        from rag.graph.cypher import CypherQA

        graph = parts.build("graph")  # refuses a store without a graph
        return cls(
            vector=parts.build(parts.cfg.base),
            graph=graph,
            cypher=CypherQA(parts.graph("router"), parts.llm),
            restricted=parts.restriction is not None,
            k=parts.cfg.k,
        )

    def warm_up(self) -> None:
        self.vector.warm_up()

    def route(self, question: str) -> tuple[str, str]:
        """(route, why) for a question."""
        if self.restricted:  # counts and entity names over the whole graph would tell of documents it may not read
            return "vector", "the graph's counts and names span documents this reader may not see"
        if _AGGREGATE.search(question):
            return "cypher", f"counts or lists: {_AGGREGATE.search(question).group(0)!r}"
        known = list(self.cypher.known_entities(question).values())  # the graph's names the question uses
        if len(known) >= 2:
            return "graph", f"connects {len(known)} known entities: {', '.join(known[:4])}"
        return "vector", "a question about content"

    def _naming(self, question: str, hits: list[Hit]) -> list[Hit]:
        """Beside a graph count, only the passages that name what was counted: an unrelated nearest neighbour
        (a bakery's hours beside "how many documents mention Mara Lindqvist?") drew the small model's answer."""
        names = [text.lower() for pair in self.cypher.known_entities(question).items() for text in pair]
        return [hit for hit in hits if any(name in hit.text.lower() for name in names)] if names else hits

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        k = k or self.k
        route, why = self.route(query)
        note("route", {"route": route, "why": why})
        if route == "graph":
            return self.graph.retrieve(query, k=k, filter=filter)
        if route == "cypher":
            result = self.cypher.ask(query)
            note("cypher", {"query": result.cypher, "rows": len(result.rows), "error": result.error})
            if result.rows and not result.error:
                digest = hashlib.sha256(result.cypher.encode()).hexdigest()[:16]
                passage = Hit(
                    id=f"cypher-{digest}",
                    text=result.as_context(),
                    metadata={"source": "graph query", "cypher": result.cypher, "sources": ", ".join(result.sources)},
                    score=1.0,
                )
                return [passage, *self._naming(query, self.vector.retrieve(query, k=max(k - 1, 1), filter=filter))][:k]
            note("route", {"route": "vector", "why": f"the Cypher route found nothing ({result.error or '0 rows'})"})
        return self.vector.retrieve(query, k=k, filter=filter)
