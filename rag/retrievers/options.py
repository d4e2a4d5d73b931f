"""The `retriever:` section and the registries it names: strategies and rerankers.

A strategy is one module: a :class:`~rag.retrievers.base.Retriever` subclass with ``Options`` (its own settings,
under ``retriever.<strategy>:``) and ``from_config(parts, options)``; plus one line in :data:`STRATEGIES`. So
``retriever: {strategy: fusion, base: hybrid, fusion: {queries: 4}, hybrid: {alpha: 0.6}}`` composes fusion over
hybrid, each with its own options, and nothing here names a strategy's settings.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from rag.registry import KindOptions, Registry

# strategy -> "module:Class"; the class has ``Options`` and ``from_config(parts, options)``.
STRATEGIES = Registry(
    "strategy",
    {
        "dense": "rag.retrievers.dense:DenseRetriever",
        "bm25": "rag.retrievers.bm25:BM25Retriever",
        "sparse": "rag.retrievers.sparse:SparseRetriever",
        "hybrid": "rag.retrievers.hybrid:HybridRetriever",
        "multi_query": "rag.retrievers.multi_query:MultiQueryRetriever",
        "hyde": "rag.retrievers.hyde:HyDERetriever",
        "fusion": "rag.retrievers.rag_fusion:RagFusionRetriever",
        "graph": "rag.retrievers.graph:GraphRetriever",
        "self_query": "rag.retrievers.self_query:SelfQueryRetriever",
        "router": "rag.retrievers.router:RouterRetriever",
        "documents": "rag.retrievers.routing:DocumentRoutedRetriever",
    },
)

# rerank.backend -> "module:Class" with ``Options`` and ``from_config(parts, options)`` (a scorer, or None: keep order).
RERANKERS = Registry(
    "reranker",
    {
        "none": "rag.retrievers.rerank:KeepOrder",
        "cross_encoder": "rag.retrievers.rerank:CrossEncoderReranker",
        "llm": "rag.retrievers.rerank:LLMReranker",
        "embedding": "rag.retrievers.rerank:EmbeddingReranker",
    },
)


class StrategyOptions(BaseModel):
    """A strategy's own settings (``retriever.<strategy>:``); a strategy without any uses this empty one."""

    model_config = ConfigDict(extra="forbid")


class RerankOptions(KindOptions):
    """`retriever.rerank:` re-score the top-N hits of any strategy (and/or diversify them with MMR)."""

    registry: ClassVar[Registry] = RERANKERS
    kind_field: ClassVar[str] = "backend"
    chooses_kind: ClassVar[bool] = True

    backend: str = Field("none", description="none | cross_encoder | llm | embedding (rag.retrievers.RERANKERS)")
    top_n: int = Field(20, ge=1, description="how many of the base retriever's hits are re-scored")
    mmr: bool = Field(False, description="diversify the re-ranked list with maximal marginal relevance")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="1 = relevance only, 0 = diversity only")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return RERANKERS.known(value)


# Flat keys of the section before strategies owned their options -> where they live now (old configs still load).
_MOVED = {
    "queries": (("multi_query", "queries"), ("fusion", "queries")),
    "include_original": (("multi_query", "include_original"), ("fusion", "include_original")),
    "hyde_mix_query": (("hyde", "mix_query"),),
    "hyde_expand_keywords": (("hyde", "expand_keywords"),),
}


class RetrieverOptions(BaseModel):
    """Strategies compose: e.g. {strategy: fusion, base: hybrid, rerank: {backend: cross_encoder}}; each strategy's
    own settings sit under its name (``hybrid: {alpha: 0.6}``) and are validated by its ``Options``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    strategy: str = Field("hybrid", description="a name in rag.retrievers.STRATEGIES: dense, bm25, sparse, hybrid, …")
    base: str = Field("hybrid", description="what multi_query/fusion/hyde/self_query/router run on (one pass)")
    k: int = Field(5, ge=1, description="hits returned when the caller does not ask for a number")
    candidates: int = Field(50, ge=1, description="hits each branch fetches before fusing")
    cache: str | None = Field(".rag/cache/rewrites.sqlite", description="LLM rewrites cache; None = off")
    glossary: str | None = Field(
        None, description="query expansion: a packaged glossary (finance) or a YAML file (rag/retrievers/glossary.py)"
    )
    rerank: SerializeAsAny[RerankOptions] = Field(default_factory=RerankOptions.of)

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(key in data for key in _MOVED):
            return data
        data = dict(data)
        for key, places in _MOVED.items():
            if key not in data:
                continue
            value = data.pop(key)
            if value is None:
                continue  # "the strategy's own default", as the flat key meant
            for strategy, option in places:
                section = dict(data.get(strategy) or {})
                section.setdefault(option, value)
                data[strategy] = section
        return data

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        return STRATEGIES.known(value)

    @field_validator("base")
    @classmethod
    def _one_pass_base(cls, value: str) -> str:
        if getattr(STRATEGIES.load(value), "composite", False):
            raise ValueError(
                f"{value!r} runs on a base itself; choose a one-pass base retriever ({', '.join(bases())})"
            )
        return value

    @model_validator(mode="after")
    def _strategy_sections(self) -> RetrieverOptions:
        extra = self.__pydantic_extra__ or {}
        for name, value in list(extra.items()):
            if name not in STRATEGIES:
                raise ValueError(
                    f"unknown key {name!r}: not an option of the retriever section, nor a strategy "
                    f"({', '.join(STRATEGIES)}) whose options it could hold"
                )
            try:
                extra[name] = strategy_options(name).model_validate(
                    value.model_dump() if isinstance(value, BaseModel) else value
                )
            except ValidationError as exc:  # reported at retriever.<strategy>.<key>, where the user wrote it
                details = [
                    {"type": e["type"], "loc": (name, *e["loc"]), "input": e["input"], "ctx": e.get("ctx", {})}
                    for e in exc.errors()
                ]
                raise ValidationError.from_exception_data(exc.title, details) from None
        return self

    def section(self, strategy: str) -> BaseModel:
        """The options of `strategy` (its defaults when the config sets none)."""
        found = (self.__pydantic_extra__ or {}).get(strategy)
        return found if found is not None else strategy_options(strategy)()

    def with_section(self, strategy: str, **options: Any) -> RetrieverOptions:
        """A copy with some of `strategy`'s options changed (what tuning and presets do)."""
        current = self.section(strategy).model_dump()
        return self.model_copy(update={strategy: strategy_options(strategy).model_validate({**current, **options})})


def strategy_options(strategy: str) -> type[BaseModel]:
    """The options model of a registered strategy."""
    return getattr(STRATEGIES.load(strategy), "Options", StrategyOptions)


def bases() -> list[str]:
    """The registered strategies that run in one pass (what a composite strategy may run on)."""
    return [name for name in STRATEGIES if not getattr(STRATEGIES.load(name), "composite", False)]
