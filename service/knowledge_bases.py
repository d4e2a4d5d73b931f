"""Knowledge bases: named collections, each its own store collection with its own manifest, keyword and side
indexes and uploads folder, and its own access rules — the groups that may read it and the groups that may write
(upload, delete) in it.

Because a knowledge base is a separate collection, every retrieval strategy (dense, BM25, SPLADE, hybrid, the LLM
rewrites, rerank, graph expansion, text-to-Cypher, self-query, the router) searches only the knowledge base it was
built for: a principal who may not read a knowledge base never gets a retriever over it, so nothing of it can reach
hits, contexts, citations, traces or errors. ``default`` is the configured store as it is (the routes without
``/kb/``); the registry (``server.knowledge_bases``, JSON) keeps the others and the rules of all.

    python -m rag kb create hr --read hr --write hr-admins
    python -m ingest policies/ --kb hr
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.config import DEFAULT_KB as DEFAULT
from rag.config import Settings
from rag.config import knowledge_base_settings as kb_settings
from rag.errors import ConfigError, RagError
from service.identity import Principal

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")


class Forbidden(RagError):
    """The principal may not do this in this knowledge base (HTTP 403)."""


class UnknownKnowledgeBase(RagError):
    """No such knowledge base (HTTP 404)."""


class KnowledgeBases:
    """The registry: ``{"knowledge_bases": {name: {read: [groups], write: [groups], created}}}``. ``default`` is
    always there; without a rule of its own, everyone who is authenticated may read it and only admins write."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("knowledge_bases", {})
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"the knowledge base registry {self.path} cannot be read ({exc})") from None

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"knowledge_bases": data}, indent=2), encoding="utf-8")
        temporary.replace(self.path)

    def all(self) -> dict[str, dict[str, Any]]:
        known = self._read()
        return {DEFAULT: known.get(DEFAULT, {"read": ["*"], "write": [], "created": None}), **known}

    def rule(self, name: str) -> dict[str, Any]:
        known = self.all()
        if name not in known:
            raise UnknownKnowledgeBase(f"no knowledge base {name!r}; `python -m rag kb list` shows them")
        return known[name]

    def create(self, name: str, read: list[str], write: list[str]) -> dict[str, Any]:
        if not _NAME.match(name):
            raise ConfigError(f"knowledge base name {name!r}: lower-case letters, digits and '_', at most 32")
        with self._lock:
            known = self._read()
            if name in known and name != DEFAULT:
                raise ConfigError(f"the knowledge base {name!r} exists; delete it first or choose another name")
            known[name] = {
                "read": sorted(set(read)),
                "write": sorted(set(write)),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            self._write(known)
            return known[name]

    def delete(self, name: str, settings: Settings) -> None:
        """Remove the rule and the knowledge base's collection, manifest and indexes."""
        if name == DEFAULT:
            raise ConfigError("the default knowledge base is the configured store; it cannot be deleted")
        with self._lock:
            known = self._read()
            if name not in known:
                raise UnknownKnowledgeBase(f"no knowledge base {name!r}")
            drop_store(kb_settings(settings, name))
            del known[name]
            self._write(known)

    def may_read(self, principal: Principal, name: str) -> bool:
        rule = self.rule(name)
        return principal.admin or "*" in rule["read"] or bool(principal.groups & set(rule["read"]))

    def may_write(self, principal: Principal, name: str) -> bool:
        rule = self.rule(name)
        return principal.admin or bool(principal.groups & set(rule["write"]))

    def readable(self, principal: Principal) -> list[str]:
        return [name for name in self.all() if self.may_read(principal, name)]

    def check(self, principal: Principal, name: str, write: bool = False) -> None:
        """Raise Forbidden (or UnknownKnowledgeBase) unless `principal` may read (or write) `name`. A reader of
        nothing learns nothing: an unreadable knowledge base answers like an unknown one would, 403."""
        allowed = self.may_write(principal, name) if write else self.may_read(principal, name)
        if not allowed:
            action = "write to" if write else "read"
            raise Forbidden(f"{principal.name} may not {action} the knowledge base {name!r}")


def drop_store(settings: Settings) -> None:
    """Delete a knowledge base's chunks (every source in its manifest), then its manifest and keyword indexes."""
    from ingest.manifest import read_sources
    from rag.embeddings import build_embedder
    from rag.stores import build_store

    manifest = settings.store.manifest_path()
    embedder = build_embedder(settings.embedding)
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        if manifest.exists():
            for source, *_ in read_sources(manifest):
                store.delete(source=source)
    finally:
        store.close()
    import shutil

    for path in (manifest, settings.store.keyword_index_path(), settings.store.sparse_index_path()):
        stem = path.name.removesuffix(".sqlite")
        for leftover in [*path.parent.glob(f"{stem}.sqlite*"), *path.parent.glob(f"{stem}.*.bm25s")]:
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)
