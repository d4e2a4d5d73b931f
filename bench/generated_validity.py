"""Does the generated test set rank retrieval configurations as the human questions do? (issue 28's validity study)

    .venv/bin/python bench/generated_validity.py --collection scifact --generated sets/scifact-gen.jsonl

The collection's store is the one `python -m eval retrieval` builds under .rag/eval/ (ingested here when missing);
the generated set must come from that store (`python -m eval generate` on the same corpus, or this script's
`--generate N`). Each configuration (eval.retrieval.PRESETS, no LLM) is scored on the human test questions and on
the generated ones; Kendall's τ between the two orderings per metric, with 95 % bootstrap intervals.
`--split train` compares with the human train questions instead (SciFact: 809 claims), to tune a generator change
without looking at the test claims the report quotes. `--chunk-sizes 128` adds dense, BM25 and hybrid over a
store cut into 128-token chunks (ingested once, cached).
The JSON written under --out holds each configuration's per-question scores on both sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from eval.retrieval import DEFAULT_PRESETS  # noqa: E402

CONFIGS = ["configured", *DEFAULT_PRESETS]  # the retrieval presets `python -m eval retrieval` runs
MEASURES = ("ndcg@10", "recall@10", "mrr@10", "recall@100")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default="scifact", help="scifact, tatqa or cranfield (eval/collections.py)")
    parser.add_argument("--generated", type=Path, required=True, help="the generated JSONL (written with --generate)")
    parser.add_argument("--generate", type=int, default=0, help="first generate this many with the configured LLM")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--kinds", default="", help="the generated kinds' mix, e.g. fact=0.5,finding=0.5")
    parser.add_argument(
        "--chunk-sizes",
        default="",
        help="also score dense, bm25 and hybrid over stores cut into chunks of these sizes (tokens), e.g. 128",
    )
    parser.add_argument(
        "--split", default="test", help="the human questions' split: test (the report's), or train to tune against"
    )
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    options = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from eval.beir import load_beir
    from eval.collections import prepare
    from eval.ir_metrics import per_query
    from eval.retrieval import chunk_depth, eval_settings, preset_settings, run_config
    from eval.validity import agreement, generated_dataset
    from ingest.run import ingest
    from rag.config import load_config
    from rag.console import setup_environment
    from rag.embeddings import build_embedder
    from rag.retrievers import build_retriever
    from rag.stores import build_store

    setup_environment()
    console = Console(width=160)
    folder = prepare(options.collection, REPO.parent / "shared" / "datasets", REPO / ".rag" / "eval")
    human = load_beir(folder, options.split)
    settings = eval_settings(load_config(), human, REPO / ".rag" / "eval")
    embedder = build_embedder(settings.embedding)
    ingest([human.corpus], settings, embedder=embedder)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    if options.generate:
        from eval.generate import generate, parse_shares
        from rag.llms import build_llm

        llm = build_llm(settings.llm)
        shares = parse_shares(options.kinds)
        summary = generate(store.get(), llm, options.generated, options.generate, embedder=embedder, shares=shares)
        console.print(f"generated: {json.dumps(summary.as_dict())}")
    generated = generated_dataset(options.generated, store)  # its gold chunks' records: the same in any store
    scores: dict[str, dict] = {"human": {}, "generated": {}}
    started = time.perf_counter()

    def score(store_settings, store, names: list[str], suffix: str = "") -> None:
        documents = len({c.metadata.get("record_id") for c in store.get()})
        depth = chunk_depth(store.count(), documents)
        for name in names:
            run_settings, search_filter = preset_settings(store_settings, name, None)
            retriever = build_retriever(run_settings, embedder=embedder, store=store)
            for label, dataset in (("human", human), ("generated", generated)):
                queries = sorted(dataset.queries)
                run, _ = run_config(name, retriever, dataset, queries, depth, search_filter=search_filter)
                scores[label][name + suffix] = per_query(run, dataset.qrels)
            console.print(f"{name}{suffix}: {time.perf_counter() - started:.0f} s", style="dim")

    score(settings, store, [c.strip() for c in options.configs.split(",") if c.strip()])
    store.close()
    for size in [int(s) for s in options.chunk_sizes.split(",") if s.strip()]:
        config = load_config()
        config.splitter.chunk_size = size
        sized = eval_settings(config, human, REPO / ".rag" / "eval")
        ingest([human.corpus], sized, embedder=embedder)
        sized_store = build_store(sized.store, embedder.name, embedder.dimension)
        score(sized, sized_store, ["dense", "bm25", "hybrid"], f"@{size}")
        sized_store.close()

    counts = f"{len(human.queries)} human ({options.split}) vs {len(generated.queries)} generated"
    table = Table(title=f"{options.collection}: {counts}")
    table.add_column("config")
    for measure in MEASURES:
        table.add_column(f"human {measure}", justify="right")
        table.add_column(f"gen {measure}", justify="right")
    for name in scores["human"]:
        row = []
        for measure in MEASURES:
            for label in ("human", "generated"):
                values = scores[label][name][measure]
                row.append(f"{sum(values.values()) / len(values):.3f}")
        table.add_row(name, *row)
    console.print(table)
    results = {"collection": options.collection, "split": options.split, "human": len(human.queries)}
    results["generated"] = len(generated.queries)
    for measure in MEASURES:
        found = agreement(scores["human"], scores["generated"], measure, options.rounds)
        console.print(
            f"Kendall τ ({measure}, {found.configs} configs): {found.tau:.3f}  [95 % bootstrap {found.low:.3f}, "
            f"{found.high:.3f}]"
        )
        results[measure] = vars(found)
    results["per_query"] = scores  # {set: {config: {measure: {query: value}}}}, for reading which questions disagree
    results["means"] = {
        label: {name: {m: sum(v[m].values()) / len(v[m]) for m in MEASURES} for name, v in scores[label].items()}
        for label in scores
    }
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / f"validity_{options.collection}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
