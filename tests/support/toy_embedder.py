"""An embedding provider defined outside the package: hashed character trigrams (no model), with its own option.

One module (a class with ``Options`` and ``from_config``), then ``rag.embeddings.register("trigram", ...)``.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
from pydantic import Field

from rag.embeddings.base import EmbeddingOptions


class TrigramOptions(EmbeddingOptions):
    provider: Literal["trigram"] = "trigram"
    model: str = "trigram"
    dimension: int = Field(256, ge=8, description="buckets the trigrams hash into")


class TrigramEmbedder:
    Options = TrigramOptions

    def __init__(self, dimension: int = 256):
        self.name = f"trigram-{dimension}"
        self._dimension = dimension

    @classmethod
    def from_config(cls, cfg: TrigramOptions) -> TrigramEmbedder:
        return cls(cfg.dimension)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return 256

    def warm_up(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            lowered = f"  {text.lower()}  "
            for start in range(len(lowered) - 2):
                digest = hashlib.blake2b(lowered[start : start + 3].encode(), digest_size=4).digest()
                rows[row, int.from_bytes(digest, "little") % self._dimension] += 1.0
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
