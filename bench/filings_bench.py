"""Long, table-heavy filings: is the page holding the evidence among the passages retrieved? The 24 real SEC filings
and 51 questions of the FinanceBench dev split (../shared/datasets/financebench-dev), through our ingest.

    .venv/bin/python bench/filings_bench.py [--variants baseline,headers+tables] [--k 5,10] [--answers 51]

Three ways to ask, side by side: `per filing` (the search filtered to the question's filing, as the paper's
"a vector store per filing"), `shared` (one store for all 24, no filter) and `routed` (one store, filtered to the
filing the question names: rag/retrievers/routing.py). A hit is a retrieved chunk on an evidence page; nDCG@10
ranks the pages by their best chunk. Rows by question type (domain-relevant, metrics-generated, novel-generated).
The stores are kept under --work: a second run with the same variant ingests nothing.

With --answers N, the first N questions (of --answer-types, when given) are answered end to end by the default
local model (per filing and routed) and graded without a judge where the reference holds a figure (its figures
other than years: one stated in the answer, rounded to the answer's precision, is right), beside the paper's human
labels of GPT-4-Turbo with a store per filing; a text reference is counted as answered or refused, not graded.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILINGS = REPO.parent / "shared" / "datasets" / "financebench-dev"

# name -> section overrides of the default configuration; "store": the variant whose store it searches (its
# overrides only change the search, not what is ingested)
VARIANTS: dict[str, dict] = {
    "baseline": {},
    "headers+tables": {"splitter": {"context_header": True, "table_header": True}},
    # the PDF's section paths (outline or headings: item, statement, note) and file name indexed with each chunk
    "sections": {"splitter": {"context_header": True}},
    "glossary": {"retriever": {"glossary": "finance"}, "store": "baseline"},
    # configs/filings.yaml: both, routed to the filing a question names (so its "shared" mode is routed too), and
    # neighbouring retrieved chunks read as one passage (answers only)
    "filings": {
        "splitter": {"context_header": True},
        "retriever": {"glossary": "finance", "strategy": "documents", "base": "hybrid", "hybrid": {"fusion": "rrf"}},
        "answer": {"segments": True, "formulas": "finance", "uncited": "withhold"},
        "store": "sections",
    },
    "sections+glossary": {
        "splitter": {"context_header": True},
        "retriever": {"glossary": "finance"},
        "store": "sections",
    },
}
MODES = ("per filing", "shared", "routed")


def settings_for(name: str, work: Path):
    from rag.config import load_config

    data = load_config().model_dump(by_alias=True)
    overrides = dict(VARIANTS[name])
    stored = overrides.pop("store", name)
    for section, values in overrides.items():
        data[section].update(values)
    data["store"].update(path=str(work / stored.replace("+", "-") / "chroma"), collection="filings")
    data["retriever"]["cache"] = None
    return type(load_config())(**data)


def questions() -> list[dict]:
    return [json.loads(line) for line in (FILINGS / "questions.jsonl").read_text().splitlines() if line.strip()]


def gold_pages(question: dict) -> set[tuple[str, int]]:
    """(file name, 1-based page) of each evidence (the dataset's pages are 0-based)."""
    return {(f"{e['doc_name']}.pdf", e["evidence_page_num"] + 1) for e in question["evidence"]}


def page_of(metadata: dict) -> tuple[str, int]:
    return Path(str(metadata.get("source", ""))).name, int(metadata.get("page") or 0)


def scores(pages: list[tuple[str, int]], gold: set[tuple[str, int]], ks: list[int]) -> dict[str, float]:
    result = {f"hit@{k}": float(bool(gold & set(pages[:k]))) for k in ks}
    ranked = list(dict.fromkeys(pages))[:10]  # pages by their best chunk
    dcg = sum(1 / math.log2(rank + 2) for rank, page in enumerate(ranked) if page in gold)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(gold), 10)))
    result["ndcg@10"] = dcg / ideal if ideal else 0.0
    return result


def figure_correct(answer: str, reference: str) -> bool | None:
    """True/False when the reference holds a figure (years aside), else None (a text answer: not graded here)."""
    from eval.answer_match import _number_matches, numbers

    gold = [
        (value, decimals) for value, decimals in numbers(reference) if not (decimals == 0 and 1990 <= value <= 2030)
    ]
    if not gold:
        return None
    stated = numbers(re.sub(r"\[\d+(?:,\s*\d+)*\]", " ", answer))
    return any(_number_matches(value, decimals, stated) for value, decimals in gold)


