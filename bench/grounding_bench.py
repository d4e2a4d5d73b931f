"""The citation check's false alarms and catches: the default local model answers from the gold passages (TAT-QA dev
and the FinanceBench dev split), and each answer is checked twice — by word/embedding overlap alone (the check
before figures and names counted) and by the full check (every figure and name of a cited sentence in its passage
or its place). A false alarm is a correct answer (answer_match = 1) that only the full check flags; a catch is a
wrong one that only the full check flags. Restated answers (the question repeated) are counted too.

    .venv/bin/python bench/grounding_bench.py --tatqa 60 --financebench 51

The model reads the gold passages, not retrieved ones: what is measured is the check, not retrieval.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from eval.answer_match import answer_match
from eval.datasets import convert_tatqa
from rag.answer import prompts
from rag.answer.citations import check_citations, restates_question, states_asked, yes_or_no
from rag.answer.context import context_block
from rag.config import load_config
from rag.documents import Hit, location
from rag.embeddings import build_embedder
from rag.llms import build_llm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def tatqa_cases(count: int, seed: int) -> list[dict]:
    converted = convert_tatqa(SHARED / "tatqa", Path(tempfile.mkdtemp(prefix="grounding-tatqa-")), "dev")
    samples = [json.loads(line) for line in converted.qa.read_text().splitlines()]
    samples = [s for s in samples if s["contexts"]]
    random.Random(seed).shuffle(samples)
    cases = []
    for sample in samples[:count]:
        name = sample["context_ids"][0]
        hits = [
            Hit(f"{name}#{n}", text, {"source": name, "section": "table" if text.startswith("|") else ""}, 1.0)
            for n, text in enumerate(sample["contexts"])
        ]
        kind = sample["metadata"]["answer_type"]
        cases.append({"set": "TAT-QA", "kind": kind, "question": sample["question"], "reference": sample["reference"],
                      "hits": hits})  # fmt: skip
    return cases


def financebench_cases(count: int) -> list[dict]:
    folder = SHARED / "financebench-dev"
    cases = []
    for line in (folder / "questions.jsonl").read_text().splitlines()[:count]:
        record = json.loads(line)
        hits = [
            Hit(
                f"{e['doc_name']}#{e['evidence_page_num']}",
                e["evidence_text"],
                {"source": f"{e['doc_name']}.pdf", "page": e["evidence_page_num"] + 1},
                1.0,
            )
            for e in record["evidence"]
        ]
        cases.append({"set": "FinanceBench", "kind": record["question_type"], "question": record["question"],
                      "reference": record["answer"], "hits": hits})  # fmt: skip
    return cases


def judge(case: dict, text: str, embed) -> dict:
    passages = [hit.text for hit in case["hits"]]
    places = [location(hit.metadata, ", ") for hit in case["hits"]]
    found = prompts.NO_ANSWER.rstrip(".").lower() not in text.lower()
    overlap = check_citations(text, passages, embed, places=places, facts=False)
    full = check_citations(text, passages, embed, places=places, given=case["question"])
    if yes_or_no(text):
        cited = [c.number for c in full if c.valid]
        says_nothing = not any(states_asked(case["question"], passages[n - 1], places[n - 1]) for n in cited)
    else:
        says_nothing = restates_question(text, case["question"])
    return {
        "found": found,
        "correct": found and answer_match(text, case["reference"]) >= 1.0,
        "overlap": found and any(c.supported for c in overlap),
        "full": found and any(c.supported for c in full),
        "says_nothing": found and says_nothing,
        "missing": sorted({m for c in full for m in c.missing}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tatqa", type=int, default=60, help="TAT-QA dev questions (a seeded sample)")
    parser.add_argument("--financebench", type=int, default=51, help="FinanceBench dev questions (in file order)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, help="write every answer and verdict as JSONL here")
    args = parser.parse_args()
    settings = load_config()
    llm, embedder = build_llm(settings.llm), build_embedder(settings.embedding)
    constraint = {"grammar": prompts.CITED_ANSWER_GRAMMAR} if getattr(llm, "supports_grammar", False) else {}
    cases = tatqa_cases(args.tatqa, args.seed) + financebench_cases(args.financebench)
    rows = []
    with Progress() as progress:
        task = progress.add_task("answering", total=len(cases))
        for case in cases:
            messages = prompts.answer_messages(case["question"], context_block(case["hits"]), [])
            text = "".join(llm.stream(messages, **constraint)).strip()
            rows.append({**{k: v for k, v in case.items() if k != "hits"}, "answer": text,
                         **judge(case, text, embedder.embed_documents)})  # fmt: skip
            progress.advance(task)
    if args.out:
        args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    table = Table(title=f"citation check on gold passages, {settings.llm.model}")
    for column in ("set", "kind", "n", "answered", "correct", "grounded (overlap)", "grounded (full)",
                   "false alarms", "catches", "says nothing"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("set", "kind") else "right")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["set"], row["kind"])].append(row)
        groups[(row["set"], "all")].append(row)
    for (name, kind), group in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] == "all", item[0][1])):
        alarms = sum(r["correct"] and r["overlap"] and not r["full"] for r in group)
        catches = sum(not r["correct"] and r["overlap"] and not r["full"] for r in group)
        correct_overlap = sum(r["correct"] and r["overlap"] for r in group)
        table.add_row(
            name, kind, str(len(group)), str(sum(r["found"] for r in group)), str(sum(r["correct"] for r in group)),
            str(sum(r["overlap"] for r in group)), str(sum(r["full"] for r in group)),
            f"{alarms}/{correct_overlap}", str(catches), str(sum(r["says_nothing"] for r in group)),
        )  # fmt: skip
    Console().print(table)
    console = Console()
    for row in rows:
        if row["correct"] and row["overlap"] and not row["full"]:
            console.print(f"[yellow]false alarm[/] {row['set']} {row['kind']}: {row['answer'][:160]!r} missing "
                          f"{row['missing']} (reference {row['reference'][:60]!r})")  # fmt: skip


if __name__ == "__main__":
    main()
