"""``python -m eval retrieval``: ingest a BEIR corpus through our ingest path, run retriever configs,
report nDCG@10, recall@10/100, MRR@10 and latency per config beside the published numbers."""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.beir import REFERENCES, BeirDataset, corpus_size
from eval.ir_metrics import documents_ranked, evaluate, percentiles
from rag.config import RetrieverOptions, Settings
from rag.stores import store_options

# Named retriever configs (overrides of the config's `retriever` section); "configured" = the section as is.
PRESETS: dict[str, dict[str, Any]] = {
    "dense": {"strategy": "dense"},
    "bm25": {"strategy": "bm25"},
    # Anserini's "flat" BM25 (k1=0.9, b=0.4) over whole documents: a context window wider than any SciFact
    # abstract. (MTEB's MiniLM setup is a store option, splitter.truncate: docs/benchmarks.md.)
    "bm25_flat": {"strategy": "bm25", "store": {"bm25": {"context": 8, "k1": 0.9, "b": 0.4}}},
    "hybrid": {"strategy": "hybrid", "hybrid": {"fusion": "weighted"}},
    # Ablations of the keyword index's context window (neighbouring chunks indexed with each chunk).
    "bm25_context0": {"strategy": "bm25", "store": {"bm25": {"context": 0}}},
    "hybrid_context0": {"strategy": "hybrid", "store": {"bm25": {"context": 0}}},
    "hybrid_rrf": {"strategy": "hybrid", "hybrid": {"fusion": "rrf"}},
    "hybrid+embedding_rerank": {"strategy": "hybrid", "rerank": {"backend": "embedding", "top_n": 20}},
    "hybrid+mmr": {"strategy": "hybrid", "rerank": {"backend": "none", "mmr": True, "top_n": 20}},
    "multi_query": {"strategy": "multi_query", "base": "hybrid"},
    "multi_query_dense": {"strategy": "multi_query", "base": "dense"},
    "hyde": {"strategy": "hyde", "base": "dense"},
    "hyde_hybrid": {"strategy": "hyde", "base": "hybrid"},
    "hyde_hybrid_query2doc": {"strategy": "hyde", "base": "hybrid", "hyde": {"expand_keywords": True}},
    "fusion": {"strategy": "fusion", "base": "hybrid"},
    "fusion_dense": {"strategy": "fusion", "base": "dense"},
    "hybrid+llm_rerank": {"strategy": "hybrid", "rerank": {"backend": "llm", "mode": "listwise", "top_n": 10}},
    "hybrid+cross_encoder": {"strategy": "hybrid", "rerank": {"backend": "cross_encoder", "top_n": 50}},
    # SPLADE (learned sparse; the index is filled from the store's texts on first use when ingest did not write it)
    "sparse": {"strategy": "sparse", "store": {"sparse": {"enabled": True}}},
    "sparse_context2": {"strategy": "sparse", "store": {"sparse": {"enabled": True, "context": 2}}},
    # Graph-expanded hybrid (a graph store: --config configs/neo4j.yaml with ingest.entities.extractor: fast).
    "graph": {"strategy": "graph", "graph": {"base": "hybrid"}},
    "hybrid_sparse": {
        "strategy": "hybrid",
        "hybrid": {"weights": {"dense": 0.4, "bm25": 0.3, "sparse": 0.3}},
        "store": {"sparse": {"enabled": True}},
    },
}
DEFAULT_PRESETS = [
    "dense",
    "bm25_context0",
    "bm25",
    "bm25_flat",
    "hybrid_context0",
    "hybrid",
    "hybrid_rrf",
    "hybrid+embedding_rerank",
    "hybrid+mmr",
]
LLM_PRESETS = {name for name, p in PRESETS.items() if p["strategy"] in ("multi_query", "hyde", "fusion")} | {
    "hybrid+llm_rerank"
}


@dataclass
class ConfigResult:
    name: str
    retriever: dict[str, Any]
    metrics: dict[str, float]
    latency: dict[str, float]
    queries: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.name,
            **{key: round(value, 4) for key, value in self.metrics.items()},
            **{key: round(value, 2) for key, value in self.latency.items()},
            "queries": self.queries,
            "seconds": round(self.seconds, 1),
            "retriever": self.retriever,
            "notes": self.notes,
        }


def eval_settings(settings: Settings, dataset: BeirDataset, work: Path) -> Settings:
    """The user's config, with its store moved to a throwaway place for this dataset and the
    JSON loader reading BEIR records (title + text, `_id` kept as the record id). One store per dataset and
    per chunk-shaping settings (ingest's own fingerprint: loaders, splitter, embedding model), so evaluating
    another embedding model or chunk size never meets a store built with the first one."""
    from ingest.run import settings_fingerprint

    folder = work / dataset.name / f"{settings.store.kind}-{settings_fingerprint(settings)[:10]}"
    data = store_moved(settings, folder, re.sub(r"\W", "_", dataset.name))
    data["loaders"]["json"] = {"text_fields": ["title", "text"], "metadata_fields": [], "id_field": "_id"}
    return Settings(**data)


