"""Loading GGUF models with llama.cpp safely on any x86-64 CPU: the one place that knows the pitfalls.

Two things break a llama.cpp build on a machine other than the one it was compiled for:

- **AMX.** A build that has the AMX kernels (a ``-march=native`` build on Sapphire Rapids or later)
  repacks Q4_K/Q8_0 weights into an AMX buffer and segfaults on the first decode (upstream
  "segfault in ggml_backend_amx_mul_mat", closed without a fix). When the build has AMX and the CPU has
  it, :func:`apply_load_guard` turns weight repacking off (llama.cpp's ``--no-repack``: the model
  parameter ``use_extra_bufts = False``, which ``Llama()`` does not expose), and the model answers.
- **Native builds move badly.** A wheel built with ``-march=native`` on an AVX-512 machine dies with an
  illegal instruction on a CPU without AVX-512. ``scripts/setup.sh`` therefore builds llama.cpp portably
  (``-DGGML_NATIVE=OFF``: AVX2/FMA/F16C, no AVX-512, no AMX: x86-64-v3, every Intel since Haswell and
  every AMD since Zen) into a wheel cache keyed by those flags: see :data:`PORTABLE_CMAKE_ARGS`.
  docs/benchmarks.md#local-llm-builds has the tokens/s of both builds.

``python -m rag.llms.gguf MODEL`` runs one short generation and prints tokens/s: the probe that
``python -m rag doctor`` and the tests run in a child process, so a native crash is an exit status, not a
dead caller.
"""

from __future__ import annotations

import os
import re
import sys
import time
from functools import cache
from pathlib import Path

# The flags scripts/setup.sh builds llama-cpp-python with (kept here so the docs and doctor name one set).
PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "amx_tile", "amx_int8", "amx_bf16")
# RAG_LLAMA_REPACK=0 forces repacking off, =1 forces it on (for measuring); unset = decided here.
REPACK_ENV = "RAG_LLAMA_REPACK"


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo is unreadable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    match = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    return frozenset(match.group(1).split()) if match else frozenset()


def cpu_model() -> str:
    try:
        match = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        return "unknown"
    return match.group(1).strip() if match else "unknown"


@cache
def build_features() -> str:
    """llama.cpp's own report of what it was compiled with (``CPU : SSE3 = 1 | AVX2 = 1 | …``)."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode(errors="replace").strip()


def build_has(feature: str) -> bool:
    return re.search(rf"\b{re.escape(feature)} = 1\b", build_features()) is not None


def repack_decision() -> tuple[bool, str]:
    """Whether llama.cpp may repack weights here, and why."""
    forced = os.environ.get(REPACK_ENV)
    if forced in ("0", "1"):
        return forced == "1", f"forced by {REPACK_ENV}={forced}"
    if "amx_int8" in cpu_flags() and build_has("AMX_INT8"):
        return False, "off: this llama.cpp build has AMX kernels and the CPU has AMX (their matmul segfaults)"
    return True, "on: the AMX kernels are absent from this build or this CPU has no AMX"


def apply_load_guard() -> bool:
    """Make every later ``llama_cpp.Llama`` load in this process safe for this CPU; returns repack on/off.

    llama-cpp-python builds its model parameters from ``llama_model_default_params()``; wrapping that
    function is the only way to reach ``use_extra_bufts`` without forking the library.
    """
    import llama_cpp.llama_cpp as native

    repack, _ = repack_decision()
    # Our own marker: the ctypes binding carries a `__wrapped__` that is its Python stub.
    original = getattr(native.llama_model_default_params, "_rag_original", native.llama_model_default_params)

    def default_params():
        params = original()
        params.use_extra_bufts = repack
        return params

    default_params._rag_original = original  # type: ignore[attr-defined]
    native.llama_model_default_params = default_params
    return repack


def probe(model_path: str, tokens: int = 5, n_threads: int | None = None, verbose: bool = False) -> float:
    """Load the model with the guard and generate `tokens` tokens; returns tokens/s of the generation."""
    apply_load_guard()
    from llama_cpp import Llama

    llama = Llama(model_path=model_path, n_ctx=512, n_threads=n_threads, seed=0, verbose=verbose)
    started = time.perf_counter()
    result = llama.create_completion("The capital of France is", max_tokens=tokens, temperature=0.0)
    elapsed = time.perf_counter() - started
    generated = result["usage"]["completion_tokens"]
    print(f"generated {generated} tokens: {result['choices'][0]['text']!r}")
    return generated / elapsed if elapsed > 0 else 0.0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Load a GGUF model safely and generate a few tokens.")
    parser.add_argument("model", help="path to a .gguf file")
    parser.add_argument("--tokens", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--verbose", action="store_true", help="llama.cpp's load log (buffer types) on stderr")
    args = parser.parse_args()
    speed = probe(args.model, args.tokens, args.threads, args.verbose)
    print(f"tokens/s {speed:.1f}; repack {repack_decision()[1]}")
    sys.exit(0)
