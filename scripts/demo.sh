#!/usr/bin/env bash
# The main job on embedded defaults (no server, no API key, no network):
# set up, ingest the sample documents in examples/docs/ into Chroma, answer a sample search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${RAG_VENV:-.venv}"
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
"$venv/bin/python" -m ingest examples/docs
echo
echo "Sample search: \"${RAG_DEMO_QUERY:=How long does the battery of the Aurora e-bike last?}\""
"$venv/bin/python" -m rag search "$RAG_DEMO_QUERY" -k 3
