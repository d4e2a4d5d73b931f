"""A local sentence-transformers model (the packaged all-MiniLM-L6-v2 by default); loaded on first use."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from rag.embeddings import PACKAGED_MODELS, resolve_model_path
from rag.embeddings.base import EmbeddingOptions
from rag.errors import EmbeddingError

log = logging.getLogger(__name__)


def torch_device(device: str, precision: str = "fp32") -> str:
    """The torch device a config names, or an error that says how to fix it (``auto``: cuda when visible)."""
    import torch

    has_cuda = torch.cuda.is_available()
    resolved = ("cuda" if has_cuda else "cpu") if device == "auto" else device
    if resolved.startswith("cuda"):
        if not has_cuda:
            raise EmbeddingError(
                f"embedding.device is {device!r} but torch {torch.__version__} sees no CUDA GPU ("
                + ("check the driver and CUDA_VISIBLE_DEVICES" if torch.version.cuda else "a CPU-only build of torch")
                + "); run on a GPU machine or set embedding.device: cpu (or auto)"
            )
        index = int(resolved.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise EmbeddingError(f"embedding.device {device!r}: only {torch.cuda.device_count()} GPU(s) visible")
    elif resolved != "cpu" and not resolved.startswith("mps"):
        raise EmbeddingError(f"embedding.device {device!r}: use cpu, cuda, cuda:N or auto")
    if precision == "fp16" and not resolved.startswith("cuda"):
        raise EmbeddingError("embedding.precision fp16 needs a GPU (embedding.device: cuda); on a CPU use fp32 or bf16")
    return resolved


class SentenceTransformerOptions(EmbeddingOptions):
    provider: Literal["sentence_transformers"] = "sentence_transformers"
    model: str = "all-MiniLM-L6-v2"
    precision: Literal["fp32", "fp16", "bf16"] = Field("fp32", description="fp16/bf16 weights (fp16 on cuda only)")
    threads: int | None = Field(None, ge=1, description="torch threads; None = torch's default")


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; loaded on first use."""

    Options = SentenceTransformerOptions

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        device: str = "cpu",
        batch_size: int = 32,
        normalize: bool = True,
        threads: int | None = None,
        precision: str = "fp32",
    ):
        self.model_path, self.name = resolve_model_path(model)
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.normalize = normalize
        self.threads = threads
        self._model = None
        self._counter = None
        self._query_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: SentenceTransformerOptions) -> SentenceTransformerEmbedder:
        return cls(cfg.model, cfg.device, cfg.batch_size, cfg.normalize, cfg.threads, cfg.precision)

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
            self.device = torch_device(self.device, self.precision)
            try:
                model = SentenceTransformer(self.model_path, device=self.device)
                if self.precision != "fp32":
                    model = model.half() if self.precision == "fp16" else model.bfloat16()
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

    def tokenizer(self) -> Any:
        """The model's tokenizer (a picklable ``tokenizers.Tokenizer``, no truncation): the parse child splits."""
        return self._token_counter()

    def token_starts(self, text: str) -> list[int]:
        """Where each token of `text` starts (character offsets): the splitter counts any span of it from these."""
        return [start for start, _ in self._token_counter().encode(text, add_special_tokens=False).offsets]

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
            convert_to_tensor=True,
            show_progress_bar=False,
        )
        # fp16/bf16 rows come back as float32, moved off the GPU once for the whole call.
        return vectors.float().cpu().numpy()

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
