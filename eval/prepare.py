"""An evaluation's data: the dataset converted and sampled, its corpus ingested into a store of its own."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from eval.config import EvalConfig
from eval.datasets import CONVERTERS, QASample, load_qa, sample
from eval.retrieval import store_moved
from ingest.run import splitter_shape
from rag.config import Settings
from rag.embeddings.base import Embedder
from rag.errors import ConfigError


def prepare_dataset(cfg: EvalConfig) -> tuple[Path, list[QASample], str]:
    """(folder to ingest, the seeded sample of questions, dataset key) for the configured dataset."""
    ds = cfg.dataset
    if ds.kind == "jsonl":
        if not ds.qa or not ds.corpus:
            raise ConfigError("dataset.kind jsonl needs dataset.qa (the QA file) and dataset.corpus (a folder)")
        corpus, qa, key = Path(ds.corpus), Path(ds.qa), f"jsonl-{Path(ds.qa).stem}"
        if not corpus.is_dir():
            raise ConfigError(f"dataset.corpus {corpus} is not a folder")
    else:
        if not ds.source:
            raise ConfigError(f"dataset.source is required for {ds.kind}, e.g. ../shared/datasets/{ds.kind}")
        source = Path(ds.source)
        if not source.is_dir():
            raise ConfigError(f"dataset.source {source} is not a folder (see ../shared/datasets/{ds.kind}/README.md)")
        split = ds.split or ("test" if ds.kind == "pubmedqa" else "dev")
        key = f"{ds.kind}-{split}"
        out = Path(cfg.work) / key
        qa = out / f"{key}.jsonl"
        if not qa.is_file():
            try:
                CONVERTERS[ds.kind](source, out, split)
            except (OSError, KeyError, json.JSONDecodeError) as exc:
                raise ConfigError(f"could not convert {source} ({exc.__class__.__name__}: {exc})") from None
        corpus = out / "corpus"
    return corpus, sample(load_qa(qa), ds.limit, ds.seed), key


def pipeline_settings(settings: Settings, cfg: EvalConfig, dataset_key: str) -> Settings:
    """The pipeline's settings with its store moved under the eval work folder: one store per dataset and
    per index-shaping settings (splitter, embedding, store kind, keyword index), shared by retrieval-only
    variations such as answer.k."""
    shape = {
        "splitter": splitter_shape(settings),
        "embedding": settings.embedding.model_dump(),
        "store": {"kind": settings.store.kind, "bm25": settings.store.bm25.model_dump()},
    }
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:10]
    return Settings(
        **store_moved(settings, Path(cfg.work) / dataset_key / f"store-{digest}", dataset_key.replace("-", "_"))
    )


def ingest_corpus(corpus: Path, settings: Settings, embedder: Embedder | None = None, progress: Any = None) -> None:
    """Ingest (incrementally) the dataset's corpus into the run's store."""
    from ingest.run import ingest

    report = ingest([corpus], settings, progress=progress, on_plan=getattr(progress, "plan", None), embedder=embedder)
    if report.exit_code != 0:
        raise ConfigError(f"ingesting {corpus} failed: {report.to_json()}")
