"""What an app holds for its lifetime: one pipeline (embedder, LLM, store, retriever) and the library.

The Streamlit app caches one `RagService` per config (st.cache_resource) and the REST API holds one;
sessions and requests share it. The LLM serialises its own generations; the store and the keyword index
notice each other's writes (ingest in the library, search in the pipeline).
"""

from __future__ import annotations

import threading
from typing import Any

from rag.config import Settings
from rag.embeddings import build_embedder
from rag.library import Library
from rag.pipeline import RagPipeline


class RagService:
    def __init__(self, settings: Settings, llm: Any = None):
        self.settings = settings
        self.embedder = build_embedder(settings.embedding)
        self.library = Library(settings, self.embedder)
        self._llm = llm
        self._pipelines: dict[tuple, RagPipeline] = {}
        self._lock = threading.Lock()

    def pipeline(self, **overrides: Any) -> RagPipeline:
        """The pipeline for these per-session overrides (`strategy`, `k`, `rerank`), built once each.
        All share the embedder, the LLM and the store."""
        key = tuple(sorted(overrides.items()))
        with self._lock:
            return self._pipelines.get(key) or self._build(key, overrides)

    def _build(self, key: tuple, overrides: dict[str, Any]) -> RagPipeline:
        if key not in self._pipelines:
            settings = self.settings.model_copy(deep=True)
            if overrides.get("strategy"):
                settings.retriever.strategy = overrides["strategy"]
            if overrides.get("k"):
                settings.answer.k = int(overrides["k"])
            if "rerank" in overrides:
                settings.retriever.rerank.backend = overrides["rerank"] or "none"
            base = next(iter(self._pipelines.values()), None)
            pipeline = RagPipeline(
                settings,
                embedder=self.embedder,
                llm=self._llm or (base.llm if base else None),
                store=base.store if base else None,
            )
            self._llm = pipeline.llm
            self._pipelines[key] = pipeline
        return self._pipelines[key]

    def close(self) -> None:
        for pipeline in self._pipelines.values():
            pipeline.store.close()
            break
