"""What every embedding provider is and owns: the :class:`Embedder` protocol, the ``embedding:`` section's common
options (:class:`EmbeddingOptions`; each provider's ``Options`` adds its own), and the provider registry."""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
from pydantic import Field, field_validator

from rag.registry import KindOptions, Registry

# provider -> "module:Class"; each class has ``Options`` and ``from_config(options)``. A new provider: its module
# plus one line here (or ``rag.embeddings.register``).
REGISTRY = Registry(
    "embedding provider",
    {
        "sentence_transformers": "rag.embeddings.sentence_transformer:SentenceTransformerEmbedder",
        "openai": "rag.embeddings.openai_compat:OpenAIEmbedder",
        "onnx": "rag.embeddings.onnx:OnnxEmbedder",
    },
)


class EmbeddingOptions(KindOptions):
    """The `embedding:` section: what every provider takes; the provider's own ``Options`` add the rest."""

    registry: ClassVar[Registry] = REGISTRY
    kind_field: ClassVar[str] = "provider"
    chooses_kind: ClassVar[bool] = True

    provider: str = Field("onnx", description="rag.embeddings.REGISTRY: onnx, sentence_transformers, openai")
    # bge-small-en-v1.5, int8 ONNX from its Maven Central jar: chosen on SciFact train (docs/benchmarks.md)
    model: str = "bge-small-en-v1.5-q"
    device: str = Field("cpu", description="cpu, cuda, cuda:N, or auto (cuda when one is visible)")
    batch_size: int = Field(32, ge=1, description="texts per model call; 512–1024 on a GPU")
    normalize: bool = True

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        return REGISTRY.known(value)


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
