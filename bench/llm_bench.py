"""Local LLM speed: in-process llama.cpp (repack on / off) vs the supervised model process, side by side.

    .venv/bin/python bench/llm_bench.py [--model qwen2.5-coder-0.5b-instruct-q4_k_m] [--runs 3]

Each in-process row runs in a child process (a native crash is a row that says so, not a dead bench).
Prompt: ~400 tokens of the sample manual; generation: 128 tokens at temperature 0. Prints the CPU flags and
the llama.cpp build so a table from another machine can be read next to this one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPT_FILE = REPO / "examples" / "docs" / "aurora-e-bike-manual.md"
GENERATE = 128


def messages() -> list[dict[str, str]]:
    text = " ".join(PROMPT_FILE.read_text().split()[:300])
    return [
        {"role": "system", "content": "Answer from the manual."},
        {"role": "user", "content": f"{text}\n\nDescribe the battery, the charging and the warranty in detail."},
    ]


def child(model_path: str, threads: int) -> None:
    """One in-process measurement; prints a JSON line."""
    from rag.llms.gguf import apply_load_guard

    apply_load_guard()
    from llama_cpp import Llama

    started = time.perf_counter()
    llama = Llama(model_path=model_path, n_ctx=2048, n_threads=threads, seed=0, verbose=False)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    first = None
    pieces = 0
    for event in llama.create_chat_completion(
        messages=messages(), max_tokens=GENERATE, temperature=0.0, stream=True, seed=0
    ):
        if event["choices"][0].get("delta", {}).get("content"):
            first = first or time.perf_counter() - started
            pieces += 1
    total = time.perf_counter() - started
    print(json.dumps({"load_s": load_s, "first_token_s": first, "tokens": pieces, "total_s": total}))


def in_process(model_path: Path, threads: int, repack: str) -> dict:
    env = {**os.environ, "RAG_LLAMA_REPACK": repack, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(model_path), "--threads", str(threads)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        from rag.llms.supervisor import describe_exit

        return {"error": describe_exit(result.returncode)}
    return json.loads(result.stdout.strip().splitlines()[-1])


def through_worker(name: str, threads: int) -> dict:
    from rag.llms.local import LocalLLM

    llm = LocalLLM(name, n_ctx=2048, n_threads=threads, temperature=0.0, max_tokens=GENERATE)
    started = time.perf_counter()
    llm.warm_up()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    first = None
    pieces = 0
    for _ in llm.stream(messages(), max_tokens=GENERATE):
        first = first or time.perf_counter() - started
        pieces += 1
    total = time.perf_counter() - started
    llm.process.stop()
    return {"load_s": load_s, "first_token_s": first, "tokens": pieces, "total_s": total}


def summarise(rows: list[dict]) -> str:
    good = [r for r in rows if "error" in r] or rows
    if "error" in good[0]:
        return f"| {good[0]['error']} | | | |"
    median = {key: statistics.median(r[key] for r in rows) for key in ("load_s", "first_token_s", "total_s")}
    tokens = statistics.median(r["tokens"] for r in rows)
    decode = (tokens - 1) / max(median["total_s"] - median["first_token_s"], 1e-9)
    return f"| {median['load_s']:.2f} | {median['first_token_s']:.2f} | {decode:.1f} | {median['total_s']:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct-q4_k_m")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.threads)
        return

    from rag.llms.gguf import build_features, cpu_flags, cpu_model, repack_decision
    from rag.packaged.models import resolve

    path = resolve(args.model, download=False)
    flags = " ".join(sorted(cpu_flags() & {"avx2", "avx512f", "amx_int8"}))
    print(f"CPU: {cpu_model()} [{flags}]; {args.threads} threads")
    print(f"llama.cpp build: {build_features()}")
    print(f"auto repack here: {repack_decision()[1]}")
    print(f"model: {args.model}; prompt ~400 tokens; {GENERATE} tokens generated; median of {args.runs}\n")
    print("| run | load s | first token s | decode tok/s | total s |")
    print("|---|---|---|---|---|")
    for label, repack in (("in-process, repack on", "1"), ("in-process, repack off", "0")):
        rows = [in_process(path, args.threads, repack) for _ in range(args.runs)]
        print(f"| {label} {summarise(rows)}", flush=True)
    rows = [through_worker(args.model, args.threads) for _ in range(args.runs)]
    print(f"| model process (auto repack) {summarise(rows)}", flush=True)


if __name__ == "__main__":
    main()
