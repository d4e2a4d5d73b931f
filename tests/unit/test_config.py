from pathlib import Path

import pytest

from rag.config import DEFAULT_CONFIG, load_config
from rag.errors import ConfigError


def test_default_config_selects_the_embedded_offline_parts(true_defaults):
    settings = load_config()
    assert settings.store.kind == "chroma"
    assert (settings.embedding.provider, settings.embedding.model) == ("onnx", "bge-small-en-v1.5-q")
    hybrid = settings.retriever.section("hybrid")
    assert settings.splitter.chunk_size == 0
    assert (hybrid.fusion, hybrid.alpha) == ("confidence", 0.8)  # chosen on four collections' tuning halves
    assert DEFAULT_CONFIG.exists()


def test_environment_overrides_yaml_keys(monkeypatch, tmp_path, true_defaults):
    config = tmp_path / "c.yaml"
    config.write_text("store:\n  path: from-yaml\n  collection: docs\nsplitter:\n  chunk_size: 100\n")
    monkeypatch.setenv("RAG__STORE__PATH", "./other-store")
    monkeypatch.setenv("RAG__SPLITTER__CHUNK_OVERLAP", "7")
    settings = load_config(config)
    assert settings.store.path == "./other-store"
    assert settings.store.collection == "docs"  # untouched keys keep the YAML value
    assert settings.splitter.chunk_size == 100
    assert settings.splitter.chunk_overlap == 7


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "store:\n  kind: mongo\n",
            "invalid config key 'store.kind' in bad.yaml: unknown store 'mongo'; choose one of chroma, milvus",
        ),
        ("splitter:\n  chunk_size: -3\n", "invalid config key 'splitter.chunk_size' in bad.yaml"),
        (
            "store:\n  colection: x\n",
            "invalid config key 'store.colection' in bad.yaml: Extra inputs are not permitted",
        ),
        ("- a list\n", "bad.yaml: the top level must be a mapping of sections"),
        ("store: [unclosed\n", "bad.yaml: not valid YAML"),
    ],
)
def test_invalid_config_is_one_line_naming_the_key(tmp_path, yaml_text, expected, true_defaults):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Path(tmp_path / "nope.yaml"))


def test_json_loader_section_is_read_under_its_yaml_name(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("loaders:\n  json:\n    text_fields: [title, text]\n    id_field: _id\n")
    settings = load_config(config)
    assert settings.loaders.json_records.text_fields == ["title", "text"]
    assert settings.loaders.json_records.id_field == "_id"


def test_the_built_in_defaults_are_configs_default_yaml(true_defaults):
    """An installed wheel has no configs/ folder: its defaults must be what the checkout's YAML says."""
    from rag.config import DEFAULT_CONFIG, Settings
    from rag.retrievers import STRATEGIES

    assert DEFAULT_CONFIG.is_file()
    loaded, built = load_config(), Settings()
    # A strategy's section (retriever.hybrid, …) is its own Options: the YAML spells four of them out.
    for strategy in STRATEGIES:
        assert loaded.retriever.section(strategy) == built.retriever.section(strategy), strategy
    assert loaded.model_dump(exclude={"retriever"}) == built.model_dump(exclude={"retriever"})
    strategies = set(STRATEGIES)
    assert {
        k: v for k, v in loaded.retriever.model_dump().items() if k not in strategies
    } == built.retriever.model_dump()


def test_each_part_owns_its_options_and_old_keys_still_load(tmp_path, true_defaults, monkeypatch):
    """The provider's, backend's and strategy's own options are chosen by kind; keys of another kind are refused
    with their name; the flat retriever keys of older configs land in their strategy's section."""
    from rag.config import Settings

    settings = Settings(
        embedding={"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:1/v1"},
        llm={"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:2/v1", "retries": 0},
        retriever={"strategy": "fusion", "queries": 5, "hyde_expand_keywords": True, "hybrid": {"alpha": 0.3}},
    )
    assert type(settings.embedding).__name__ == "OpenAIEmbeddingOptions" and settings.embedding.max_tokens == 512
    assert type(settings.llm).__name__ == "OpenAICompatOptions" and settings.llm.retries == 0
    assert settings.retriever.section("fusion").queries == 5 and settings.retriever.section("multi_query").queries == 5
    assert settings.retriever.section("hyde").expand_keywords is True
    assert settings.retriever.section("hybrid").alpha == 0.3
    for yaml, key in (
        ("embedding:\n  provider: onnx\n  base_url: http://x\n", "embedding.base_url"),
        ("llm:\n  backend: local\n  retries: 3\n", "llm.retries"),
        ("retriever:\n  hybrid:\n    alpah: 0.5\n", "retriever.hybrid.alpah"),
    ):
        config = tmp_path / "c.yaml"
        config.write_text(yaml)
        with pytest.raises(ConfigError, match=rf"invalid config key '{key}' in c.yaml"):
            load_config(config)
    # An environment variable that switches the kind sets aside the YAML's keys of the kind it replaced, and only
    # those: a typo under the same section still fails at its name.
    config.write_text("llm:\n  backend: local\n  n_threads: 2\n  temperature: 0.3\n")
    monkeypatch.setenv("RAG__LLM__BACKEND", "openai")
    switched = load_config(config).llm
    assert type(switched).__name__ == "OpenAICompatOptions" and switched.temperature == 0.3
    config.write_text("llm:\n  backend: local\n  n_threads: 2\n  n_thraeds: 2\n")
    with pytest.raises(ConfigError, match=r"invalid config key 'llm.n_thraeds' in c\.yaml"):
        load_config(config)
    monkeypatch.delenv("RAG__LLM__BACKEND")
    config.write_text("retriever:\n  strategy: fusion\n  base: fusion\n")
    with pytest.raises(ConfigError, match="'fusion' runs on a base itself; choose a one-pass base retriever"):
        load_config(config)