def figure_close(answer: str, reference: str) -> bool | None:
    """As `figure_correct`, but a stated figure rounded to the reference's own precision (its trailing zeros
    dropped: "$8.70" is 8.7) counts: 8.74 billion for "$8.70", 381.6 million for "$382.00", 5.43 % for "5.4%"."""
    from eval.answer_match import numbers

    gold = [value for value, decimals in numbers(reference) if not (decimals == 0 and 1990 <= value <= 2030)]
    if not gold:
        return None
    stated = numbers(re.sub(r"\[\d+(?:,\s*\d+)*\]", " ", answer))
    for value in gold:
        places = len(f"{abs(value):.6f}".rstrip("0").partition(".")[2])
        if any(given >= places and round(abs(said), places) == round(abs(value), places) for said, given in stated):
            return True
    return False


def paper_labels() -> dict[str, str]:
    path = FILINGS / "results" / "gpt-4-1106-preview_singleStore.jsonl"
    return {r["financebench_id"]: r["label"] for r in map(json.loads, path.read_text().splitlines()) if r}


def answer_all(settings, embedder, store, asked: list[dict], console, modes=("per filing", "routed"), log=None) -> dict:
    """Each question answered per filing (the search filtered to its filing) and routed (strategy documents);
    each answer is appended to `log` (JSON lines) as it comes, so a long run shows its progress."""
    from rich.progress import Progress

    from rag.answer.pipeline import RagPipeline
    from rag.llms import build_llm
    from rag.retrievers import build_retriever

    llm = build_llm(settings.llm)
    routed = settings.model_copy(
        update={
            "retriever": settings.retriever.model_copy(
                update={"strategy": "documents", "base": settings.retriever.strategy}
            )
        }
    )
    labels, outcome = paper_labels(), {}
    for mode, config in (("per filing", settings), ("routed", routed)):
        if mode not in modes:
            continue
        retriever = build_retriever(config, embedder=embedder, store=store, llm=llm)
        pipeline = RagPipeline(config, embedder=embedder, llm=llm, store=store, retriever=retriever)
        rows = []
        with Progress(console=console) as progress:
            task = progress.add_task(f"answering ({mode})", total=len(asked))
            for question in asked:
                retriever.search_filter = (
                    {"source": f"pdfs/{question['doc_name']}.pdf"} if mode == "per filing" else None
                )
                answer = pipeline.ask(question["question"])
                right = figure_correct(answer.text, question["answer"]) if answer.found else None
                close = figure_close(answer.text, question["answer"]) if answer.found else None
                rows.append(
                    {
                        "id": question["financebench_id"],
                        "type": question["question_type"],
                        "found": answer.found,
                        "right": right,
                        "close": close,
                        "restated": answer.restated,
                        "calculated": answer.calculation is not None,
                        "paper": labels.get(question["financebench_id"]),
                        "answer": answer.text,
                        "reference": question["answer"],
                    }
                )
                if log is not None:
                    with log.open("a") as handle:
                        handle.write(json.dumps({"mode": mode, **rows[-1]}) + "\n")
                progress.advance(task)
        graded = [r for r in rows if figure_correct("", r["reference"]) is not None]
        outcome[mode] = {
            "n": len(rows),
            "figure questions": len(graded),
            "right": sum(r["right"] is True for r in graded),
            "right to the reference's precision": sum(r.get("close") is True for r in graded),
            "wrong": sum(r["found"] and r["right"] is False for r in graded),
            "refused": sum(not r["found"] for r in rows),
            "restated first": sum(r["restated"] > 0 for r in rows),
            "calculated": sum(r["calculated"] for r in rows),
            "paper right where we are right": sum(
                r["right"] is True and r["paper"] == "Correct Answer" for r in graded
            ),
            "paper right (figure questions)": sum(r["paper"] == "Correct Answer" for r in graded),
            "rows": rows,
        }
        console.print(f"{mode}: " + ", ".join(f"{k} {v}" for k, v in outcome[mode].items() if k != "rows"))
    return outcome


