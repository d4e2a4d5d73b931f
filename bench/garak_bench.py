"""garak (NVIDIA's LLM vulnerability scanner) against our OpenAI-compatible endpoint: a real `python -m rag serve`
over the sample documents, garak's OpenAICompatible generator pointed at /v1/chat/completions, probes that need no
hub model (prompt injection, DAN, encoding, latent injection, markdown-image exfiltration). Prints pass rates per
probe and detector.

garak lives in its own environment (its pins — transformers, langchain, litellm — are not ours):

    bash scripts/setup-garak.sh          # once: ~/.cache/powerhouse-rag/garak-venv
    .venv/bin/python bench/garak_bench.py --cap 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GARAK = Path(os.environ.get("RAG_GARAK", Path.home() / ".cache/powerhouse-rag/garak-venv/bin/garak"))
PROBES = [
    "promptinject.HijackHateHumans",
    "dan.Dan_11_0",
    "dan.ChatGPT_Image_Markdown",
    "encoding.InjectBase64",
    "latentinjection.LatentInjectionReport",
    "latentinjection.LatentInjectionFactSnippetEiffel",
    "latentinjection.LatentWhois",  # ignores the soft cap: all 84 prompts (~25 min on 2 cores)
]
TOKEN = "garak-bench-token"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(folder: Path, model: str) -> tuple[subprocess.Popen, str]:
    """Our API on a free loopback port, its store and caches under `folder`, the sample documents ingested."""
    import httpx

    port = free_port()
    env = os.environ | {
        "RAG__STORE__PATH": str(folder / "chroma"),
        "RAG__UPLOADS__DIR": str(folder / "library"),
        "RAG__RETRIEVER__CACHE": str(folder / "rewrites.sqlite"),
        "RAG__LLM__MODEL": model,
        "RAG_API_TOKEN": TOKEN,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=(folder / "serve.log").open("w"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        time.sleep(0.5)  # not up yet, or up but not ready (a 503 is no reason to stop waiting)
    else:
        process.kill()
        raise SystemExit(f"the API did not start: {(folder / 'serve.log').read_text()[-2000:]}")
    examples = sorted((REPO / "examples" / "docs").iterdir())
    files = [("files", (path.name, path.read_bytes())) for path in examples]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    httpx.post(f"{base}/ingest", files=files, headers=headers, timeout=600).raise_for_status()
    return process, base


def scan(base: str, probes: list[str], cap: int, folder: Path) -> list[dict]:
    """Run garak; its eval records (probe, detector, passed, total)."""
    config = {
        "system": {"lite": True, "show_z": False, "parallel_attempts": False},
        "run": {"generations": 1, "soft_probe_prompt_cap": cap, "seed": 0},
        "plugins": {
            "target_type": "openai.OpenAICompatible",
            "target_name": "powerhouse-rag",
            "probe_spec": ",".join(probes),
            "generators": {
                "openai": {
                    "OpenAICompatible": {
                        "uri": f"{base}/v1/",
                        "model": "powerhouse-rag",
                        "suppressed_params": ["n", "frequency_penalty", "presence_penalty", "stop", "seed"],
                        "max_tokens": 256,
                    }
                }
            },
        },
        "reporting": {"report_dir": str(folder / "garak_runs"), "report_prefix": "powerhouse"},
    }
    config_file = folder / "garak.json"
    config_file.write_text(json.dumps(config))
    env = os.environ | {
        "OPENAICOMPATIBLE_API_KEY": TOKEN,
        "HF_HUB_OFFLINE": "1",
        "XDG_DATA_HOME": str(folder / "xdg-data"),
        "XDG_CACHE_HOME": str(folder / "xdg-cache"),
        "XDG_CONFIG_HOME": str(folder / "xdg-config"),
    }
    run = subprocess.run([str(GARAK), "--config", str(config_file)], env=env, capture_output=True, text=True)
    reports = sorted((folder / "garak_runs").glob("powerhouse*.report.jsonl"))
    if run.returncode != 0 or not reports:
        raise SystemExit(f"garak failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    records = [json.loads(line) for line in reports[-1].read_text().splitlines()]
    return [record for record in records if record.get("entry_type") == "eval"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=int, default=20, help="prompts per probe (garak's soft_probe_prompt_cap)")
    parser.add_argument("--probe", action="append", help="a garak probe (repeat); default: the list in this file")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct-q4_k_m")
    args = parser.parse_args()
    if not GARAK.exists():
        raise SystemExit(f"garak is not installed at {GARAK}: run bash scripts/setup-garak.sh")
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        process, base = serve(folder, args.model)
        started = time.perf_counter()
        try:
            records = scan(base, args.probe or PROBES, args.cap, folder)
        finally:
            process.terminate()
            process.wait(timeout=30)
    table = Table(title=f"garak against /v1/chat/completions ({args.model}, ≤{args.cap} prompts per probe)")
    for column in ("probe", "detector", "passed", "evaluated", "pass rate"):
        table.add_column(column, justify="left" if column in ("probe", "detector") else "right")
    for record in records:
        total = record.get("total_evaluated") or record.get("total") or 0
        rate = f"{record['passed'] / total:.0%}" if total else "–"
        table.add_row(record["probe"], record["detector"], str(record["passed"]), str(total), rate)
    Console().print(table)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
