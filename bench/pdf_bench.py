"""Long PDFs: page-level hit@5 / hit@10 before and after contextual chunk headers and table header rows, and
answers with and without small-to-big context, side by side in one run.

    .venv/bin/python bench/pdf_bench.py [--questions 300] [--answers 30] [--variants baseline,tables,...]

Two sets, both PDFs through our ingest:
- reports: TAT-QA's real annual-report tables and paragraphs typeset into three ~100-page PDFs
  (eval/pdfqa.py), a seeded sample of their questions, gold = the page holding the context;
- real PDFs: the eight PDFs of ../shared/datasets/documents/pdf (45 pages) and 30 questions written for them
  (bench/data/real-pdf-qa.jsonl), gold = the page(s) with the answer.
A hit is a retrieved chunk on a gold page. With --answers N, N report questions are answered by the local
model under the old default, the default, and the default with contextual headers, k 8 and read-small passages,
and scored with answer_match (eval/answer_match.py).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "datasets"

# name -> section overrides of the default configuration
VARIANTS: dict[str, dict] = {
    "old default (MiniLM 128)": {
        "embedding": {"provider": "sentence_transformers", "model": "all-MiniLM-L6-v2"},
        "splitter": {"chunk_size": 128, "chunk_overlap": 16},
        "retriever": {"hybrid": {"alpha": 0.5}},
    },
    "old default + headers + tables": {
        "embedding": {"provider": "sentence_transformers", "model": "all-MiniLM-L6-v2"},
        "splitter": {"chunk_size": 128, "chunk_overlap": 16, "context_header": True, "table_header": True},
        "retriever": {"hybrid": {"alpha": 0.5}},
    },
    "baseline": {},
    "tables": {"splitter": {"table_header": True}},
    "headers": {"splitter": {"context_header": True}},
    "headers+tables": {"splitter": {"context_header": True, "table_header": True}},
}


def page_key(metadata: dict) -> str:
    return f"{Path(str(metadata.get('source', ''))).name}#page={metadata.get('page')}"


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def settings_for(name: str, store: Path, extra: dict | None = None):
    from rag.config import load_config

    data = load_config().model_dump(by_alias=True)
    for section, values in [*VARIANTS[name].items(), *(extra or {}).items()]:
        data[section].update(values)
    data["store"].update(path=str(store / str(list(VARIANTS).index(name)) / "chroma"), collection="pdfs")
    data["retriever"]["cache"] = None
    return type(load_config())(**data)


def retrieval_hits(settings, corpus: Path, questions: list[dict], embedder) -> dict:
    from ingest.run import ingest
    from rag.retrievers import build_retriever
    from rag.stores import build_store

    started = time.perf_counter()
    report = ingest([corpus], settings, embedder=embedder)
    ingest_s = time.perf_counter() - started
    store = build_store(settings.store, embedder.name, embedder.dimension)
    retriever = build_retriever(settings, embedder=embedder, store=store)
    retriever.warm_up()
    hit5 = hit10 = 0
    for question in questions:
        pages = [page_key(hit.metadata) for hit in retriever.retrieve(question["question"], 10)]
        gold = set(question["context_ids"])
        hit5 += bool(gold & set(pages[:5]))
        hit10 += bool(gold & set(pages))
    chunks = store.count()
    store.close()
    return {
        "hit@5": hit5 / len(questions),
        "hit@10": hit10 / len(questions),
        "chunks": chunks,
        "ingest_s": ingest_s,
        "failed": len(report.failed),
    }


def answers(settings, questions: list[dict], embedder, llm) -> dict:
    from eval.answer_match import answer_match
    from eval.ragas_suite import judged_text
    from rag.answer import prompts
    from rag.answer.pipeline import RagPipeline

    pipeline = RagPipeline(settings, embedder=embedder, llm=llm)
    scores, grounded, hit5 = [], 0, 0
    for question in questions:
        answer = pipeline.ask(question["question"])
        body = judged_text(answer.text, (prompts.UNSUPPORTED_NOTE, prompts.UNCITED_NOTE))
        scores.append(answer_match(body, question["reference"]) if answer.found else 0.0)
        grounded += answer.found and answer.grounded
        hit5 += bool(set(question["context_ids"]) & {page_key(h.metadata) for h in answer.retrieved})
    pipeline.store.close()
    n = len(questions)
    return {"answer_match": sum(scores) / n, "grounded": grounded / n, "context_hit": hit5 / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300, help="report questions sampled (seeded)")
    parser.add_argument("--answers", type=int, default=0, help="report questions answered by the local model")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--work", type=Path, default=REPO / ".rag" / "bench-pdf")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    options = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from eval.pdfqa import convert_pdfqa
    from rag.config import load_config
    from rag.embeddings import build_embedder

    console = Console(width=200)
    reports_dir = options.work / "pdfqa-test"
    qa_file = reports_dir / "pdfqa-test.jsonl"
    if not qa_file.is_file():
        convert_pdfqa(SHARED / "tatqa", reports_dir, "test")
    report_questions = load_questions(qa_file)
    report_questions = random.Random(13).sample(report_questions, min(options.questions, len(report_questions)))
    real_questions = load_questions(REPO / "bench" / "data" / "real-pdf-qa.jsonl")
    embedders: dict[tuple[str, str], object] = {}

    def embedder_for(settings):
        key = (settings.embedding.provider, settings.embedding.model)
        if key not in embedders:
            embedders[key] = build_embedder(settings.embedding)
            embedders[key].warm_up()
        return embedders[key]

    results: dict[str, dict] = {}
    for name in [v.strip() for v in options.variants.split(",") if v.strip()]:
        reports = settings_for(name, options.work / "stores-reports")
        real = settings_for(name, options.work / "stores-real")
        results[name] = {
            "reports": retrieval_hits(reports, reports_dir / "corpus", report_questions, embedder_for(reports)),
            "real": retrieval_hits(real, SHARED / "documents" / "pdf", real_questions, embedder_for(real)),
        }
        console.print(f"{name}: {results[name]}")
    table = Table(title="Page-level retrieval on long PDFs (configured retriever, k = 10)")
    for column in ("variant", "reports hit@5", "reports hit@10", "real PDFs hit@5", "real PDFs hit@10", "chunks"):
        table.add_column(column)
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['reports']['hit@5']:.3f}",
            f"{r['reports']['hit@10']:.3f}",
            f"{r['real']['hit@5']:.3f}",
            f"{r['real']['hit@10']:.3f}",
            f"{r['reports']['chunks']} + {r['real']['chunks']}",
        )
    console.print(table)
    console.print(f"({len(report_questions)} report questions over 3 PDFs; {len(real_questions)} real-PDF questions)")

    answered: dict[str, dict] = {}
    if options.answers:
        from rag.llms import build_llm

        llm = build_llm(load_config().llm)
        sample = report_questions[: options.answers]
        work = options.work / "stores-reports"
        setups = {
            "old default (MiniLM 128, k 5)": settings_for("old default (MiniLM 128)", work),
            "default (bge window, k 5)": settings_for("baseline", work),
            "default + headers/tables, k 8, read small 200": settings_for(
                "headers+tables", work, {"answer": {"k": 8, "passage_tokens": 200}}
            ),
        }
        for label, settings in setups.items():
            answered[label] = answers(settings, sample, embedder_for(settings), llm)
            console.print(f"{label}: {answered[label]}")
        table = Table(title=f"Answers on {len(sample)} report questions ({llm.name})")
        for column in ("setup", "answer_match", "grounded", "gold page in the prompt"):
            table.add_column(column)
        for label, r in answered.items():
            table.add_row(label, f"{r['answer_match']:.3f}", f"{r['grounded']:.3f}", f"{r['context_hit']:.3f}")
        console.print(table)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "pdf_bench.json").write_text(json.dumps({"retrieval": results, "answers": answered}, indent=2))


if __name__ == "__main__":
    main()
