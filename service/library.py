"""The documents in a store, as apps see them: list, upload (checked, sanitised, ingested), delete.

Uploads are written to `<uploads.dir>/uploads/<name>` and ingested from `<uploads.dir>` through the same
ingest code and manifest as `python -m ingest`, so they are incremental and crash-safe, and their source
ids (`library/uploads/<name>`) never collide with files ingested from elsewhere. Two uploads whose names
clean to the same stored name never overwrite each other: the second is stored as `name (2).ext` and the
outcome says so (a sidecar `.names.json` remembers each stored file's original name). One writer at a time:
a process lock here, the manifest's file lock across processes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.manifest import manifest_file
from rag.config import Settings
from rag.embeddings.base import Embedder
from rag.errors import RagError, StoreError
from rag.stores import VectorStore
from rag.stores.restricted import ACCESS_FIELD, Restriction, key_groups

UPLOAD_FOLDER = "uploads"
_WRITE_LOCK = threading.Lock()
_UNSAFE = re.compile(r"[^\w.() +-]+")


class UploadRejected(RagError):
    """An upload that is refused before anything is written (name, type or size)."""

    exit_code = 1


def safe_name(name: str) -> str:
    """The name an upload is stored under. A name carrying a path (`../x`, `a/b`, `C:\\x`) is refused,
    not trimmed; other odd characters become `_`."""
    if not name or "\x00" in name:
        raise UploadRejected("an uploaded file has no name")
    if "/" in name or "\\" in name or name in (".", "..") or re.match(r"^[A-Za-z]:", name):
        raise UploadRejected(f"{name!r}: a file name with a path is not allowed (uploads are stored by name only)")
    cleaned = unicodedata.normalize("NFKC", name)
    cleaned = _UNSAFE.sub("_", cleaned).strip(" .")
    if not cleaned or cleaned.startswith("."):
        raise UploadRejected(f"{name!r}: not a usable file name")
    stem, dot, suffix = cleaned.rpartition(".")
    if dot and len(cleaned) > 120:
        cleaned = f"{stem[: 119 - len(suffix)]}.{suffix}"
    return cleaned[:120]


@dataclass
class LibraryEntry:
    """One indexed file as the library lists it (not a parsed rag.documents.Document)."""

    id: str  # the source id in the manifest (path under its ingest root)
    path: str
    chunks: int
    ingested_at: str
    uploaded: bool
    access: str = "*"  # who may read it within the knowledge base (rag/stores/restricted.py)

    @property
    def groups(self) -> list[str]:
        """The groups that may read it; [] for everyone who may read the knowledge base."""
        return sorted(key_groups(self.access)) if self.access else []


@dataclass
class UploadOutcome:
    ingested: list[dict[str, Any]] = field(default_factory=list)  # {file, id, chunks, status[, stored_as]}
    failed: list[dict[str, str]] = field(default_factory=list)  # {file, reason}: refused or unreadable

    def to_dict(self) -> dict[str, Any]:
        return {"ingested": self.ingested, "failed": self.failed}


class Library:
    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self._embedder = embedder  # shared with the app's pipeline; built on first write otherwise
        self.root = Path(settings.uploads.dir)
        self.folder = self.root / UPLOAD_FOLDER
        self.manifest = manifest_file(settings)

    # -- reading (no lock: the manifest is SQLite in WAL mode, readable while an ingest writes) ---------

    def documents(self, restriction: Restriction | None = None) -> list[LibraryEntry]:
        """The indexed documents (those `restriction`'s reader may see)."""
        from ingest.manifest import read_access, read_sources

        uploads = self.folder.resolve()
        try:
            rows = read_sources(self.manifest)
            access = read_access(self.manifest)[0]
        except sqlite3.Error as exc:
            raise StoreError(f"could not read the ingest manifest {self.manifest}: {exc}") from None
        entries = [
            LibraryEntry(source, path, chunks, at, uploads in Path(path).resolve().parents, access.get(source, ""))
            for source, path, chunks, at in rows
        ]
        return [e for e in entries if restriction is None or restriction.allows({ACCESS_FIELD: e.access})]

    def restriction(self, groups: frozenset[str], admin: bool = False) -> Restriction | None:
        """What a reader in `groups` may see here (None: every document)."""
        from ingest.manifest import read_access, read_sources

        if admin:
            return None
        try:
            by_source, known = read_access(self.manifest)
            chunks: dict[str, int] = {}
            for source, _, count, _ in read_sources(self.manifest):
                chunks[by_source.get(source, "")] = chunks.get(by_source.get(source, ""), 0) + count
            return Restriction.of(groups, known, chunks=chunks)
        except sqlite3.Error as exc:
            raise StoreError(f"could not read the ingest manifest {self.manifest}: {exc}") from None

    def parts(self, document_id: str, store: VectorStore) -> list[str]:
        """The places a document's chunks come from, in file order and each once: "slide 2", "sheet Sales, rows
        2-21", "attachment terms.pdf · page 3", "page 4 (OCR)" ([] for a file with no parts, such as a note)."""
        from ingest.manifest import read_chunk_ids
        from rag.documents import part

        try:
            chunks = store.get(read_chunk_ids(self.manifest, document_id)) if document_id else []
        except Exception as exc:  # the store is down: the table still shows, this detail says why not
            raise StoreError(f"could not read the parts of {document_id}: {exc}") from None
        seen: dict[str, None] = {}
        for chunk in sorted(chunks, key=lambda c: int(c.metadata.get("chunk_index", 0))):
            place = part(chunk.metadata)
            if place:
                seen.setdefault(place + (" (OCR)" if chunk.metadata.get("ocr") else ""), None)
        return list(seen)

    def stats(self, restriction: Restriction | None = None) -> dict[str, Any]:
        documents = self.documents(restriction)
        return {
            "documents": len(documents),
            "chunks": sum(d.chunks for d in documents),
            "last_ingest": max((d.ingested_at for d in documents), default=None),
        }

    # -- writing ----------------------------------------------------------------------------------------

    def accepted_types(self) -> list[str]:
        """The extensions an upload may have: uploads.types, or every type the loaders read (one list for the
        app, the API and ingest)."""
        from ingest.loaders import REGISTRY

        configured = self.settings.uploads.types
        return sorted({t.lower() for t in configured}) if configured is not None else sorted(REGISTRY)

    def check(self, name: str, size: int) -> str:
        """The stored name of an upload, or UploadRejected with the reason (type, size, path)."""
        stored = safe_name(name)
        suffix = Path(stored).suffix.lower()
        allowed = self.accepted_types()
        if suffix not in allowed:
            raise UploadRejected(f"{name}: type {suffix or '(none)'} is not accepted; allowed: {' '.join(allowed)}")
        limit = self.settings.uploads.max_file_mb
        if size > limit * 1024 * 1024:
            raise UploadRejected(
                f"{name}: {size / 1024 / 1024:.1f} MB is over the {limit:g} MB limit (uploads.max_file_mb)"
            )
        return stored

    def add(
        self, files: list[tuple[str, bytes]], progress: Any = None, groups: list[str] | None = None
    ) -> UploadOutcome:
        """Store the acceptable files and ingest them; every refusal or failure is reported by name. `groups`: only
        they may read these files, within the knowledge base (None: as before, else everyone)."""
        from ingest.run import ingest

        outcome = UploadOutcome()
        if len(files) > self.settings.uploads.max_files:
            raise UploadRejected(f"{len(files)} files in one upload; the limit is {self.settings.uploads.max_files}")
        accepted: dict[str, str] = {}  # relative path under the library root → the name the user gave
        with _WRITE_LOCK:
            self.folder.mkdir(parents=True, exist_ok=True)
            originals = self._originals()
            for name, data in files:
                try:
                    stored = self._unique(self.check(name, len(data)), name, originals)
                except UploadRejected as exc:  # refused before anything is written: its type, size or name
                    outcome.failed.append({"file": name, "reason": str(exc), "refused": True})
                    continue
                target = self.folder / stored
                if target.resolve().parent != self.folder.resolve():  # belt and braces after safe_name
                    outcome.failed.append({"file": name, "reason": "refused: it would be stored outside the uploads"})
                    continue
                partial = target.with_name(f".{stored}.part")
                partial.write_bytes(data)
                partial.replace(target)  # atomic: ingest never sees half a file
                originals[stored] = name
                accepted[f"{UPLOAD_FOLDER}/{stored}"] = name
            self._save_originals(originals)
            if not accepted:
                return outcome
            chosen = groups if groups else None
            report = ingest(
                [self.root],
                self.settings,
                progress=progress,
                on_plan=getattr(progress, "plan", None),
                embedder=self.embedder,
                access=lambda file: chosen if file.source.partition("/")[2] in accepted else None,
            )
        for result in report.files:
            relative = result.source.partition("/")[2]  # the source id without the library's root label
            if relative not in accepted:
                continue
            name = accepted[relative]
            if result.status == "failed":
                outcome.failed.append({"file": name, "reason": result.reason})
                (self.root / relative).unlink(missing_ok=True)  # not in the library: do not keep it
                continue
            entry = {"file": name, "id": result.source, "chunks": result.chunks, "status": result.status}
            stored = relative.partition("/")[2]
            if stored != safe_name(name):
                entry["stored_as"] = stored
                entry["note"] = f"stored as {stored!r}: another upload already has the name {safe_name(name)!r}"
            outcome.ingested.append(entry)
        return outcome

    # -- stored names ------------------------------------------------------------------------------------

    @property
    def _names_file(self) -> Path:
        return self.folder / ".names.json"  # hidden: never ingested (loaders.exclude)

    def _originals(self) -> dict[str, str]:
        """Stored name → the name it was uploaded as (files stored before this record: their own name)."""
        try:
            recorded = json.loads(self._names_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        present = {p.name for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")}
        return {name: recorded.get(name, name) for name in present}

    def _save_originals(self, originals: dict[str, str]) -> None:
        partial = self._names_file.with_suffix(".part")
        partial.write_text(json.dumps(originals, ensure_ascii=False, indent=1), encoding="utf-8")
        partial.replace(self._names_file)

    @staticmethod
    def _unique(stored: str, original: str, originals: dict[str, str]) -> str:
        """`stored`, or `stem (2).ext`, `stem (3).ext`… when that name holds another original's upload (the same
        original name again replaces its own file: an update)."""
        if originals.get(stored, original) == original:
            return stored
        stem, dot, suffix = stored.rpartition(".")
        if not dot:
            stem, suffix = stored, ""
        number = 2
        while True:
            candidate = f"{stem} ({number}){dot}{suffix}"
            if originals.get(candidate, original) == original:
                return candidate
            number += 1

    def delete(self, document_id: str) -> LibraryEntry:
        """Remove a document's chunks (vectors and keyword index) and its manifest entry through ingest's own
        crash-safe removal; an upload's file too."""
        from ingest.run import remove

        with _WRITE_LOCK:
            found = {d.id: d for d in self.documents()}.get(document_id)
            if found is None:
                raise KeyError(document_id)
            remove([document_id], self.settings, embedder=self.embedder)
            if found.uploaded:
                Path(found.path).unlink(missing_ok=True)
        return found

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from rag.embeddings import build_embedder

            self._embedder = build_embedder(self.settings.embedding)
        return self._embedder
