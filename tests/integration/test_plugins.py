"""A part defined outside the package is one module plus one registry line: a toy store kind runs ingest,
incremental re-ingest, search and an evaluation copy with no other change to the code."""

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
    from rag import retrievers
    from rag.retrievers.base import Retriever, note

    class FirstOfEachSource(Retriever):
        """Dense hits, at most one per source: a toy diversity strategy."""

        strategy = "one_per_source"
        dense: Retriever

        def retrieve(self, query, k=None, filter=None):
            hits, seen = [], set()
            for hit in self.dense.retrieve(query, 50, filter):
                if hit.metadata["source"] not in seen:
                    seen.add(hit.metadata["source"])
                    hits.append(hit)
            note("sources", len(seen))
            return hits[: k or self.k]

    retrievers.register("one_per_source", lambda parts: FirstOfEachSource(dense=retrievers.REGISTRY["dense"](parts)))
    try:
        from rag.search import search_traced

        settings = corpus_settings.model_copy(deep=True)
        settings.retriever = type(settings.retriever)(strategy="one_per_source")  # validated against the registry
        hits, trace = search_traced(settings, "battery charging", k=4, embedder=embedder)
        assert len({h.metadata["source"] for h in hits}) == len(hits) > 1
        assert trace["strategy"] == "one_per_source" and trace["sources"] >= len(hits)
    finally:
        del retrievers.REGISTRY["one_per_source"]
    with pytest.raises(ValueError, match="unknown strategy 'one_per_source'"):
        type(settings.retriever)(strategy="one_per_source")


@pytest.fixture
def corpus_settings(tmp_path, embedder):
    settings = Settings(store={"path": str(tmp_path / "chroma"), "collection": "plugins"})
    ingest([EXAMPLES], settings, embedder=embedder)
    return settings
