"""``python -m eval retrieval --collections scifact,cranfield,tatqa,financebench``: the fusion and query
instruction chosen on every collection's tuning split at once (eval/multi_tune.py), reported on each test split
beside the current default, with paired-bootstrap intervals."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from eval import collections
from eval.beir import corpus_size, load_beir
from eval.multi_tune import (
    Candidate,
    SignalLists,
    beats_both,
    by_objective,
    choose,
    ndcg_per_query,
    paired_bootstrap,
    score_all,
)
from eval.retrieval import chunk_depth, eval_settings, sample_queries
from rag.config import RetrieverOptions, Settings
from rag.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "datasets"


@dataclass
class DefaultsRun:
    names: list[str]
    tuning: dict[Candidate, dict[str, float]] = field(default_factory=dict)
    ranking: list[tuple[Candidate, float]] = field(default_factory=list)
    current: Candidate | None = None
    test: dict[str, dict[str, Any]] = field(default_factory=dict)  # collection -> {label: ndcg, "ci": …}
    sizes: dict[str, str] = field(default_factory=dict)
    everywhere: bool = True  # the chosen fusion beats both its signals on every tuning split


def current_default(settings: Settings) -> Candidate:
    hybrid = settings.retriever.section("hybrid")
    instruction = bool(getattr(settings.embedding, "query_prefix", None))
    if hybrid.fusion == "rrf":
        return Candidate("rrf", instruction)
    alpha = hybrid.weights.get("dense", hybrid.alpha) if hybrid.weights else hybrid.alpha
    kind = "confidence" if hybrid.fusion == "confidence" else "weighted"
    return Candidate(kind, instruction, round(alpha, 4), depth=settings.retriever.candidates)


def run_defaults(config: Settings, names: list[str], *, limit: int | None, work: Path, console: Console) -> DefaultsRun:
    import pickle

    from ingest.run import settings_fingerprint

    outcome = DefaultsRun(names, current=current_default(config))
    tune_splits, test_splits, hybrid = [], [], None
    # The searched lists are kept: scoring other candidates later costs no search (same models, same limit).
    cache = work / f"defaults-{'-'.join(names)}-{limit or 'all'}-{settings_fingerprint(config)[:10]}.pickle"
    if cache.is_file():
        tune_splits, test_splits, outcome.sizes = pickle.loads(cache.read_bytes())
        console.print(f"reusing the searches in {cache}")
    for name in [] if cache.is_file() else names:
        folder = collections.prepare(name, SHARED, work)
        tuning = load_beir(folder, collections.tune_split(name))
        testing = load_beir(folder, "test") if (folder / "qrels" / "test.tsv").is_file() else None
        hybrid, searched = _search(config, name, tuning, testing, limit, work, console, outcome)
        tune_splits.append(searched[0])
        if len(searched) > 1:
            test_splits.append(searched[1])
    cache.write_bytes(pickle.dumps((tune_splits, test_splits, outcome.sizes)))
    if hybrid is None:
        hybrid = _fuser(config)
    console.print(f"scoring the candidates on {len(tune_splits)} tuning splits")
    outcome.tuning = score_all(hybrid, tune_splits)
    outcome.ranking = choose(outcome.tuning) or by_objective(outcome.tuning)
    outcome.everywhere = bool(choose(outcome.tuning))
    chosen = outcome.ranking[0][0]
    for split in test_splits:
        chosen_q = ndcg_per_query(chosen, hybrid, split)
        current_q = ndcg_per_query(outcome.current, hybrid, split)
        row = {
            label: float(np.mean(list(ndcg_per_query(candidate, hybrid, split).values())))
            for label, candidate in (
                ("BM25", Candidate("bm25", False)),
                ("dense", Candidate("dense", False)),
                ("dense+instr", Candidate("dense", True)),
            )
        }
        row["current default"] = float(np.mean(list(current_q.values())))
        row["chosen"] = float(np.mean(list(chosen_q.values())))
        row["ci"] = paired_bootstrap(chosen_q, current_q)
        # the instruction decision: the chosen fusion with the other instruction setting
        other = dataclasses.replace(chosen, instruction=not chosen.instruction)
        row["ci_instruction"] = paired_bootstrap(ndcg_per_query(other, hybrid, split), chosen_q)
        row["queries"] = len(chosen_q)
        outcome.test[split.collection] = row
    return outcome


def _fuser(config: Settings) -> Any:
    """A hybrid retriever used only to fuse lists already searched (no store is opened)."""
    from rag.retrievers.hybrid import HybridRetriever

    return HybridRetriever.model_construct(
        fusion="weighted", candidates=config.retriever.candidates, rrf_k=60, weights=None, alpha=0.5
    )


def _search(config, name, tuning, testing, limit, work, console, outcome) -> tuple[Any, list[SignalLists]]:
    """Ingest the collection's corpus (once; the store is reused) and search each signal once per query."""
    from ingest.progress import RichProgress
    from ingest.run import ingest
    from rag.embeddings import build_embedder
    from rag.embeddings.base import EmbeddingOptions
    from rag.embeddings.onnx import BGE_INSTRUCTION
    from rag.retrievers import build_retriever
    from rag.stores import build_store

    settings = eval_settings(config, tuning, work)
    embedder = build_embedder(settings.embedding)
    with RichProgress(console, enabled=True) as progress:
        report = ingest([tuning.corpus], settings, progress=progress, on_plan=progress.plan, embedder=embedder)
    if report.exit_code != 0:
        raise ConfigError(f"ingesting {tuning.corpus} failed: {report.to_json()}")
    plain = {**settings.embedding.model_dump(), "query_prefix": ""}
    instructed = {**settings.embedding.model_dump(), "query_prefix": BGE_INSTRUCTION}
    embedders = {
        "dense": build_embedder(EmbeddingOptions.of(plain)),
        "dense+instr": build_embedder(EmbeddingOptions.of(instructed)),
    }
    store = build_store(settings.store, embedder.name, embedder.dimension)
    everything = settings.retriever.model_dump()
    everything.update(strategy="hybrid", rerank={"backend": "none"})
    everything["hybrid"] = {**settings.retriever.section("hybrid").model_dump(), "weights": {"dense": 1.0, "bm25": 1.0}}
    hybrid = build_retriever(
        settings.model_copy(update={"retriever": RetrieverOptions(**everything)}), embedder=embedder, store=store
    )
    hybrid.warm_up()
    documents = corpus_size(tuning)
    depth = chunk_depth(store.count(), documents)
    outcome.sizes[name] = f"{documents:,} documents, {store.count():,} chunks"
    searched = []
    for dataset in (tuning, testing):
        if dataset is None:
            continue
        split = SignalLists(name, dataset.split, dataset.queries, dataset.qrels)
        started = time.perf_counter()
        for query_id in sample_queries(dataset, limit):
            query = dataset.queries[query_id]
            lists = {}
            for signal, model in embedders.items():
                found = hybrid.signal_lists(query, depth, vector=model.embed_query(query), every=True)
                lists[signal] = found["dense"]
                lists["bm25"] = found["bm25"]
            split.lists[query_id] = lists
        split.queries = {q: dataset.queries[q] for q in split.lists}
        console.print(
            f"  {name} {dataset.split}: {len(split.lists)} queries searched in {time.perf_counter() - started:.0f} s"
        )
        searched.append(split)
    store.close()
    return hybrid, searched


