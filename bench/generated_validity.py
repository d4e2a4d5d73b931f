"""Does the generated test set rank retrieval configurations as the human questions do? (issue 28's validity study)

    .venv/bin/python bench/generated_validity.py --collection scifact --generated sets/scifact-gen.jsonl

The collection's store is the one `python -m eval retrieval` builds under .rag/eval/ (ingested here when missing);
the generated set must come from that store (`python -m eval generate` on the same corpus, or this script's
`--generate N`). Each configuration (eval.retrieval.PRESETS, no LLM) is scored on the human test questions and on
the generated ones; Kendall's τ between the two orderings per metric, with 95 % bootstrap intervals.
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
    human = load_beir(prepare(options.collection, REPO.parent / "shared" / "datasets", REPO / ".rag" / "eval"))
    settings = eval_settings(load_config(), human, REPO / ".rag" / "eval")
    embedder = build_embedder(settings.embedding)
    ingest([human.corpus], settings, embedder=embedder)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    if options.generate:
        from eval.generate import generate
        from rag.llms import build_llm

        llm = build_llm(settings.llm)
        summary = generate(store.get(), llm, options.generated, options.generate, embedder=embedder)
        console.print(f"generated: {json.dumps(summary.as_dict())}")
    generated = generated_dataset(options.generated, store)
    documents = len({c.metadata.get("record_id") for c in store.get()})
    depth = chunk_depth(store.count(), documents)
    scores: dict[str, dict] = {"human": {}, "generated": {}}
    started = time.perf_counter()
    for name in [c.strip() for c in options.configs.split(",") if c.strip()]:
        run_settings, search_filter = preset_settings(settings, name, None)
        retriever = build_retriever(run_settings, embedder=embedder, store=store)
        for label, dataset in (("human", human), ("generated", generated)):
            run, _ = run_config(name, retriever, dataset, sorted(dataset.queries), depth, search_filter=search_filter)
            scores[label][name] = per_query(run, dataset.qrels)
        console.print(f"{name}: {time.perf_counter() - started:.0f} s", style="dim")
    store.close()

    table = Table(title=f"{options.collection}: {len(human.queries)} human vs {len(generated.queries)} generated")
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
    results = {"collection": options.collection, "human": len(human.queries), "generated": len(generated.queries)}
    for measure in MEASURES:
        found = agreement(scores["human"], scores["generated"], measure, options.rounds)
        console.print(
            f"Kendall τ ({measure}, {found.configs} configs): {found.tau:.3f}  [95 % bootstrap {found.low:.3f}, "
            f"{found.high:.3f}]"
        )
        results[measure] = vars(found)
    results["means"] = {
        label: {name: {m: sum(v[m].values()) / len(v[m]) for m in MEASURES} for name, v in scores[label].items()}
        for label in scores
    }
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / f"validity_{options.collection}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
