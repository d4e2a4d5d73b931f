"""The OpenAI-compatible embedding backend over real HTTP on 127.0.0.1.

The server is tests/support/embedding_server.py (the OpenAI wire format over the packaged model),
standing in for vLLM/TEI/Ollama, which cannot run here. The answers must equal local embeddings.
"""

import numpy as np
import pytest

from ingest.run import ingest
from rag.errors import EmbeddingError
from rag.search import dense_search

from ..conftest import EXAMPLES
from ..support.net import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(embedding_server):
    return embedding_server


def test_remote_vectors_equal_local_ones(server, embedder, monkeypatch):
    from rag.embeddings import OpenAIEmbedder

    monkeypatch.setenv("TEST_EMBED_KEY", "sk-test")
    remote = OpenAIEmbedder("minilm", server, api_key_env="TEST_EMBED_KEY")
    texts = [f"sentence number {i} about bicycles" for i in range(70)]  # more than one request batch
    assert np.allclose(remote.embed_documents(texts), embedder.embed_documents(texts), atol=1e-5)
    assert remote.dimension == 384


def test_ingest_and_search_through_the_endpoint(server, settings_for, monkeypatch):
    monkeypatch.setenv("TEST_EMBED_KEY", "sk-test")
    for pin in ("RAG__EMBEDDING__PROVIDER", "RAG__EMBEDDING__MODEL"):  # this test names its own embedder
        monkeypatch.delenv(pin)
    settings = settings_for(
        embedding={
            "provider": "openai",
            "model": "minilm",
            "base_url": server,
            "api_key_env": "TEST_EMBED_KEY",
            "max_tokens": 200,
        }
    )
    report = ingest([EXAMPLES], settings)
    assert report.exit_code == 0 and report.chunks_written > 20
    [hit] = dense_search(settings, "What does error E07 mean?", k=1)
    assert hit.metadata["source"] == "docs/northwind-support-faq.txt"


def test_wrong_key_and_dead_server_are_clear_errors(server, monkeypatch):
    from rag.embeddings import OpenAIEmbedder

    monkeypatch.setenv("TEST_EMBED_KEY", "wrong")
    with pytest.raises(EmbeddingError, match="answered 401"):
        OpenAIEmbedder("minilm", server, api_key_env="TEST_EMBED_KEY").embed_query("x")
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EmbeddingError, match=r"is unreachable .* is it running"):
        OpenAIEmbedder("minilm", dead).embed_query("x")