def print_table(console, name: str, summary: dict[str, dict], ks: list[int], asked: int) -> None:
    from rich.table import Table

    table = Table(title=f"{name}: evidence page among the retrieved chunks (FinanceBench dev, {asked} questions)")
    for column in ("mode", "question type", "n", *(f"hit@{k}" for k in ks), "nDCG@10"):
        table.add_column(column, justify="left" if column in ("mode", "question type") else "right")

    def order(key: str) -> tuple:
        mode, kind = key.split(" | ")
        return MODES.index(mode), kind == "all", kind

    for key in sorted(summary, key=order):
        row = summary[key]
        table.add_row(
            *key.split(" | "), str(row["n"]), *(f"{row[f'hit@{k}']:.3f}" for k in ks), f"{row['ndcg@10']:.3f}"
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="baseline")
    parser.add_argument("--k", default="5,10", help="hit@k for these k (chunks retrieved: the largest)")
    parser.add_argument("--work", type=Path, default=REPO / ".rag" / "bench-filings")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--answers", type=int, default=0, help="answer the first N questions end to end")
    parser.add_argument("--answer-modes", default="per filing,routed", help="per filing, routed, or both")
    parser.add_argument("--answer-types", default="", help="answer only these question types (comma-separated)")
    options = parser.parse_args()

    from rich.console import Console

    from ingest.run import ingest
    from rag.console import setup_environment
    from rag.embeddings import build_embedder
    from rag.retrievers import build_retriever
    from rag.retrievers.routing import DocumentRouter
    from rag.stores import build_store

    setup_environment()
    console = Console(width=200)
    ks = sorted(int(k) for k in options.k.split(","))
    asked = questions()
    results: dict[str, dict] = {}
    for name in [v.strip() for v in options.variants.split(",") if v.strip()]:
        settings = settings_for(name, options.work)
        embedder = build_embedder(settings.embedding)
        started = time.perf_counter()
        report = ingest([FILINGS / "pdfs"], settings, embedder=embedder)
        ingest_s = time.perf_counter() - started
        store = build_store(settings.store, embedder.name, embedder.dimension)
        retriever = build_retriever(settings, embedder=embedder, store=store)
        retriever.warm_up()
        router = DocumentRouter.from_store(store)
        rows: dict[str, list[dict]] = defaultdict(list)
        routed_right = 0
        for question in asked:
            source = f"pdfs/{question['doc_name']}.pdf"
            route = router.route(question["question"])
            routed_right += route == [source]
            filters = {"per filing": {"source": source}, "shared": None, "routed": {"source": route} if route else None}
            for mode in MODES:
                hits = retriever.retrieve(question["question"], ks[-1], filters[mode])
                row = scores([page_of(hit.metadata) for hit in hits], gold_pages(question), ks)
                rows[(mode, question["question_type"])].append(row)
                rows[(mode, "all")].append(row)
        summary = {
            f"{mode} | {kind}": {key: sum(r[key] for r in group) / len(group) for key in group[0]} | {"n": len(group)}
            for (mode, kind), group in rows.items()
        }
        results[name] = {
            "ingest_s": round(ingest_s, 1),
            "chunks": store.count(),
            "failed": [f"{f.source}: {f.reason}" for f in report.failed],
            "routed_to_the_filing": routed_right / len(asked),
            "rows": summary,
        }
        if options.answers:
            modes = tuple(mode.strip() for mode in options.answer_modes.split(","))
            log = options.out / f"filings_answers_{name}.jsonl"
            options.out.mkdir(parents=True, exist_ok=True)
            log.unlink(missing_ok=True)
            types = {kind.strip() for kind in options.answer_types.split(",") if kind.strip()}
            chosen = [q for q in asked if not types or q["question_type"] in types][: options.answers]
            results[name]["answers"] = answer_all(settings, embedder, store, chosen, console, modes, log)
        store.close()
        print_table(console, name, summary, ks, len(asked))
        console.print(
            f"{name}: {results[name]['chunks']} chunks, ingest {results[name]['ingest_s']} s this run, routed to the "
            f"right filing alone: {routed_right / len(asked):.3f}, failed: {results[name]['failed']}"
        )
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "filings_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
