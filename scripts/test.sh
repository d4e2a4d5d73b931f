#!/usr/bin/env bash
# Set up (dev extras) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
venv="${RAG_VENV:-.venv}"
# The browser test drives Debian's chromium with Playwright (never `playwright install`).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = "0" ] || sudo="sudo -n"
    echo "installing chromium (apt) for the browser test"
    $sudo apt-get install -y -q chromium >/dev/null 2>&1 \
        || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q chromium >/dev/null 2>&1; } \
        || echo "warning: could not install chromium; the browser test will be skipped (or fail under CI=true)"
fi
# Tesseract, the second OCR engine (loaders.ocr.engine: tesseract), for tests/integration/test_ocr.py.
if ! command -v tesseract >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = "0" ] || sudo="sudo -n"
    echo "installing tesseract-ocr (apt) for the OCR engine test"
    $sudo apt-get install -y -q tesseract-ocr >/dev/null 2>&1 \
        || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q tesseract-ocr >/dev/null 2>&1; } \
        || echo "warning: could not install tesseract-ocr; its test will be skipped (or fail under CI=true)"
fi
# garak (the LLM vulnerability scanner) for tests/security/test_garak.py, in its own environment outside the repo.
bash scripts/setup-garak.sh || echo "warning: could not install garak; its test will be skipped (or fail under CI=true)"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False RAGAS_DO_NOT_TRACK=true
# Each outcome is also appended to a progress file (tests/conftest.py): if the interpreter dies in native
# code, pytest never prints its summary, so this script prints one from the file, naming the test.
progress="$(mktemp -t rag-test-progress.XXXXXX)"
trap 'rm -f "$progress"' EXIT
set +e
# Two workers, each pinned to its own share of the cores with everything it starts (two llama.cpp or torch pools
# on the same two cores slowed every test), the longest modules first, a module's tests on one worker and the Milvus
# server's tests together (fixed ports) (tests/conftest.py). RAG_TEST_WORKERS=0 runs everything in one process.
workers="${RAG_TEST_WORKERS:-2}"
parallel=()
# A worker that dies in native code is replaced; the test it ran is re-run at most twice (xdist re-queues it).
[ "$workers" != "0" ] && parallel=(-n "$workers" --dist loadgroup --max-worker-restart=2)
RAG_TEST_PROGRESS="$progress" "$venv/bin/python" -m pytest "${parallel[@]}" "$@"
status=$?
set -e
if [ "$status" -gt 128 ]; then
    python3 - "$progress" "$status" <<'PY'
import signal, sys

lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
status = int(sys.argv[2])
try:
    how = signal.Signals(status - 128).name
except ValueError:
    how = f"exit status {status}"
done = {line.split(" ", 1)[1] for line in lines if not line.startswith("start ")}
running = [line.split(" ", 1)[1] for line in lines if line.startswith("start ")]
crashed = next((nodeid for nodeid in reversed(running) if nodeid not in done), "an unknown test")
count = {word: sum(line.startswith(word + " ") for line in lines) for word in ("passed", "failed", "skipped")}
print(f"\nFATAL: the test interpreter died ({how}) while running {crashed}; run `python -m rag doctor`")
print(f"{count['passed']} passed, {count['failed'] + 1} failed, {count['skipped']} skipped")
PY
fi
exit "$status"
