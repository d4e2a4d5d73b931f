"""Answer latency per stage: 20 questions over examples/docs with the default local model.

    .venv/bin/python bench/answer_bench.py

Prints time to first token, condense / retrieve / generate times, and our orchestration overhead
(context building, prompt, citation checking, bookkeeping: total minus condense, retrieve and generate).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How long does a full charge of the Aurora battery take?",
    "How far can the Aurora go on one charge?",
    "What does error E07 mean?",
    "Where is Northwind Cycles based?",
    "How much does a standard service cost?",
    "What tyre pressure does the Aurora need?",
    "How often do the brake pads need replacing?",
    "What is the warranty on the frame?",
    "Can I ride the Aurora in the rain?",
    "Which assist modes does the Aurora have?",
    "Where did Northwind open its second workshop?",
    "When is the Amersfoort workshop open?",
    "How should I store the battery over winter?",
    "How many Stanley Cups have the Maple Leafs won?",
    "What is IBM known for?",
    "Who are the crazy ones?",
    "What is the capital of France?",
]
FOLLOW_UPS = [  # (history question, history answer, follow-up)
    ("What warranty does the Aurora have?", "The frame has a 5-year warranty [1].", "and when was it launched?"),
    (
        "What does a standard service include?",
        "A brake check, chain cleaning and a software update [1].",
        "how do I book one?",
    ),
    ("Where is the new workshop?", "In Amersfoort [1].", "how many repair bays does it have?"),
]


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from ingest.run import ingest
    from rag.answer.pipeline import RagPipeline
    from rag.config import Settings
    from rag.console import setup_environment

    setup_environment()
    work = Path(tempfile.mkdtemp(prefix="answer-bench-"))
    settings = Settings(store={"path": str(work / "chroma"), "collection": "answers"})
    ingest([REPO / "examples" / "docs"], settings)
    pipeline = RagPipeline(settings)
    pipeline.llm.warm_up()
    pipeline.embedder.warm_up()
    pipeline.ask("warm-up question about the Aurora battery")

    rows = []
    cases = [(q, []) for q in QUESTIONS] + [
        (follow, [{"role": "user", "content": q}, {"role": "assistant", "content": a}]) for q, a, follow in FOLLOW_UPS
    ]
    for question, history in cases:
        started = time.perf_counter()
        answer = pipeline.ask(question, history)
        total = time.perf_counter() - started
        t = answer.timings
        measured = t.get("condense", 0) + t.get("retrieve", 0) + t.get("generate", 0)
        rows.append(
            {
                "question": question,
                "total": total,
                "condense": t.get("condense", 0),
                "retrieve": t.get("retrieve", 0),
                "first_token": t.get("first_token"),
                "generate": t.get("generate", 0),
                "citations": t.get("citations", 0),
                "overhead": total - measured - t.get("citations", 0),
                "grounded": answer.grounded,
                "found": answer.found,
                "tokens": answer.tokens.get("generated", 0),
            }
        )

    console = Console(width=160)
    table = Table(title=f"Answer latency — {len(rows)} questions, default local model, 2 CPU cores")
    for column in (
        "question",
        "found",
        "grounded",
        "condense",
        "retrieve",
        "TTFT",
        "generate",
        "tokens",
        "citations",
        "overhead",
        "total",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["question"][:44],
            "yes" if row["found"] else "no",
            "yes" if row["grounded"] else "no",
            f"{row['condense'] * 1000:.0f} ms",
            f"{row['retrieve'] * 1000:.0f} ms",
            f"{row['first_token']:.2f} s" if row["first_token"] else "-",
            f"{row['generate']:.2f} s",
            str(row["tokens"]),
            f"{row['citations'] * 1000:.1f} ms",
            f"{row['overhead'] * 1000:.2f} ms",
            f"{row['total']:.2f} s",
        )
    console.print(table)

    def median(key: str) -> float:
        values = [row[key] for row in rows if row[key] is not None]
        return statistics.median(values) if values else 0.0

    answered = [row for row in rows if row["found"]]
    console.print(
        f"median TTFT {median('first_token'):.2f} s · median generate {median('generate'):.2f} s · "
        f"median retrieve {median('retrieve') * 1000:.0f} ms · median condense (follow-ups) "
        f"{statistics.median([r['condense'] for r in rows[len(QUESTIONS) :]]) * 1000:.0f} ms"
    )
    console.print(
        f"orchestration overhead (context, prompt, bookkeeping): median {median('overhead') * 1000:.2f} ms, "
        f"max {max(r['overhead'] for r in rows) * 1000:.2f} ms · citation check median "
        f"{median('citations') * 1000:.1f} ms · grounded {sum(r['grounded'] for r in answered)}/"
        f"{len(answered)} answered"
    )


if __name__ == "__main__":
    main()
