"""The ONNX Runtime embedder with bge-small-en-v1.5 from its Maven Central jars (int8 and fp32), for real."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.run import ingest
from rag.config import Settings
from rag.embeddings import build_embedder
from rag.embeddings.onnx import OnnxEmbedder
from rag.encoder_models import pull_encoder
from rag.search import search
from tests.conftest import EXAMPLES

TEXTS = [
    "The Aurora battery charges fully in 4.5 hours with the supplied charger.",
    "Ducks are waterfowl of the family Anatidae.",
    "IBM is headquartered in Armonk, New York.",
    "Error E07 means the speed sensor is disconnected; check the cable at the rear wheel.",
    "Stir the sauce gently and let it simmer for ten minutes.",
]


@pytest.fixture(scope="module")
def int8():
    pull_encoder("bge-small-en-v1.5-q", download=False)  # scripts/setup.sh pulled it
    model = OnnxEmbedder("bge-small-en-v1.5-q", threads=2)
    model.warm_up()
    return model


def test_int8_vectors_match_the_fp32_reference(int8):
    pull_encoder("bge-small-en-v1.5", download=False)
    reference = OnnxEmbedder("bge-small-en-v1.5", threads=2)
    a, b = int8.embed_documents(TEXTS), reference.embed_documents(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() >= 0.99  # quantisation keeps each vector's direction


def test_queries_get_the_bge_instruction_and_find_their_passage(int8):
    query = "How long does it take to charge the battery?"
    instructed = int8.embed_documents([int8.spec.query_prefix + query])[0]
    assert np.allclose(int8.embed_query(query), instructed, atol=1e-6)
    scores = int8.embed_documents(TEXTS) @ int8.embed_query(query)
    assert int(np.argmax(scores)) == 0
    assert int8.max_tokens == 510 and int8.count_tokens("IBM is headquartered in Armonk.") < 12


def test_padding_never_leaks_into_a_vector(int8):
    """fp32: a text's vector is the same alone or in a padded batch. int8 (dynamic quantisation) scales the
    activations per batch, so batch-mates move it slightly: within cosine 0.99, never more."""
    reference = OnnxEmbedder("bge-small-en-v1.5", threads=2)
    alone = np.vstack([reference.embed_documents([t]) for t in TEXTS])
    assert np.allclose(reference.embed_documents(TEXTS), alone, atol=1e-5)
    alone = np.vstack([int8.embed_documents([t]) for t in TEXTS])
    assert (int8.embed_documents(TEXTS) * alone).sum(axis=1).min() >= 0.99


def test_ingest_and_search_with_the_onnx_provider(tmp_path):
    settings = Settings(
        embedding={"provider": "onnx", "model": "bge-small-en-v1.5-q", "threads": 2},
        store={"path": str(tmp_path / "chroma"), "collection": "onnx"},
    )
    embedder = build_embedder(settings.embedding)
    assert type(embedder).__name__ == "OnnxEmbedder"
    report = ingest([EXAMPLES], settings, embedder=embedder)
    assert report.exit_code == 0 and report.chunks_written > 0
    hits = search(settings, "How long does a full charge of the Aurora battery take?", k=3, embedder=embedder)
    assert hits[0].metadata["source"] == "aurora-e-bike-manual.md"


def test_an_unknown_model_is_a_clear_error(tmp_path):
    from rag.errors import EmbeddingError

    with pytest.raises(EmbeddingError, match=r"not a known ONNX model .* and not a folder with model\.onnx"):
        OnnxEmbedder(str(tmp_path / "nothing")).warm_up()
