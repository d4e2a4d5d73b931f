"""Search with the configured retriever (or a named strategy): the chunks, no answer."""

from __future__ import annotations

from typing import Any

from rag.config import Settings
from rag.documents import Hit
from rag.embeddings import Embedder, build_embedder
from rag.errors import StoreError
from rag.stores import Filter, build_store


def search(
    settings: Settings,
    query: str,
    k: int = 5,
    filter: Filter | None = None,
    embedder: Embedder | None = None,
    strategy: str | None = None,
) -> list[Hit]:
    """Top-k chunks for `query` from the configured store, by `retriever.strategy` (or `strategy`)."""
    return search_traced(settings, query, k, filter, embedder, strategy)[0]


def search_traced(
    settings: Settings,
    query: str,
    k: int = 5,
    filter: Filter | None = None,
    embedder: Embedder | None = None,
    strategy: str | None = None,
) -> tuple[list[Hit], dict[str, Any]]:
    """The hits and what the strategy did (its rewrites, HyDE passage, the scores of each stage)."""
    from rag.retrievers import build_retriever

    if strategy:
        settings = settings.model_copy(
            update={"retriever": settings.retriever.model_copy(update={"strategy": strategy})}
        )
    embedder = embedder or build_embedder(settings.embedding)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        if store.count() == 0:
            raise StoreError(f"the store {store.location} is empty — run `python -m ingest PATH` first")
        return build_retriever(settings, embedder=embedder, store=store).run(query, k, filter)
    finally:
        store.close()


def dense_search(
    settings: Settings, query: str, k: int = 5, filter: Filter | None = None, embedder: Embedder | None = None
) -> list[Hit]:
    """Top-k chunks by embedding similarity alone."""
    return search(settings, query, k, filter, embedder, strategy="dense")


def parse_filters(pairs: list[str]) -> Filter:
    """`key=value` pairs to a filter; numbers become numbers, a repeated key means any of its values."""
    result: Filter = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise StoreError(f"filter {pair!r} is not key=value (e.g. --filter source=guide.pdf)")
        value: str | int | float = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        if key in result:
            previous = result[key]
            result[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[key] = value
    return result
