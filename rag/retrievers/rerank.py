"""Re-ranking: re-score the top-N hits of any retriever, optionally diversified with MMR.

Backends: a sentence-transformers ``CrossEncoder`` (the production choice: a local folder or a hub id),
the LLM (pointwise 0–10 or one listwise ranking, JSON-constrained), or the embedding model (cosine of
query and passage: the offline fallback, useful on BM25 or fused candidates).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import Field

from rag.documents import Hit
from rag.embeddings.base import Embedder
from rag.errors import ConfigError, LLMError
from rag.llms.base import LLM
from rag.retrievers import prompts
from rag.retrievers.base import Retriever, note, passage_vectors
from rag.retrievers.cache import RewriteCache
from rag.retrievers.options import RerankOptions
from rag.stores.base import Filter, VectorStore
from rag.tracing import child

if TYPE_CHECKING:
    from rag.retrievers.parts import RetrieverParts

log = logging.getLogger(__name__)


class Reranker(Protocol):
    def score(self, query: str, hits: list[Hit]) -> list[float]: ...


class KeepOrder:
    """`rerank.backend: none`: the base's order stays (MMR, when on, may still diversify it)."""

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: RerankOptions) -> None:
        return None


class CrossEncoderOptions(RerankOptions):
    backend: Literal["cross_encoder"] = "cross_encoder"
    model: str | None = Field(None, description="a local cross-encoder folder (or a hub id when online)")
    batch_size: int = Field(16, ge=1)


class CrossEncoderReranker:
    Options = CrossEncoderOptions

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: CrossEncoderOptions) -> CrossEncoderReranker:
        if not options.model:
            raise ConfigError("retriever.rerank.backend is cross_encoder but retriever.rerank.model is not set")
        return cls(options.model, options.batch_size, parts.settings.embedding.device)

    def __init__(self, model: str, batch_size: int = 16, device: str = "cpu"):
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(model, device=device)
        except OSError as exc:
            raise ConfigError(
                f"cross-encoder {model!r} could not be loaded ({exc.__class__.__name__}): set retriever.rerank.model "
                "to a local model folder (offline, nothing is downloaded), or use rerank.backend: embedding"
            ) from None
        self.batch_size = batch_size

    def score(self, query: str, hits: list[Hit]) -> list[float]:
        if not hits:
            return []
        pairs = [(query, hit.text) for hit in hits]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in np.asarray(scores).reshape(len(hits), -1)[:, -1]]


class EmbeddingReranker:
    """Cosine of query and passage with the embedding model (stored vectors when a store is given)."""

    def __init__(self, embedder: Embedder, store: VectorStore | None = None):
        self.embedder = embedder
        self.store = store

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: RerankOptions) -> EmbeddingReranker:
        return cls(parts.embedder, parts.store)

    def score(self, query: str, hits: list[Hit]) -> list[float]:
        if not hits:
            return []
        vectors = passage_vectors(hits, self.embedder, self.store)
        return [float(s) for s in vectors @ self.embedder.embed_query(query)]


class LLMRerankOptions(RerankOptions):
    backend: Literal["llm"] = "llm"
    mode: Literal["pointwise", "listwise"] = "listwise"


