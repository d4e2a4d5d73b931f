"""BEIR-format IR datasets: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import ConfigError

# Published nDCG@10 / R@100 on the test split, shown beside our numbers (sources: the dataset README).
REFERENCES: dict[str, list[dict[str, object]]] = {
    "scifact": [
        {"system": "BM25 flat (Anserini)", "ndcg@10": 0.6789, "recall@100": 0.9253},
        {"system": "BM25 multifield (Anserini / BEIR paper)", "ndcg@10": 0.6647, "recall@100": 0.9076},
        {"system": "all-MiniLM-L6-v2 (MTEB)", "ndcg@10": 0.6451},
        {"system": "bge-base-en-v1.5 (Anserini)", "ndcg@10": 0.7408, "recall@100": 0.9667},
        {"system": "hybrid BM25 + MiniLM, min-max 0.5 (40-line script, this machine)", "ndcg@10": 0.728},
    ],
}


@dataclass
class BeirDataset:
    name: str
    root: Path
    split: str
    queries: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def corpus(self) -> Path:
        return self.root / "corpus.jsonl"


def load_beir(root: str | Path, split: str = "test") -> BeirDataset:
    """The queries that have judgements in `split`, and the judgements; the corpus stays a file."""
    root = Path(root)
    qrels_path = root / "qrels" / f"{split}.tsv"
    for needed in (root / "corpus.jsonl", root / "queries.jsonl", qrels_path):
        if not needed.is_file():
            raise ConfigError(
                f"{root} is not a BEIR dataset: {needed.name} is missing (expected corpus.jsonl, "
                f"queries.jsonl and qrels/{split}.tsv)"
            )
    dataset = BeirDataset(name=root.name, root=root, split=split)
    with qrels_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if len(row) < 3 or row[0] == "query-id":
                continue
            dataset.qrels.setdefault(row[0].strip(), {})[row[1].strip()] = int(row[2])
    with (root / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if str(record["_id"]) in dataset.qrels:
                    dataset.queries[str(record["_id"])] = record["text"]
    missing = set(dataset.qrels) - set(dataset.queries)
    if missing:
        raise ConfigError(f"{qrels_path}: {len(missing)} judged queries are not in queries.jsonl")
    return dataset


def corpus_size(dataset: BeirDataset) -> int:
    with dataset.corpus.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())