def every_candidate(outcome: DefaultsRun) -> str:
    """Every candidate on every tuning split (the report's appendix)."""
    lines = ["| candidate | " + " | ".join(outcome.names) + " |", "|---|" + "---|" * len(outcome.names)]
    for candidate, scores in outcome.tuning.items():
        lines.append(f"| {candidate.label()} | " + " | ".join(f"{scores[n]:.4f}" for n in outcome.names) + " |")
    return "\n".join(lines) + "\n"


def markdown(outcome: DefaultsRun, top: int = 12) -> str:
    """The report: the best candidates on every tuning split, then the test splits."""
    names = outcome.names
    bm25 = outcome.tuning[Candidate("bm25", False)]
    if not outcome.everywhere:
        lines_note = "No fusion beats both its signals on every tuning split; ranked by the objective alone."
    else:
        lines_note = "Only fusions that beat dense and BM25 alone on every tuning split are ranked."
    lines = [
        "**Tuning splits** (nDCG@10; objective = mean gain over each collection's BM25; "
        + "; ".join(f"{n}: {outcome.sizes.get(n, '')}" for n in names)
        + ")",
        "",
        lines_note,
        "",
        "| candidate | " + " | ".join(names) + " | mean gain over BM25 | loses to a signal on |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    shown = [(c, None) for c in (Candidate("bm25", False), Candidate("dense", False), Candidate("dense", True))]
    shown += [(outcome.current, None), *outcome.ranking[:top]]
    for candidate, _ in shown:
        scores = outcome.tuning[candidate]
        gain = np.mean([scores[n] - bm25[n] for n in names])
        marker = " (current default)" if candidate == outcome.current else ""
        cells = " | ".join(f"{scores[n]:.4f}" for n in names)
        losing = "" if candidate.kind in ("dense", "bm25") else ", ".join(beats_both(outcome.tuning, candidate))
        lines.append(f"| {candidate.label()}{marker} | {cells} | {gain:+.4f} | {losing} |")
    chosen = outcome.ranking[0][0]
    lines += [
        "",
        f"**Chosen**: {chosen.label()}. **Test splits** (nDCG@10; chosen − current default with its "
        "paired-bootstrap 95 % interval):",
        "",
        "| collection | queries | BM25 | dense | dense+instr | current default | chosen | chosen − current [95 % CI] "
        "| instruction switched − chosen [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in outcome.test.items():
        mean, low, high = row["ci"]
        switched, s_low, s_high = row["ci_instruction"]
        lines.append(
            f"| {name} | {row['queries']} | {row['BM25']:.4f} | {row['dense']:.4f} | {row['dense+instr']:.4f} | "
            f"{row['current default']:.4f} | {row['chosen']:.4f} | {mean:+.4f} [{low:+.4f}, {high:+.4f}] "
            f"| {switched:+.4f} [{s_low:+.4f}, {s_high:+.4f}] |"
        )
    return "\n".join(lines) + "\n"
