"""`python -m rag doctor`: what a user runs when an answer fails — CPU, llama.cpp build, model files, a probe."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rag.llms.gguf import CPU_FLAGS, cpu_flags, cpu_model
from rag.llms.supervisor import describe_exit


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def cpu_check() -> Check:
    flags = cpu_flags()
    listed = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
    return Check("CPU", "avx2" in flags, f"{cpu_model()} ({os.cpu_count()} logical cores): {listed}")


def build_check() -> Check:
    try:
        import llama_cpp
    except ImportError:
        return Check("llama.cpp", False, "llama-cpp-python is not installed: pip install -e '.[llm]'")
    from rag.llms.gguf import build_features, repack_decision

    compiled = [
        part.split("=")[0].strip().removeprefix("CPU :").strip()
        for part in build_features().split("|")
        if part.strip().endswith("= 1")
    ]
    return Check(
        "llama.cpp",
        True,
        f"llama-cpp-python {llama_cpp.__version__}; compiled with {' '.join(compiled) or build_features()}; "
        f"weight repacking {repack_decision()[1]}",
    )


def model_checks() -> list[Check]:
    from rag.packaged.models import REGISTRY, model_path, sha256_of

    checks = []
    for name, model in REGISTRY.items():
        path = model_path(name)
        if not path.exists():
            checks.append(Check(name, True, f"not pulled (python -m rag models pull {name})"))
            continue
        digest = sha256_of(path)
        ok = digest == model.sha256
        state = "ok" if ok else f"MISMATCH (expected {model.sha256[:16]}…): run python -m rag models pull {name}"
        checks.append(Check(name, ok, f"{path} sha256 {digest[:16]}… {state}"))
    return checks


def generation_check(model_path: Path, tokens: int = 5, timeout_s: float = 300) -> Check:
    """A short generation in a child process: a native crash is reported, never suffered."""
    command = [sys.executable, "-m", "rag.llms.gguf", str(model_path), "--tokens", str(tokens)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return Check("generation", False, f"{model_path.name}: no answer within {timeout_s:.0f} s (hung)")
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-2:])
        return Check(
            "generation",
            False,
            f"{model_path.name}: the model process {describe_exit(result.returncode)}{': ' + tail if tail else ''}",
        )
    speed = next((line for line in result.stdout.splitlines() if line.startswith("tokens/s")), "").split(";")[0]
    return Check("generation", True, f"{model_path.name}: {tokens} tokens in a child process, {speed}")


def run_checks(model_reference: str | None) -> list[Check]:
    checks = [cpu_check(), build_check(), *model_checks()]
    if model_reference is None:
        return checks
    from rag.errors import RagError
    from rag.packaged.models import resolve

    try:
        path = resolve(model_reference, download=False)
    except RagError as exc:
        return [*checks, Check("generation", False, str(exc))]
    return [*checks, generation_check(path)]
