"""Milvus: Milvus Lite (a local ``.db`` file) or a Milvus server (``store.uri``), same code.

Design notes: the server needs ``consistency_level="Strong"`` for reads right after writes; Lite's
HNSW is inexact under selective filters, so ``index: AUTO`` means FLAT on Lite.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
from pydantic import Field

from rag.documents import Chunk, Hit
from rag.errors import StoreError
from rag.stores.base import Filter, StoredChunk, StoreOptions, batched, check_model

_FIELDS = ["id", "text", "source", "metadata"]


def _quiet_pymilvus() -> None:
    """pymilvus sets up its own loggers when imported (WARNING, a traceback on each reconnect attempt); our
    StoreError says what failed, so outside debug logging they stay quiet."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _reported(method):
    """A pymilvus failure in a store call (the server went away mid-run) as a StoreError saying where and how."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            if not type(exc).__module__.startswith("pymilvus"):
                raise
            message = getattr(exc, "message", None) or str(exc)
            hint = " — is the Milvus server running? (docker compose up milvus)" if self.is_server else ""
            raise StoreError(f"Milvus at {self.location} failed during {method.__name__}: {message}{hint}") from None

    return call


_PAGE = 1000


class MilvusOptions(StoreOptions):
    kind: Literal["milvus"] = "milvus"
    path: str = Field(".rag/milvus.db", description="the Milvus Lite file (when uri is not set)")
    uri: str | None = Field(None, description="Milvus server URI; None = Milvus Lite at `path`")
    token_env: str | None = Field(None, description="the NAME of the variable holding the server token")
    index: Literal["AUTO", "FLAT", "HNSW"] = "AUTO"

    def manifest_path(self) -> Path:
        if self.uri:
            parsed = urlparse(self.uri)
            return Path(".rag") / f"manifest-milvus-{parsed.hostname}-{parsed.port}-{self.collection}.sqlite"
        path = Path(self.path)
        return path.with_name(f"{path.stem}.manifest-{self.collection}.sqlite")

    def describe(self) -> str:
        where = f"the Milvus server at {self.uri}" if self.uri else f"Milvus Lite at {self.path}"
        return f"{where} · collection {self.collection}"

    def relocated(self, folder: Path, collection: str) -> MilvusOptions:
        # An evaluation never writes into a user's server: its copy is a Milvus Lite file.
        return self.model_copy(update={"path": str(folder / "milvus.db"), "uri": None, "collection": collection})


class MilvusStore:
    Options = MilvusOptions

    def __init__(
        self,
        collection: str,
        model: str,
        dimension: int,
        path: str = ".rag/milvus.db",
        uri: str | None = None,
        token_env: str | None = None,
        index: str = "AUTO",
    ):
        from pymilvus import MilvusClient

        _quiet_pymilvus()
        self.collection = collection
        self.is_server = bool(uri)
        self.path = Path(path)
        target = uri if uri else str(self.path)
        self.location = f"{target} (Milvus collection {collection!r})"
        token = os.environ.get(token_env, "") if token_env else ""
        try:
            if not self.is_server:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._client = MilvusClient(target, token=token, timeout=30)
            if not self._client.has_collection(collection):
                self._create(model, dimension, index)
        except StoreError:
            raise
        except Exception as exc:
            hint = " — is the Milvus server running? (docker compose up milvus)" if self.is_server else ""
            raise StoreError(f"could not open Milvus at {target}: {exc}{hint}") from None
        recorded_model, recorded_dim = self._recorded_model()
        check_model(self.location, recorded_model, recorded_dim, model, dimension)
        self._client.load_collection(collection)

    @classmethod
    def from_config(cls, cfg: MilvusOptions, model: str, dimension: int) -> MilvusStore:
        return cls(
            cfg.collection, model, dimension, path=cfg.path, uri=cfg.uri, token_env=cfg.token_env, index=cfg.index
        )

    def _create(self, model: str, dimension: int, index: str) -> None:
        from pymilvus import DataType, MilvusClient

        identity = {"embedding_model": model, "embedding_dim": dimension}
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=json.dumps(identity))
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("metadata", DataType.JSON)
        index_type = {"AUTO": "AUTOINDEX" if self.is_server else "FLAT"}.get(index, index)
        params = self._client.prepare_index_params()
        params.add_index("vector", index_type=index_type, metric_type="COSINE")
        self._client.create_collection(self.collection, schema=schema, index_params=params, consistency_level="Strong")
        # Lite keeps no description, so record the model as properties too; older servers reject
        # custom properties, and there the description holds it.
        with contextlib.suppress(Exception):
            self._client.alter_collection_properties(
                self.collection, properties={"rag.embedding_model": model, "rag.embedding_dim": str(dimension)}
            )

    def _recorded_model(self) -> tuple[str | None, int | None]:
        info = self._client.describe_collection(self.collection)
        properties = info.get("properties") or {}
        if "rag.embedding_model" in properties:
            return properties["rag.embedding_model"], int(properties.get("rag.embedding_dim", 0)) or None
        try:
            identity = json.loads(info.get("description") or "{}")
        except json.JSONDecodeError:
            identity = {}
        dim = next((f["params"].get("dim") for f in info.get("fields", []) if f["name"] == "vector"), None)
        return identity.get("embedding_model"), int(dim) if dim else None

    @_reported
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for part in batched(_rows(chunks, vectors), _PAGE):
            self._client.upsert(self.collection, list(part))

    @_reported
    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Chunks not stored yet (Milvus keeps duplicate keys: only for ids known to be new; see AddsNew)."""
        for part in batched(_rows(chunks, vectors), _PAGE):
            self._client.insert(self.collection, list(part))

    @_reported
    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        if ids:
            for part in batched(list(ids), _PAGE):
                self._client.delete(self.collection, ids=list(part))
        if source is not None:
            self._client.delete(self.collection, filter=f"source == {json.dumps(source)}")

    @_reported
    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[Hit]:
        result = self._client.search(
            self.collection,
            data=[np.asarray(vector, dtype=np.float32).tolist()],
            limit=k,
            filter=_expression(filter),
            output_fields=_FIELDS,
            search_params={"metric_type": "COSINE"},
        )
        return [
            Hit(
                id=row["id"],
                text=row["entity"]["text"],
                metadata=dict(row["entity"]["metadata"] or {}),
                score=float(row["distance"]),
            )
            for row in result[0]
        ]

    @_reported
    def count(self) -> int:
        result = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    @_reported
    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        fields = _FIELDS + (["vector"] if include_vectors else [])
        rows: list[dict[str, Any]] = []
        if ids is None:
            rows = self._all_rows(fields)
        else:
            for part in batched(list(ids), _PAGE):
                rows.extend(self._client.get(self.collection, ids=list(part), output_fields=fields))
        return [
            StoredChunk(
                id=row["id"],
                text=row["text"],
                metadata=dict(row["metadata"] or {}),
                vector=np.asarray(row["vector"], dtype=np.float32) if include_vectors else None,
            )
            for row in rows
        ]

    def _all_rows(self, fields: list[str]) -> list[dict[str, Any]]:
        # Page the ids by primary key (portable across Lite and server: no iterator differences), then get the
        # rows by id: Milvus Lite's filtered query returns the JSON field of other rows (seen with milvus-lite 3.2.2:
        # 32 of 35 chunks came back with another chunk's metadata), its get by ids does not.
        rows: list[dict[str, Any]] = []
        last = ""
        while True:
            page = self._client.query(
                self.collection, filter=f"id > {json.dumps(last)}", output_fields=["id"], limit=_PAGE
            )
            if not page:
                return rows
            ids = sorted(row["id"] for row in page)
            rows.extend(self._client.get(self.collection, ids=ids, output_fields=fields))
            last = ids[-1]
            if len(page) < _PAGE:
                return rows

    def close(self) -> None:
        self._client.close()


def _rows(chunks: Sequence[Chunk], vectors: np.ndarray) -> list[dict[str, Any]]:
    return [
        {
            "id": chunk.id,
            "vector": vector,
            "text": chunk.text,
            "source": str(chunk.metadata.get("source", "")),
            "metadata": chunk.metadata,
        }
        for chunk, vector in zip(chunks, np.asarray(vectors, dtype=np.float32).tolist(), strict=True)
    ]


def _expression(filter: Filter | None) -> str:
    if not filter:
        return ""
    clauses = []
    for key, value in filter.items():
        field = "source" if key == "source" else f"metadata[{json.dumps(key)}]"
        if isinstance(value, list | tuple):  # Lite has no `in` on JSON keys: spell it out
            clauses.append("(" + " or ".join(f"{field} == {json.dumps(item)}" for item in value) + ")")
        else:
            clauses.append(f"{field} == {json.dumps(value)}")
    return " and ".join(clauses)
