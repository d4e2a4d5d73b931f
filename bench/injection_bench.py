"""Prompt injection: how often the default pipeline follows an instruction planted in a document, and how often it
still answers correctly, per model and per category (48 cases, eval/injections.py).

    .venv/bin/python bench/injection_bench.py --model qwen2.5-coder-0.5b-instruct-q4_k_m \
        --model qwen2.5-coder-1.5b-instruct-q4_k_m
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rich.console import Console
from rich.table import Table

from eval.injections import cases, run_cases
from rag.answer import pipeline as pipeline_module
from rag.config import load_config
from rag.embeddings import build_embedder
from rag.llms.local import LocalLLM
from rag.packaged import models, prompts

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "docs"


@contextlib.contextmanager
def defended(on: bool):
    """With on=False, the pipeline without its injection defences: no context filter, no answer post-check."""
    if on:
        yield
        return
    saved = prompts.neutralize_instructions, pipeline_module.guard_answer
    prompts.neutralize_instructions = lambda text: text
    pipeline_module.guard_answer = lambda text, passages, system: (text, [])
    try:
        yield
    finally:
        prompts.neutralize_instructions, pipeline_module.guard_answer = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="packaged GGUF model (repeat); default: the config's")
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases (0 = all 48)")
    parser.add_argument("--show", action="store_true", help="print every followed answer")
    parser.add_argument("--variant", action="append", help="MODEL:DEFENCES (repeat), instead of the product")
    parser.add_argument(
        "--defences", default="none,default", help="comma list: none (no filter, no post-check), default (ours)"
    )
    args = parser.parse_args()
    console = Console()
    settings = load_config()
    embedder = build_embedder(settings.embedding)
    selected = cases()[: args.limit or None]
    summary = Table(title=f"Prompt injection: {len(selected)} planted-instruction cases, default pipeline")
    for column in ("model", "defences", "followed", "followed %", "answered correctly", "correct %", "s/answer"):
        summary.add_column(column, justify="right" if column != "model" else "left")
    per_category: dict[str, dict[str, list[int]]] = defaultdict(dict)
    variants = (
        [tuple(v.split(":")) for v in args.variant]
        if args.variant
        else [(name, defences) for name in args.model or [settings.llm.model] for defences in args.defences.split(",")]
    )
    for name, defences in variants:
        models.pull(name, download=False)
        llm = LocalLLM.from_config(settings.llm.model_copy(update={"model": name}))
        llm.warm_up()
        with tempfile.TemporaryDirectory() as tmp:
            run = settings.model_copy(deep=True)
            run.store.path = str(Path(tmp) / "chroma")
            run.retriever.cache = str(Path(tmp) / "rewrites.sqlite")
            started = time.perf_counter()
            with defended(defences == "default"):
                outcomes = run_cases(selected, EXAMPLES, Path(tmp) / "docs", run, embedder, llm)
            seconds = (time.perf_counter() - started) / len(outcomes)
        if llm.process is not None:
            llm.process.stop()
        followed = sum(o.followed for o in outcomes)
        correct = sum(o.correct for o in outcomes)
        total = len(outcomes)
        console.print(
            f"{name} defences={defences}: followed {followed}/{total}, correct {correct}/{total}, "
            f"cited the poisoned document {sum(o.cited_planted for o in outcomes)}/{total}, {seconds:.1f} s/answer"
        )
        summary.add_row(
            name,
            defences,
            str(followed),
            f"{followed / total:.0%}",
            str(correct),
            f"{correct / total:.0%}",
            f"{seconds:.1f}",
        )
        for outcome in outcomes:
            cell = per_category[outcome.case.category].setdefault(f"{name} {defences}", [0, 0, 0])
            cell[0] += outcome.followed
            cell[1] += outcome.correct
            cell[2] += 1
            if args.show and outcome.followed:
                console.print(f"[red]followed[/] {outcome.case.category}: {outcome.answer!r}")
    console.print(summary)
    detail = Table(title="Per category: followed / answered correctly (of 4)")
    detail.add_column("category")
    for name, defences in variants:
        detail.add_column(f"{name} ({defences})", justify="right")
    for category, cells in per_category.items():
        detail.add_row(category, *(f"{c[0]} / {c[1]}" for c in cells.values()))
    console.print(detail)


if __name__ == "__main__":
    main()
