"""What an app holds for its lifetime: one pipeline (embedder, LLM, store, retriever) and the library.

The Streamlit app caches one `RagService` per config (st.cache_resource) and the REST API holds one;
sessions and requests share it. The LLM serialises its own generations; the store and the keyword index
notice each other's writes (ingest in the library, search in the pipeline).
"""

from __future__ import annotations

import threading
from typing import Any

from rag.answer.pipeline import RagPipeline
from rag.config import Settings
from rag.embeddings import build_embedder
from rag.llms.base import LLM
from rag.stores.restricted import Restriction
from service.conversations import Conversations
from service.identity import Principal
from service.library import Library


class RagService:
    def __init__(self, settings: Settings, llm: LLM | None = None, embedder: Any = None):
        self.settings = settings
        self.embedder = embedder or build_embedder(settings.embedding)
        self.library = Library(settings, self.embedder)
        self.conversations = Conversations(settings.chat)
        self._llms: dict[str, Any] = {settings.llm.model: llm} if llm is not None else {}
        self._pipelines: dict[tuple, RagPipeline] = {}
        self._kbs: dict[str, RagService] = {}
        self._lock = threading.Lock()

    def restriction(self, principal: Principal) -> Restriction | None:
        """What `principal` may see of this knowledge base's documents (None: all of them; an admin sees all)."""
        return self.library.restriction(principal.groups, principal.admin)

    def pipeline(self, restriction: Restriction | None = None, **overrides: Any) -> RagPipeline:
        """The pipeline for a reader's `restriction` (:meth:`restriction`) and these per-session overrides
        (`strategy`, `k`, `rerank`, `model`), built once each. All share the embedder and the store; pipelines with
        the same model share its LLM."""
        key = (restriction, *sorted(overrides.items()))
        with self._lock:
            return self._pipelines.get(key) or self._build(key, overrides, restriction)

    def _build(self, key: tuple, overrides: dict[str, Any], restriction: Restriction | None = None) -> RagPipeline:
        settings = self.settings.model_copy(deep=True)
        if overrides.get("strategy"):
            settings.retriever.strategy = overrides["strategy"]
        if overrides.get("k"):
            settings.answer.k = int(overrides["k"])
        if "rerank" in overrides:
            settings.retriever.rerank.backend = overrides["rerank"] or "none"
        if overrides.get("model"):
            settings.llm.model = overrides["model"]
        base = next(iter(self._pipelines.values()), None)
        pipeline = RagPipeline(
            settings,
            embedder=self.embedder,
            llm=self._llms.get(settings.llm.model),
            store=base.source_store if base else None,
            restriction=restriction,
        )
        self._llms[settings.llm.model] = pipeline.llm
        self._pipelines[key] = pipeline
        return pipeline

    def close(self) -> None:
        for pipeline in self._pipelines.values():
            pipeline.source_store.close()
            break
        for other in self._kbs.values():
            other.close()

    def for_kb(self, name: str) -> RagService:
        """The service of knowledge base `name` (service/knowledge_bases.py): its own store collection and library,
        this service's embedder and LLM. Access is checked by the caller (the API), not here."""
        from rag.config import DEFAULT_KB as DEFAULT
        from rag.config import knowledge_base_settings as kb_settings

        if name == DEFAULT:
            return self
        with self._lock:
            if name not in self._kbs:
                kb = RagService(kb_settings(self.settings, name), embedder=self.embedder)
                kb._llms = self._llms  # one model process for all knowledge bases
                self._kbs[name] = kb
            return self._kbs[name]
