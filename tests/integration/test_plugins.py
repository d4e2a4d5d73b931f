"""A part defined outside the package is one module plus one registry line: a toy store kind (ingest, incremental
re-ingest, search, an evaluation copy), a toy strategy, a toy embedding provider and a toy file type, each with no
other change to the code."""

from __future__ import annotations

import pytest

from ingest.run import ingest
from rag import stores
from rag.config import Settings
from rag.search import search
from tests.conftest import EXAMPLES


@pytest.fixture
def toy_kind():
    stores.register("toy", "tests.support.toy_store:ToyStore")
    yield "toy"
    del stores.REGISTRY["toy"]


def test_a_store_kind_registered_from_a_test_module_ingests_and_searches(toy_kind, tmp_path, embedder):
    settings = Settings(store={"kind": toy_kind, "folder": str(tmp_path / "toy"), "collection": "docs"})
    assert type(settings.store).__name__ == "ToyOptions"

    report = ingest([EXAMPLES], settings, embedder=embedder)
    assert report.chunks_written > 0 and not report.failed
    assert (tmp_path / "toy" / "docs.json").exists() and (tmp_path / "toy" / "docs.manifest.sqlite").exists()
    assert (tmp_path / "toy" / "docs.bm25.sqlite").exists()  # the keyword index lives where the kind says

    again = ingest([EXAMPLES], settings, embedder=embedder)
    assert again.chunks_written == 0  # the manifest made the re-run incremental

    for strategy in ("dense", "bm25", "hybrid"):
        hits = search(
            settings,
            "How long does a full charge of the Aurora battery take?",
            k=3,
            embedder=embedder,
            strategy=strategy,
        )
        assert hits[0].metadata["source"] == "docs/aurora-e-bike-manual.md", strategy
        assert "4.5 hours" in " ".join(h.text for h in hits), strategy

    copy = settings.store.relocated(tmp_path / "eval", "eval_docs")
    assert copy.kind == "toy" and copy.folder == str(tmp_path / "eval" / "toy")


def test_an_unknown_option_of_a_kind_is_named(toy_kind, tmp_path):
    from rag.errors import ConfigError

    config = tmp_path / "bad.yaml"
    config.write_text(f"store:\n  kind: toy\n  folder: {tmp_path}\n  uri: http://x\n")
    from rag.config import load_config

    with pytest.raises(ConfigError, match=r"invalid config key 'store.uri' in bad.yaml: Extra inputs"):
        load_config(config)


def test_a_strategy_registered_from_a_test_module_is_chosen_by_config(corpus_settings, embedder):
    """One module (tests/support/toy_strategy.py) plus one registry line: chosen by name, its own options under
    retriever.one_per_source, built over the shared parts; no other code changes."""
    from rag import retrievers
    from rag.search import search_traced

    retrievers.register("one_per_source", "tests.support.toy_strategy:OnePerSource")
    try:
        data = corpus_settings.model_dump(by_alias=True)
        data["retriever"].update(strategy="one_per_source", one_per_source={"per_source": 2})
        settings = Settings(**data)
        assert settings.retriever.section("one_per_source").per_source == 2
        hits, trace = search_traced(settings, "battery charging", k=6, embedder=embedder)
        per_source = [h.metadata["source"] for h in hits]
        assert max(per_source.count(s) for s in per_source) == 2 and len(set(per_source)) > 1
        assert trace["strategy"] == "one_per_source" and trace["sources"] >= len(set(per_source))
        with pytest.raises(ValueError, match="per_souce"):
            Settings(retriever={"strategy": "one_per_source", "one_per_source": {"per_souce": 2}})
    finally:
        del retrievers.REGISTRY["one_per_source"]
    with pytest.raises(ValueError, match="unknown strategy 'one_per_source'"):
        Settings(retriever={"strategy": "one_per_source"})


def test_an_embedding_provider_registered_from_a_test_module_ingests_and_searches(tmp_path, true_defaults):
    """tests/support/toy_embedder.py: a provider with its own option (dimension), chosen by embedding.provider."""
    from rag import embeddings

    embeddings.register("trigram", "tests.support.toy_embedder:TrigramEmbedder")
    try:
        settings = Settings(
            embedding={"provider": "trigram", "dimension": 128},
            store={"path": str(tmp_path / "chroma"), "collection": "trigram"},
        )
        assert type(settings.embedding).__name__ == "TrigramOptions"
        report = ingest([EXAMPLES], settings)
        assert report.chunks_written > 0 and not report.failed
        hits = search(settings, "error E07 speed sensor magnet", k=3, strategy="dense")
        assert hits[0].metadata["source"] == "docs/northwind-support-faq.txt"
    finally:
        del embeddings.REGISTRY["trigram"]


def test_a_file_type_registered_from_a_test_module_is_ingested(tmp_path, embedder):
    """tests/support/toy_loader.py: one function plus one registry line; it runs in the parse sandbox too."""
    from ingest import loaders

    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "soup.recipe").write_text("Title: Pumpkin soup\n- pumpkin\n- ginger\n- coconut milk\n")
    (folder / "bad.recipe").write_text("just some words\n")
    loaders.register(".recipe", "tests.support.toy_loader:load_recipe")
    try:
        settings = Settings(store={"path": str(tmp_path / "chroma"), "collection": "recipes"})
        report = ingest([folder], settings, embedder=embedder)
        failed = {o.source: o.reason for o in report.failed}
        assert failed == {"recipes/bad.recipe": "not a recipe: the first line must be 'Title: …'"}
        [hit] = search(settings, "ginger soup", k=1, embedder=embedder)
        assert hit.metadata["title"] == "Pumpkin soup" and "coconut milk" in hit.text
    finally:
        del loaders.REGISTRY[".recipe"]


@pytest.fixture
def corpus_settings(tmp_path, embedder):
    settings = Settings(store={"path": str(tmp_path / "chroma"), "collection": "plugins"})
    ingest([EXAMPLES], settings, embedder=embedder)
    return settings
