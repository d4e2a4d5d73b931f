"""What a run was made with: package versions and the sha256 of the local model files."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.config import JudgeConfig
from rag.config import Settings
from rag.errors import RagError


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    packages = ("powerhouse-rag", "ragas", "langchain-core", "sentence-transformers", "chromadb", "llama_cpp_python")
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def model_fingerprints(settings: Settings, judge: JudgeConfig | None = None) -> dict[str, str]:
    """sha256 of the local model files (GGUF, embedding weights); name@url for served models."""
    prints: dict[str, str] = {}

    def llm_print(llm_cfg: Any) -> str:
        if llm_cfg.backend != "local":
            return f"{llm_cfg.model}@{llm_cfg.base_url}"
        from rag.packaged.models import resolve, sha256_of

        try:
            path = resolve(llm_cfg.model, download=False)
        except RagError:
            return llm_cfg.model
        return f"sha256:{sha256_of(path)}"

    prints["generator"] = llm_print(settings.llm)
    if judge is not None and judge.llm is not None:
        prints["judge"] = llm_print(judge.llm)
    else:
        prints["judge"] = prints["generator"]
    try:
        from rag.embeddings import resolve_model_path
        from rag.packaged.models import sha256_of

        folder = Path(resolve_model_path(settings.embedding.model)[0])
        weights = sorted(folder.rglob("*.safetensors")) or sorted(folder.rglob("*.bin"))
        if weights:
            prints["embedding"] = f"sha256:{sha256_of(weights[0])}"
    except (RagError, OSError, ImportError):
        pass
    return prints
