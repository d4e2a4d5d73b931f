"""A store kind defined outside the package: numpy brute force over one .npz + JSON file per collection.

It is what a user's plug-in looks like: one module (options + store), then ``rag.stores.register``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from rag.documents import Chunk, Hit
from rag.stores.base import Filter, StoredChunk, StoreOptions, check_model


class ToyOptions(StoreOptions):
    kind: Literal["toy"] = "toy"
    folder: str

    def manifest_path(self) -> Path:
        return Path(self.folder) / f"{self.collection}.manifest.sqlite"

    def relocated(self, folder: Path, collection: str) -> ToyOptions:
        return self.model_copy(update={"folder": str(folder / "toy"), "collection": collection})


class ToyStore:
    Options = ToyOptions

    def __init__(self, folder: str, collection: str, model: str, dimension: int):
        self.file = Path(folder) / f"{collection}.json"
        self.location = f"{self.file} (toy)"
        self.file.parent.mkdir(parents=True, exist_ok=True)
        data = (
            json.loads(self.file.read_text()) if self.file.exists() else {"model": model, "dim": dimension, "rows": {}}
        )
        check_model(self.location, data["model"], data["dim"], model, dimension)
        self.data = data

    @classmethod
    def from_config(cls, cfg: ToyOptions, model: str, dimension: int) -> ToyStore:
        return cls(cfg.folder, cfg.collection, model, dimension)

    def _save(self) -> None:
        self.file.write_text(json.dumps(self.data))

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for chunk, vector in zip(chunks, vectors, strict=True):
            self.data["rows"][chunk.id] = {
                "text": chunk.text,
                "metadata": chunk.metadata,
                "vector": list(map(float, vector)),
            }
        self._save()

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        rows = self.data["rows"]
        for key in list(rows):
            if (ids and key in ids) or (source is not None and rows[key]["metadata"].get("source") == source):
                del rows[key]
        self._save()

    def search(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[Hit]:
        def keep(metadata: dict) -> bool:
            return all(
                metadata.get(key) in (value if isinstance(value, list | tuple) else [value])
                for key, value in (filter or {}).items()
            )

        rows = [(key, row) for key, row in self.data["rows"].items() if keep(row["metadata"])]
        scored = [(float(np.dot(row["vector"], vector)), key, row) for key, row in rows]
        scored.sort(key=lambda item: -item[0])
        return [Hit(id=key, text=row["text"], score=score, metadata=row["metadata"]) for score, key, row in scored[:k]]

    def count(self) -> int:
        return len(self.data["rows"])

    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        keys = list(self.data["rows"]) if ids is None else [key for key in ids if key in self.data["rows"]]
        return [
            StoredChunk(
                key,
                self.data["rows"][key]["text"],
                self.data["rows"][key]["metadata"],
                np.asarray(self.data["rows"][key]["vector"], dtype=np.float32) if include_vectors else None,
            )
            for key in keys
        ]

    def close(self) -> None:
        pass
