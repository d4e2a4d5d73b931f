"""embedding.device and embedding.precision: the GPU settings say what is wrong on a machine without a GPU,
and the reduced precisions that run on a CPU keep each vector's direction (the real packaged MiniLM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from rag.config import Settings
from rag.embeddings import build_embedder
from rag.embeddings.base import EmbeddingOptions
from rag.embeddings.onnx import OnnxEmbedder
from rag.embeddings.sentence_transformer import SentenceTransformerEmbedder, torch_device
from rag.errors import EmbeddingError

TEXTS = [
    "Error E07 means the speed sensor is disconnected; check the cable at the rear wheel.",
    "Ducks are waterfowl of the family Anatidae.",
    "Stir the sauce gently and let it simmer for ten minutes.",
]
needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="asserts the errors of a machine without CUDA")


@needs_no_gpu
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_an_error_that_says_how_to_fix_it(device):
    with pytest.raises(EmbeddingError, match=r"sees no CUDA GPU.*embedding\.device: cpu"):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2", device=device).warm_up()


@needs_no_gpu
def test_auto_is_the_cpu_here_and_fp16_needs_a_gpu():
    assert torch_device("auto") == "cpu"
    with pytest.raises(EmbeddingError, match="fp16 needs a GPU"):
        torch_device("cpu", "fp16")
    with pytest.raises(EmbeddingError, match="use cpu, cuda, cuda:N or auto"):
        torch_device("gpu0")


def test_bf16_on_the_cpu_keeps_each_vector_s_direction(monkeypatch):
    for pinned in ("RAG__EMBEDDING__PROVIDER", "RAG__EMBEDDING__MODEL"):  # the suite pins the ONNX MiniLM
        monkeypatch.delenv(pinned)
    reduced = build_embedder(
        Settings(
            embedding={"provider": "sentence_transformers", "model": "all-MiniLM-L6-v2", "precision": "bf16"}
        ).embedding
    )
    full = SentenceTransformerEmbedder("all-MiniLM-L6-v2").embed_documents(TEXTS)
    half = reduced.embed_documents(TEXTS)
    assert half.dtype == np.float32 and half.shape == full.shape
    assert np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-2)
    assert (half * full).sum(axis=1).min() > 0.98
    assert not np.array_equal(half, full)  # it did run in bf16


@needs_no_gpu
def test_onnx_on_cuda_without_the_gpu_runtime_names_the_package():
    with pytest.raises(EmbeddingError, match="onnxruntime-gpu"):
        OnnxEmbedder("all-minilm-l6-v2-q", device="cuda").warm_up()
    with pytest.raises(ValidationError, match="precision is its file's"):
        EmbeddingOptions.of({"provider": "onnx", "precision": "fp16"})
