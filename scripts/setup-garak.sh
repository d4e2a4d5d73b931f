#!/usr/bin/env bash
# garak (the LLM vulnerability scanner, PyPI) in its own environment outside the repo: its pins (transformers,
# langchain, litellm, …) are not ours. torch==2.13.0 first, as everywhere. Idempotent; ~3 GB the first time.
set -euo pipefail
venv="${RAG_GARAK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/powerhouse-rag/garak-venv}"
version="0.17.1"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ -x "$venv/bin/garak" ] && "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('garak') == '$version'" 2>/dev/null; then
    exit 0
fi
echo "installing garak $version into $venv (first time: a few minutes)"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "garak==$version"
