"""Retrieval collections for choosing defaults: each written once as a BEIR folder with a ``tune`` and a ``test``
split, so a default is chosen on one half of every collection and reported on the other.

- scifact: ``../shared/datasets/scifact`` as it is (tune = its train qrels, 809 claims; test = its test qrels, 300).
- cranfield: the 225 judged queries split by id parity (odd ids tune, even ids test); the corpus as it is.
- tatqa: TAT-QA's dev and test contexts pooled into one corpus (a document = a table as ``cell | cell`` rows plus its
  paragraphs); dev questions tune, test questions test; a question's own context is its one relevant document.
- financebench: the 24 filings of the FinanceBench dev split, a document per page (pypdf text); its 51 questions
  with their evidence pages relevant. A dev split only: it tunes, and is reported as a dev number.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from rag.errors import ConfigError

NAMES = ("scifact", "cranfield", "tatqa", "financebench")
_STAMP = ".complete"


def prepare(name: str, shared: Path, work: Path) -> Path:
    """The BEIR folder of collection `name` (written under `work` once; scifact is used in place)."""
    if name not in NAMES:
        raise ConfigError(f"unknown collection {name!r}; choose from {', '.join(NAMES)}")
    if name == "scifact":
        return shared / "scifact"
    folder = work / "collections" / name
    if (folder / _STAMP).is_file():
        return folder
    source = shared / {"cranfield": "cranfield", "tatqa": "tatqa", "financebench": "financebench-dev"}[name]
    if not source.is_dir():
        raise ConfigError(f"{source} is missing: the collection {name!r} is built from it")
    folder.mkdir(parents=True, exist_ok=True)
    {"cranfield": _cranfield, "tatqa": _tatqa, "financebench": _financebench}[name](source, folder)
    (folder / _STAMP).write_text("ok\n")
    return folder


def tune_split(name: str) -> str:
    return "train" if name == "scifact" else "tune"


def _cranfield(source: Path, folder: Path) -> None:
    for file in ("corpus.jsonl", "queries.jsonl"):
        target = folder / file
        if not target.exists():
            os.symlink((source / file).resolve(), target)
    rows = _qrels(source / "qrels" / "test.tsv")
    _write_qrels(folder, "tune", (row for row in rows if int(row[0]) % 2 == 1))
    _write_qrels(folder, "test", (row for row in rows if int(row[0]) % 2 == 0))


def _tatqa(source: Path, folder: Path) -> None:
    corpus, queries, qrels = [], [], {"tune": [], "test": []}
    for split, file in (("tune", "tatqa_dataset_dev.json"), ("test", "tatqa_dataset_test_gold.json")):
        for context in json.loads((source / file).read_text(encoding="utf-8")):
            doc_id = context["table"]["uid"]
            rows = [" | ".join(cell.strip() for cell in row) for row in context["table"]["table"]]
            paragraphs = [p["text"] for p in sorted(context["paragraphs"], key=lambda p: p["order"])]
            corpus.append({"_id": doc_id, "title": "", "text": "\n".join([*rows, "", *paragraphs])})
            for question in context["questions"]:
                queries.append({"_id": question["uid"], "text": question["question"]})
                qrels[split].append((question["uid"], doc_id, 1))
    _write_jsonl(folder / "corpus.jsonl", corpus)
    _write_jsonl(folder / "queries.jsonl", queries)
    for split, rows in qrels.items():
        _write_qrels(folder, split, rows)


def _financebench(source: Path, folder: Path, on_file: Callable[[str], None] | None = None) -> None:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    corpus = []
    for pdf in sorted((source / "pdfs").glob("*.pdf")):
        reader = pypdf.PdfReader(str(pdf))
        for number, page in enumerate(reader.pages):
            text = page.extract_text() or ""
            if text.strip():
                corpus.append({"_id": f"{pdf.stem}#{number}", "title": pdf.stem.replace("_", " "), "text": text})
        if on_file:
            on_file(pdf.name)
    questions = [json.loads(line) for line in (source / "questions.jsonl").open(encoding="utf-8") if line.strip()]
    queries, rows = [], []
    for question in questions:
        queries.append({"_id": question["financebench_id"], "text": question["question"]})
        for evidence in question["evidence"]:  # evidence_page_num is 0-based
            rows.append((question["financebench_id"], f"{evidence['doc_name']}#{evidence['evidence_page_num']}", 1))
    _write_jsonl(folder / "corpus.jsonl", corpus)
    _write_jsonl(folder / "queries.jsonl", queries)
    _write_qrels(folder, "tune", sorted(set(rows)))


def _qrels(path: Path) -> list[tuple[str, str, int]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (r[0], r[1], int(r[2])) for r in csv.reader(handle, delimiter="\t") if len(r) >= 3 and r[0] != "query-id"
        ]


def _write_qrels(folder: Path, split: str, rows: Iterable[tuple[str, str, int]]) -> None:
    (folder / "qrels").mkdir(exist_ok=True)
    with (folder / "qrels" / f"{split}.tsv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["query-id", "corpus-id", "score"])
        writer.writerows(rows)


def _write_jsonl(path: Path, records: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