class LLMReranker:
    """Pointwise: one call per passage (0–10). Listwise: one call ranking them all (cheaper, coarser)."""

    Options = LLMRerankOptions

    @classmethod
    def from_config(cls, parts: RetrieverParts, options: LLMRerankOptions) -> LLMReranker:
        return cls(parts.llm, options.mode, parts.cache)

    def __init__(
        self,
        llm: LLM,
        mode: Literal["pointwise", "listwise"] = "listwise",
        cache: RewriteCache | None = None,
        passage_chars: int = 600,
    ):
        self.llm = llm
        self.mode = mode
        self.cache = cache or RewriteCache(None)
        self.passage_chars = passage_chars

    def score(self, query: str, hits: list[Hit]) -> list[float]:
        if not hits:
            return []
        passages = [hit.text for hit in hits]
        clipped = [" ".join(p.split())[: self.passage_chars] for p in passages]
        if self.mode == "pointwise":
            return [self._point(query, p) for p in clipped]
        ranking = self._ranking(query, clipped)
        n = len(passages)
        # Ranked passages first (n, n-1, ...), the ones the model left out after them in their old order.
        scores = [0.0] * n
        for position, number in enumerate(ranking):
            scores[number - 1] = float(2 * n - position)
        unranked = [i for i in range(n) if i + 1 not in ranking]
        for position, i in enumerate(unranked):
            scores[i] = float(n - position)
        return scores

    def _point(self, query: str, passage: str) -> float:
        schema = {
            "type": "object",
            "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}},
            "required": ["score"],
        }

        def ask() -> float:
            try:
                reply = self.llm.complete_json(prompts.rerank_pointwise_messages(query, passage), schema, max_tokens=16)
                return float(reply.get("score", 0))
            except (LLMError, TypeError, ValueError) as exc:
                log.warning("LLM rerank failed for one passage: %s", exc)
                return 0.0

        return self.cache.get_or_compute((prompts.RERANK_VERSION, self.llm.name, "point", query, passage), ask)

    def _ranking(self, query: str, passages: list[str]) -> list[int]:
        n = len(passages)
        schema = {
            "type": "object",
            "properties": {
                "ranking": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": n},
                    "minItems": 1,
                    "maxItems": n,
                }
            },
            "required": ["ranking"],
        }

        def ask() -> list[int]:
            try:
                reply = self.llm.complete_json(
                    prompts.rerank_listwise_messages(query, passages), schema, max_tokens=4 * n + 16
                )
            except LLMError as exc:
                log.warning("LLM listwise rerank failed, keeping the order: %s", exc)
                return []
            seen: list[int] = []
            for number in reply.get("ranking", []):
                if isinstance(number, int) and 1 <= number <= n and number not in seen:
                    seen.append(number)
            return seen

        return self.cache.get_or_compute((prompts.RERANK_VERSION, self.llm.name, "list", query, passages), ask)


def maximal_marginal_relevance(
    query_vector: np.ndarray, vectors: np.ndarray, relevance: list[float], k: int, lambda_: float = 0.7
) -> list[int]:
    """Carbonell & Goldstein (1998): pick, one at a time, the item maximising
    λ·relevance − (1−λ)·max cosine to the items already picked. `relevance` is min-max scaled first."""
    if not len(relevance):
        return []
    scores = np.asarray(relevance, dtype=np.float64)
    span = scores.max() - scores.min()
    scores = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    chosen: list[int] = []
    remaining = list(range(len(scores)))
    while remaining and len(chosen) < k:
        redundancy = similarity[np.ix_(remaining, chosen)].max(axis=1) if chosen else np.zeros(len(remaining))
        values = lambda_ * scores[remaining] - (1 - lambda_) * redundancy
        best = remaining[int(np.argmax(values))]
        chosen.append(best)
        remaining.remove(best)
    return chosen


class RerankRetriever(Retriever):
    strategy: ClassVar[str] = "rerank"
    base: Retriever
    reranker: Any | None = None  # a Reranker; None = keep the base's order (MMR only)
    top_n: int = 20
    mmr: bool = False
    mmr_lambda: float = 0.7
    embedder: Any | None = Field(None, description="needed for MMR")
    store: Any | None = Field(None, description="MMR takes the passages' vectors from here when given")

    def warm_up(self) -> None:
        self.base.warm_up()

    def retrieve(self, query: str, k: int | None = None, filter: Filter | None = None) -> list[Hit]:
        k = k or self.k
        hits = self.base.retrieve(query, max(self.top_n, k), filter or self.search_filter)
        head, tail = hits[: self.top_n], hits[self.top_n :]
        if self.reranker is not None and head:
            with child("rerank", "RERANKER", **{"reranker.top_k": len(head)}):
                scores = self.reranker.score(query, head)
            note(
                "rerank",
                [
                    {"id": h.id, "before": round(h.score, 4), "after": round(float(s), 4)}
                    for h, s in zip(head, scores, strict=True)
                ],
            )
            head = [
                Hit(id=h.id, text=h.text, metadata=h.metadata, score=s)
                for s, h in sorted(zip(scores, head, strict=True), key=lambda pair: (-pair[0], pair[1].id))
            ]
        if self.mmr and head and self.embedder is not None:
            vectors = passage_vectors(head, self.embedder, self.store)
            order = maximal_marginal_relevance(
                self.embedder.embed_query(query), vectors, [hit.score for hit in head], len(head), self.mmr_lambda
            )
            head = [head[i] for i in order]
        return (head + tail)[:k]
