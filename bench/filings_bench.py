"""Long, table-heavy filings: is the page holding the evidence among the passages retrieved? The 24 real SEC filings
and 51 questions of the FinanceBench dev split (../shared/datasets/financebench-dev), through our ingest.

    .venv/bin/python bench/filings_bench.py [--variants baseline,headers+tables] [--k 5,10]

Three ways to ask, side by side: `per filing` (the search filtered to the question's filing, as the paper's
"a vector store per filing"), `shared` (one store for all 24, no filter) and `routed` (one store, filtered to the
filing the question names: rag/retrievers/routing.py). A hit is a retrieved chunk on an evidence page; nDCG@10
ranks the pages by their best chunk. Rows by question type (domain-relevant, metrics-generated, novel-generated).
The stores are kept under --work: a second run with the same variant ingests nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILINGS = REPO.parent / "shared" / "datasets" / "financebench-dev"

# name -> section overrides of the default configuration
VARIANTS: dict[str, dict] = {
    "baseline": {},
    "headers+tables": {"splitter": {"context_header": True, "table_header": True}},
}
MODES = ("per filing", "shared", "routed")


def settings_for(name: str, work: Path):
    from rag.config import load_config

    data = load_config().model_dump(by_alias=True)
    for section, values in VARIANTS[name].items():
        data[section].update(values)
    data["store"].update(path=str(work / name.replace("+", "-") / "chroma"), collection="filings")
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
