"""Entity extraction for the graph store: chunks → entities ``{key, name, type}`` and ``[head, relation, tail]``.

Extractors, by name (:data:`EXTRACTORS`): ``fast`` — no model: proper-noun phrases, acronyms and codes
(``IL-6``, ``BRCA1``), linked by co-occurrence in a chunk, as GraphRAG's fast mode does; ``llm`` — the configured
LLM with a JSON schema (grammar-constrained on the local model). Entity resolution is :func:`entity_key`: one key
for "Northwind Cycles", "northwind cycles" and "Northwind Cycles'", so duplicates merge into one node.
LLM results are cached per chunk hash (:class:`ExtractionCache`), so a re-ingest pays nothing for unchanged text.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.documents import Chunk
from rag.llms.base import LLM

EXTRACTOR_VERSION = "entities-v1"  # part of the cache key: a new prompt or rule re-extracts
MAX_ENTITIES = 24  # per chunk

# Words that start sentences or headings in capitals without naming anything.
_COMMON_WORDS = """
a about above after again against all also although an and any are as at be because been before
being below between both but by can could did do does doing down during each either every few for
from further had has have having he her here hers him his how however i if in into is it its itself
just may me might more most my neither no nor not now of off on once one only or other our ours out
over own same she should so some such than that the their theirs them then there these they this
those through thus to too under until up very was we were what when where which while who whom why
will with would yes yet you your yours figure table section chapter page note notes see total year
years results methods background conclusion conclusions introduction abstract discussion objective
objectives design setting participants question answer q a fig monday tuesday wednesday thursday
friday saturday sunday january february march april june july august september october november
december
"""
_COMMON = frozenset(_COMMON_WORDS.split())
_WORD = r"[A-Z][\w'’\-]*"
_PROPER = re.compile(rf"\b{_WORD}(?:[ \t]+(?:(?:of|de|van|von|der|for)[ \t]+)?{_WORD})*")
_TITLES = {"dr", "mr", "mrs", "ms", "prof", "sir", "st"}
_CODE = re.compile(r"\b(?=[\w\-]*\d)(?=[\w\-]*[A-Za-z])[A-Za-z][\w\-]{1,}\b|\b[A-Z]{2,}[a-z]?s?\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s|\n)[\s#*>\-\d.)]*$")


def entity_key(name: str) -> str:
    """The resolution key: casefolded, accents and punctuation dropped, possessives and plurals of words
    (not of codes) trimmed, whitespace collapsed."""
    text = re.sub(r"['’]s\b", "", name)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", text.casefold())
    trimmed = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") and w.isalpha() else w for w in words]
    return " ".join(trimmed)


@dataclass
class Extraction:
    entities: list[dict[str, str]] = field(default_factory=list)  # {"key", "name", "type"}
    relations: list[list[str]] = field(default_factory=list)  # [head key, relation, tail key]

    def add(self, name: str, type_: str) -> str | None:
        name = " ".join(name.split()).strip(" .,;:-'’\"()[]")
        key = entity_key(name)
        if not key or key in _COMMON or len(key) < 2 or key.isdigit():
            return None
        if all(e["key"] != key for e in self.entities) and len(self.entities) < MAX_ENTITIES:
            self.entities.append({"key": key, "name": name, "type": type_})
        return key if any(e["key"] == key for e in self.entities) else None

    def as_metadata(self) -> dict[str, str]:
        """What ingest puts on the chunk for the graph store (rag.stores.neo4j reads and removes it)."""
        return {"entities": json.dumps(self.entities), "relations": json.dumps(self.relations)}


class FastExtractor:
    """No model: proper-noun phrases (not a lone capitalised word that only starts a sentence), acronyms, and
    codes with digits. Relations are left to co-occurrence (chunks that mention both)."""

    name = "fast"

    def extract(self, texts: Sequence[str]) -> list[Extraction]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Extraction:
        found = Extraction()
        for match in _CODE.finditer(text):
            token = match.group(0)
            if token.casefold() not in _COMMON:
                found.add(token, "code" if any(c.isdigit() for c in token) else "acronym")
        for match in _PROPER.finditer(text):
            phrase = match.group(0)
            words = phrase.split()
            starts_sentence = bool(_SENTENCE_START.search(text[: match.start()]))
            if starts_sentence and words[0].casefold() in _COMMON:
                words = words[1:]  # "The Aurora e-bike" → "Aurora"
                while words and words[0].casefold() in {"of", "de", "van", "von", "der", "for"}:
                    words = words[1:]
                starts_sentence = False
            while words and words[0].casefold().rstrip(".") in _TITLES:
                words = words[1:]  # "Dr. Mara Lindqvist" → "Mara Lindqvist"
            if not words or (len(words) == 1 and (starts_sentence or len(words[0]) < 3)):
                continue
            if len(words) == 1 and words[0].isupper():
                continue  # an acronym: already taken above
            found.add(" ".join(words), "name")
        return found


_SCHEMA = {
    "type": "object",
    "properties": {
        "entities": {
            "type": "array",
            "maxItems": 12,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 60},
                    "type": {
                        "type": "string",
                        "enum": ["person", "organization", "place", "product", "concept", "other"],
                    },
                },
                "required": ["name", "type"],
            },
        },
        "relations": {
            "type": "array",
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {
                    "head": {"type": "string", "maxLength": 60},
                    "relation": {"type": "string", "maxLength": 30},
                    "tail": {"type": "string", "maxLength": 60},
                },
                "required": ["head", "relation", "tail"],
            },
        },
    },
    "required": ["entities", "relations"],
}
_PROMPT = (
    "Extract the named entities (people, organizations, places, products, key concepts) in the passage and the "
    "relations between them that the passage states. Use names exactly as written. Relations are short verbs "
    'in snake_case, e.g. "founded", "located_in", "part_of".\n\nPassage:\n{text}'
)


class LLMExtractor:
    """The configured LLM with a JSON schema; one call per chunk (cached by the caller)."""

    name = "llm"

    def __init__(self, llm: LLM, max_tokens: int = 400):
        self.llm = llm
        self.max_tokens = max_tokens

    def extract(self, texts: Sequence[str]) -> list[Extraction]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Extraction:
        raw = self.llm.complete_json(
            [{"role": "user", "content": _PROMPT.format(text=text[:4000])}], _SCHEMA, max_tokens=self.max_tokens
        )
        found = Extraction()
        for item in raw.get("entities") or []:
            if isinstance(item, dict) and _is_name(item.get("name")):
                found.add(item["name"], str(item.get("type") or "other"))
        for item in raw.get("relations") or []:
            if not isinstance(item, dict):
                continue
            head, tail = (
                found.add(str(item[side]), "other") if _is_name(item.get(side)) else None for side in ("head", "tail")
            )
            relation = re.sub(r"\W+", "_", str(item.get("relation", "")).strip().lower()).strip("_")[:30]
            if head and tail and head != tail and relation:
                found.relations.append([head, relation, tail])
        return found


def _is_name(value: Any) -> bool:
    """A name, not a sentence a small model copied out of the passage."""
    return isinstance(value, str) and 0 < len(value.split()) <= 6 and not value.rstrip().endswith(("?", "."))


class ExtractionCache:
    """Extractions by (extractor, model, version, chunk hash) in SQLite: a re-ingest of unchanged text is free."""

    def __init__(self, path: Path, identity: str):
        self.identity = f"{identity}|{EXTRACTOR_VERSION}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS extractions (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._lock = threading.Lock()

    def get(self, chunk_hash: str) -> Extraction | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM extractions WHERE key = ?", (f"{self.identity}|{chunk_hash}",)
            ).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return Extraction(value["entities"], value["relations"])

    def put(self, chunk_hash: str, found: Extraction) -> None:
        value = json.dumps({"entities": found.entities, "relations": found.relations})
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO extractions VALUES (?, ?)", (f"{self.identity}|{chunk_hash}", value)
            )

    def close(self) -> None:
        self._db.close()


EXTRACTORS: dict[str, Callable[..., Any]] = {
    "fast": lambda llm=None: FastExtractor(),
    "llm": lambda llm=None: LLMExtractor(llm),
}


class EntityStage:
    """Ingest's extraction stage: annotates chunks' metadata with their entities, from the cache when it can."""

    def __init__(
        self, extractor: Any, cache: ExtractionCache | None, on_extracted: Callable[[int], None] | None = None
    ):
        self.extractor = extractor
        self.cache = cache
        self.on_extracted = on_extracted or (lambda count: None)
        self.extracted = 0
        self.cached = 0

    def annotate(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            chunk_hash = str(chunk.metadata.get("chunk_hash", ""))
            found = self.cache.get(chunk_hash) if self.cache and chunk_hash else None
            if found is None:
                [found] = self.extractor.extract([chunk.text])
                if self.cache and chunk_hash:
                    self.cache.put(chunk_hash, found)
                self.extracted += 1
                self.on_extracted(1)
            else:
                self.cached += 1
            chunk.metadata.update(found.as_metadata())
