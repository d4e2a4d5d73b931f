"""What every strategy is built from: the settings, the embedder and store, and (opened only when a strategy needs
them) the LLM, the rewrite cache, the keyword and SPLADE indexes and the graph. ``parts.build(name)`` builds any
registered strategy with its own options, so a strategy that runs on a base builds it by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rag.embeddings.base import Embedder
from rag.errors import ConfigError
from rag.llms.base import LLM
from rag.retrievers.cache import RewriteCache
from rag.retrievers.glossary import Glossary
from rag.retrievers.options import STRATEGIES, RetrieverOptions
from rag.stores.base import GraphStore, VectorStore
from rag.stores.restricted import Restriction, restrict, restrict_index

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.retrievers.base import Retriever

log = logging.getLogger(__name__)


class RetrieverParts:
    """The shared parts strategies are built from (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: VectorStore,
        llm: LLM | None = None,
        llm_factory: Callable[[], LLM] | None = None,
        restriction: Restriction | None = None,
    ):
        self.settings = settings
        self.cfg: RetrieverOptions = settings.retriever
        self.embedder = embedder
        self.restriction = restriction  # the reader's access keys (rag/stores/restricted.py); None: everything
        self.source = store  # the whole store: what the side indexes are synced against
        self.store = restrict(store, restriction)  # what every strategy reads
        self._llm = llm
        self._llm_factory = llm_factory
        self._cache: RewriteCache | None = None
        self._glossary: Glossary | None = None

    def build(self, strategy: str) -> Retriever:
        """The strategy `strategy` with its own options."""
        return STRATEGIES.load(strategy).from_config(self, self.cfg.section(strategy))

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            if self._llm_factory is not None:
                self._llm = self._llm_factory()
            else:
                from rag.llms import build_llm

                self._llm = build_llm(self.settings.llm)
        return self._llm

    @property
    def glossary(self) -> Glossary | None:
        """The query expansion `retriever.glossary` names (None: the searches run on the question alone)."""
        if self.cfg.glossary and self._glossary is None:
            self._glossary = Glossary.load(self.cfg.glossary)
        return self._glossary

    @property
    def cache(self) -> RewriteCache:
        if self._cache is None:
            self._cache = RewriteCache(self.cfg.cache)
        return self._cache

    def keyword_index(self) -> Any:
        """The BM25 index beside the store (the store's own when its parameters match); filled when it lags."""
        from rag.stores import open_keyword_index
        from rag.stores.keyword import KeywordIndexedStore, sync_keyword_index

        bm25 = self.settings.store.bm25
        if isinstance(self.source, KeywordIndexedStore) and self.source.keyword.same_params(
            bm25.k1, bm25.b, bm25.method, bm25.context
        ):
            index = self.source.keyword
        else:
            index = open_keyword_index(self.settings.store)
        if index.count() != self.source.count():  # built before the keyword index, or interrupted between writes
            sync_keyword_index(index, self.source)
        return restrict_index(index, self.restriction)

    def sparse_index(self) -> Any:
        """The SPLADE index beside the store; filled from the store's texts when it lags (e.g. just enabled)."""
        from rag.stores import open_sparse_index
        from rag.stores.keyword import KeywordIndexedStore, sync_index

        sparse = self.settings.store.sparse
        index = self.source.sparse if isinstance(self.source, KeywordIndexedStore) else None
        if index is None or index.context != sparse.context or index.encoder.reference != sparse.model:
            index = open_sparse_index(self.settings.store)
        if index.count() != self.source.count():
            log.info("filling the SPLADE index from the store's %d chunks (once)", self.source.count())
            sync_index(index, self.source, batch=256)
        return restrict_index(index, self.restriction)

    def graph(self, strategy: str) -> GraphStore:
        """The store's graph, or a ConfigError saying which store kind has one."""
        from rag.stores import base_store

        store = base_store(self.source)
        if not isinstance(store, GraphStore):
            raise ConfigError(
                f"retriever.strategy {strategy} needs a graph store, but store.kind is "
                f"{self.settings.store.kind!r}: use configs/neo4j.yaml (store.kind: neo4j)"
            )
        return restrict(store, self.restriction)
