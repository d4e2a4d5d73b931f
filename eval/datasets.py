"""QA datasets for answer evaluation: one JSONL format, and converters for the shared sets.

A QA file has one JSON object per line::

    {"id": "...", "question": "...", "reference": "the reference answer",
     "context_ids": ["source the answer is in", ...], "contexts": ["gold passage text", ...],
     "metadata": {...}}

`context_ids` name the ingested sources (file names under the corpus folder) that hold the answer, so
retrieval can be scored against them; `contexts` are the gold passages' texts (optional).
A converter writes the corpus (files to ingest) and the QA file; `sample()` picks a seeded subset.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import ConfigError


@dataclass
class QASample:
    id: str
    question: str
    reference: str
    context_ids: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConvertedDataset:
    corpus: Path  # a folder to ingest
    qa: Path  # the QA JSONL file
    samples: int
    documents: int


def load_qa(path: str | Path) -> list[QASample]:
    """Read a QA JSONL file; a bad line is a one-line error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"QA file {path} does not exist")
    samples: list[QASample] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if "rating" in record and "id" not in record:  # the chat app's feedback (service/conversations.py)
                    reviewed = reviewed_sample(record)
                    if reviewed is not None:
                        samples.append(reviewed)
                    continue
                if ((record.get("metadata") or {}).get("reviewed") or {}).get("state") == "rejected":
                    continue  # a generated question a reviewer rejected (eval.review)
                samples.append(
                    QASample(
                        id=str(record["id"]),
                        question=str(record["question"]),
                        reference=str(record.get("reference", "")),
                        context_ids=[str(c) for c in record.get("context_ids", [])],
                        contexts=[str(c) for c in record.get("contexts", [])],
                        metadata=dict(record.get("metadata", {})),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}, line {number}: not a QA record ({exc.__class__.__name__}: {exc})") from None
    return samples


def reviewed_sample(record: dict[str, Any]) -> QASample | None:
    """A chat answer someone rated as a QA sample: a thumbs-up answer is the reference for its question (its
    citations dropped, the passages it was drawn from as contexts); a thumbs-down one is no reference (None)."""
    if int(record["rating"]) != 1:
        return None
    question = str(record["question"])
    reference = re.sub(r"\s*\[\d+(?:\s*,\s*\d+)*\]", "", str(record.get("answer", ""))).strip()
    return QASample(
        id="feedback-" + hashlib.sha256(question.encode()).hexdigest()[:12],
        question=question,
        reference=reference,
        context_ids=sorted({str(s.get("where", "")).split(" · ")[0] for s in record.get("sources", [])} - {""}),
        contexts=[str(c) for c in record.get("contexts", [])],
        metadata={"source": "chat feedback", "comment": record.get("comment", ""), "time": record.get("time")},
    )


def write_qa(samples: list[QASample], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(json.dumps(asdict(sample), ensure_ascii=False) + "\n")


def sample(samples: list[QASample], limit: int | None, seed: int = 13) -> list[QASample]:
    """A seeded subset of `limit` samples in their original order (all when limit is None)."""
    if not limit or limit >= len(samples):
        return list(samples)
    chosen = set(random.Random(seed).sample(range(len(samples)), limit))
    return [s for i, s in enumerate(samples) if i in chosen]


def convert_pubmedqa(source: str | Path, out: str | Path, split: str = "test") -> ConvertedDataset:
    """PubMedQA PQA-L: every abstract (without its conclusion) becomes a Markdown file with its sections;
    each question of `split` (test: the official 500) asks for its conclusion (LONG_ANSWER)."""
    source, out = Path(source), Path(out)
    records = json.loads((source / "ori_pqal.json").read_text(encoding="utf-8"))
    wanted = set(json.loads((source / "test_ground_truth.json").read_text(encoding="utf-8")))
    if split == "train":
        wanted = set(records) - wanted
    elif split != "test":
        raise ConfigError(f"PubMedQA split {split!r}: choose test or train")
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    samples = []
    for pmid, record in records.items():  # the corpus pools all 1,000 abstracts
        name = f"pubmed-{pmid}.md"
        sections = [
            f"## {label.title()}\n\n{text.strip()}"
            for label, text in zip(record["LABELS"], record["CONTEXTS"], strict=False)
        ]
        (corpus / name).write_text(f"# {record['QUESTION']}\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
        if pmid in wanted:
            samples.append(
                QASample(
                    id=pmid,
                    question=record["QUESTION"],
                    reference=record["LONG_ANSWER"],
                    context_ids=[name],
                    contexts=list(record["CONTEXTS"]),
                    metadata={"decision": record["final_decision"], "year": record.get("YEAR")},
                )
            )
    qa = out / f"pubmedqa-{split}.jsonl"
    write_qa(samples, qa)
    return ConvertedDataset(corpus=corpus, qa=qa, samples=len(samples), documents=len(records))


def convert_tatqa(source: str | Path, out: str | Path, split: str = "dev") -> ConvertedDataset:
    """TAT-QA: each context (one table + its paragraphs) becomes a Markdown file with the table as a
    Markdown table; each question's reference is its gold answer (with the scale, e.g. "million")."""
    source, out = Path(source), Path(out)
    files = {"dev": "tatqa_dataset_dev.json", "test": "tatqa_dataset_test_gold.json"}
    if split not in files:
        raise ConfigError(f"TAT-QA split {split!r}: choose dev or test")
    contexts = json.loads((source / files[split]).read_text(encoding="utf-8"))
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    samples = []
    for context in contexts:
        uid = context["table"]["uid"]
        name = f"tatqa-{uid}.md"
        paragraphs = sorted(context["paragraphs"], key=lambda p: p["order"])
        text = markdown_table(context["table"]["table"]) + "\n\n" + "\n\n".join(p["text"] for p in paragraphs)
        (corpus / name).write_text(text + "\n", encoding="utf-8")
        by_order = {str(p["order"]): p["text"] for p in paragraphs}
        for question in context["questions"]:
            answer = question["answer"]
            reference = ", ".join(str(a) for a in answer) if isinstance(answer, list) else str(answer)
            if question.get("scale"):
                reference = f"{reference} {question['scale']}"
            gold = [by_order[o] for o in question.get("rel_paragraphs", []) if o in by_order]
            if question.get("answer_from") in ("table", "table-text"):
                gold.insert(0, markdown_table(context["table"]["table"]))
            samples.append(
                QASample(
                    id=question["uid"],
                    question=question["question"],
                    reference=reference,
                    context_ids=[name],
                    contexts=gold,
                    metadata={
                        "answer_type": question.get("answer_type"),
                        "answer_from": question.get("answer_from"),
                        "derivation": question.get("derivation", ""),
                    },
                )
            )
    qa = out / f"tatqa-{split}.jsonl"
    write_qa(samples, qa)
    return ConvertedDataset(corpus=corpus, qa=qa, samples=len(samples), documents=len(contexts))


def markdown_table(rows: list[list[str]]) -> str:
    """A 2-D list of cells as a Markdown table (the first row as the header)."""
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    cells = [[" ".join(str(c).split()).replace("|", "\\|") for c in row] + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


CONVERTERS = {"pubmedqa": convert_pubmedqa, "tatqa": convert_tatqa}
