"""Any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, vLLM, Ollama, llama.cpp server, TEI)."""

from __future__ import annotations

import logging
import math
import os
from typing import Literal

import numpy as np
from pydantic import Field

from rag.embeddings.base import EmbeddingOptions
from rag.errors import EmbeddingError
from rag.http import send

log = logging.getLogger(__name__)


class OpenAIEmbeddingOptions(EmbeddingOptions):
    provider: Literal["openai"] = "openai"
    base_url: str | None = Field(None, description="the server's /v1 URL")
    api_key_env: str = Field("OPENAI_API_KEY", description="the NAME of the variable holding the key")
    max_tokens: int = Field(512, ge=16, description="context of the remote model")
    timeout_s: float = Field(60.0, gt=0)
    retries: int = Field(2, ge=0, description="retries on connection errors and 429/5xx, with backoff")


class OpenAIEmbedder:
    """Any OpenAI-compatible embeddings endpoint (OpenAI, vLLM, Ollama, llama.cpp server, TEI)."""

    Options = OpenAIEmbeddingOptions

    request_batch = 64

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        max_tokens: int = 512,
        timeout_s: float = 60.0,
        normalize: bool = True,
        retries: int = 2,
    ):
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.api_key = os.environ.get(api_key_env, "")
        self._max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.normalize = normalize
        self.retries = retries
        self._dimension: int | None = None

    def warm_up(self) -> None:
        """Nothing to load: the server holds the model."""

    @classmethod
    def from_config(cls, cfg: OpenAIEmbeddingOptions) -> OpenAIEmbedder:
        if not cfg.base_url:
            raise EmbeddingError("embedding.provider is 'openai' but embedding.base_url is not set")
        return cls(cfg.model, cfg.base_url, cfg.api_key_env, cfg.max_tokens, cfg.timeout_s, cfg.normalize, cfg.retries)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed_documents(["dimension probe"]).shape[1])
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        # The remote tokenizer is unknown: ~4 characters a token errs towards smaller chunks.
        return math.ceil(len(text) / 3.5)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        import httpx

        rows: list[list[float]] = []
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/embeddings"
        with httpx.Client(timeout=httpx.Timeout(self.timeout_s)) as client:
            for start in range(0, len(texts), self.request_batch):
                body = {"model": self.name, "input": texts[start : start + self.request_batch]}
                response = send(
                    client,
                    lambda body=body: client.build_request("POST", url, json=body, headers=headers),
                    where=f"embedding server at {url}",
                    timeout_s=self.timeout_s,
                    retries=self.retries,
                    fail=lambda message, timed_out: EmbeddingError(message),
                    stream=False,
                    hint="— is it running? (embedding.base_url)",
                )
                try:
                    data = sorted(response.json()["data"], key=lambda item: item["index"])
                except (ValueError, KeyError, TypeError):
                    raise EmbeddingError(
                        f"embedding server at {url} answered something that is not an embeddings list: "
                        f"{response.text[:120]!r}"
                    ) from None
                rows.extend(item["embedding"] for item in data)
        vectors = np.asarray(rows, dtype=np.float32)
        if self.normalize and len(vectors):
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if self._dimension is None and len(vectors):
            self._dimension = int(vectors.shape[1])
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