def store_moved(settings: Settings, store_dir: Path, collection: str) -> dict[str, Any]:
    """The settings as data, with the store (and its manifest) in `store_dir` under `collection`."""
    data = settings.model_dump(by_alias=True)
    data["store"] = settings.store.relocated(store_dir, collection).model_dump()
    data["ingest"]["manifest"] = None
    return data


def preset_settings(settings: Settings, name: str, rerank_model: str | None) -> tuple[Settings, dict | None]:
    """The settings a named config runs with (retriever and store.bm25 overrides), and its search filter."""
    if name == "configured":
        return settings, None
    preset = dict(PRESETS[name])
    store_override = preset.pop("store", None)
    search_filter = preset.pop("filter", None)
    merged = _merge(settings.retriever.model_dump(), preset)
    if name == "hybrid+cross_encoder" and rerank_model:
        merged["rerank"]["model"] = rerank_model
    update: dict[str, Any] = {"retriever": RetrieverOptions(**merged)}
    if store_override:
        update["store"] = store_options(_merge(settings.store.model_dump(), store_override))
    return settings.model_copy(update=update), search_filter


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def sample_queries(dataset: BeirDataset, limit: int | None, seed: int = 13) -> list[str]:
    ids = sorted(dataset.queries)
    if limit and limit < len(ids):
        ids = sorted(random.Random(seed).sample(ids, limit))
    return ids


def run_config(
    name: str,
    retriever: Any,
    dataset: BeirDataset,
    query_ids: list[str],
    depth: int,
    docs: int = 100,
    on_query: Callable[[], None] | None = None,
    latency_k: int = 10,
    search_filter: dict | None = None,
    before_timing: Callable[[], None] | None = None,
) -> tuple[dict[str, list[str]], list[float]]:
    """Retrieve `depth` chunks per query → rankings of distinct documents; then time a second call
    at `latency_k` (what an answer asks for; LLM rewrites come from the cache by then)."""
    run: dict[str, list[str]] = {}
    latencies: list[float] = []
    for query_id in query_ids:
        hits = retriever.retrieve(dataset.queries[query_id], depth, search_filter)
        run[query_id] = documents_ranked(hits, limit=docs)
        if before_timing:
            before_timing()  # e.g. drop the cached query vector, so the timed call embeds the query again
        started = time.perf_counter()
        retriever.retrieve(dataset.queries[query_id], latency_k, search_filter)
        latencies.append(time.perf_counter() - started)
        if on_query:
            on_query()
    return run, latencies


def chunk_depth(chunks: int, documents: int, docs: int = 100) -> int:
    """Chunks to fetch so that about `docs` distinct documents come back (MaxP collapses the rest)."""
    per_doc = chunks / max(documents, 1)
    return max(docs, min(10 * docs, math.ceil(docs * per_doc * 1.25)))


def evaluate_config(
    name: str,
    cfg: RetrieverOptions,
    run: dict[str, list[str]],
    latencies: list[float],
    dataset: BeirDataset,
    seconds: float,
) -> ConfigResult:
    qrels = {q: dataset.qrels[q] for q in run}
    return ConfigResult(
        name=name,
        retriever=cfg.model_dump(exclude_defaults=True),
        metrics=evaluate(run, qrels),
        latency=percentiles(latencies),
        queries=len(run),
        seconds=seconds,
    )


def markdown_table(results: list[ConfigResult], dataset: BeirDataset, header: str = "") -> str:
    lines = [header] if header else []
    lines += [
        "| config | nDCG@10 | R@10 | R@100 | MRR@10 | p50 ms | p95 ms | queries | run s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, lat = r.metrics, r.latency
        lines.append(
            f"| {r.name} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | {m['recall@100']:.4f} | {m['mrr@10']:.4f} "
            f"| {lat['p50_ms']:.1f} | {lat['p95_ms']:.1f} | {r.queries} | {r.seconds:.0f} |"
        )
    lines += [
        "",
        "Latency: one `retrieve(query, k=10)` per query after the evaluated call (LLM rewrites cached by then);"
        " run s: the whole config, LLM calls included.",
    ]
    references = REFERENCES.get(dataset.name, [])
    if references:
        lines += [
            "",
            "Published reference numbers (full test split):",
            "",
            "| system | nDCG@10 | R@100 |",
            "|---|---|---|",
        ]
        for ref in references:
            lines.append(f"| {ref['system']} | {ref['ndcg@10']} | {ref.get('recall@100', '–')} |")
    return "\n".join(lines) + "\n"


__all__ = ["DEFAULT_PRESETS", "LLM_PRESETS", "PRESETS", "corpus_size"]
