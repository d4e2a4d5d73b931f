"""The judge: our LLM and embedder behind ragas' interfaces, with a call cache and honest failure counts.

Ragas' prompts state the JSON schema of the answer they want. `JudgeLLM` lifts that schema out of the
prompt and asks the backend for JSON matching it (a llama.cpp grammar for the local model, `json_schema`
response format for a server), so a 0.5B model stays parseable. Every call is cached in SQLite keyed by
(judge model, prompt, sample number), so `--resume` never re-asks the judge for finished work.

Failures are kept apart: a server failure (unreachable, HTTP error, timeout) is an *error* that makes the
run exit 2; an answer that does not parse is a *parse failure* that leaves that metric NaN for the sample.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["RAGAS_DO_NOT_TRACK"] = "true"  # before ragas is first imported: no telemetry POST per call

from langchain_core.outputs import Generation, LLMResult
from ragas.embeddings.base import BaseRagasEmbeddings
from ragas.llms.base import BaseRagasLLM

from rag.embeddings.base import Embedder
from rag.errors import LLMError, LLMServerError
from rag.llms.base import LLM

_SCHEMA_MARKER = "following schema as specified in JSON Schema:\n"


def schema_in_prompt(prompt: str) -> dict[str, Any] | None:
    """The JSON schema a ragas PydanticPrompt embeds in its text (None for free-text prompts)."""
    start = prompt.find(_SCHEMA_MARKER)
    if start < 0:
        return None
    try:
        schema, _ = json.JSONDecoder().raw_decode(prompt, start + len(_SCHEMA_MARKER))
    except json.JSONDecodeError:
        return None
    return bounded(schema) if isinstance(schema, dict) else None


def bounded(schema: Any, max_string: int = 600, max_items: int = 24) -> Any:
    """The schema with bounds a small model needs: strings and arrays capped (no endless loops), arrays
    non-empty (a grammar allows `[]`, and a 0.5B model takes that way out, leaving the metric NaN)."""
    if isinstance(schema, list):
        return [bounded(item, max_string, max_items) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: bounded(value, max_string, max_items) for key, value in schema.items()}
    if out.get("type") == "string" and "enum" not in out:
        out.setdefault("maxLength", max_string)
    if out.get("type") == "array":
        out.setdefault("maxItems", max_items)
        out.setdefault("minItems", 1)
    return out


class JudgeCache:
    """(key → answer text) in SQLite; safe to share between the threads of one process."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, text TEXT NOT NULL)")
            self._db.commit()

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> str | None:
        if self._db is None:
            return None
        with self._lock:
            row = self._db.execute("SELECT text FROM calls WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        if self._db is None:
            return
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (key, text))
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class JudgeStats:
    calls: int = 0  # answered by the model
    cached: int = 0  # answered from the cache
    parse_failures: int = 0
    errors: list[str] = field(default_factory=list)  # server failures: the run is not valid

    @property
    def total(self) -> int:
        return self.calls + self.cached

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cached": self.cached,
            "parse_failures": self.parse_failures,
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
        }


class JudgeLLM(BaseRagasLLM):
    """A ragas LLM backed by one of our LLM backends (temperature 0 for the first sample of a prompt)."""

    def __init__(
        self,
        llm: LLM,
        cache: JudgeCache | None = None,
        max_tokens: int = 768,
        on_call: Any = None,
    ):
        super().__init__()
        self.llm = llm
        self.cache = None  # ragas' own cacher: off, ours below knows the model and the sample number
        self.judge_cache = cache or JudgeCache(None)
        self.max_tokens = max_tokens
        self.stats = JudgeStats()
        self.on_call = on_call  # called after every answered call (progress bars)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.llm.name

    def _one(self, prompt: str, index: int) -> str:
        schema = schema_in_prompt(prompt)
        key = self.judge_cache.key(self.llm.name, prompt, index)
        cached = self.judge_cache.get(key)
        if cached is not None:
            with self._lock:
                self.stats.cached += 1
            self._notify()
            return cached
        messages = [{"role": "user", "content": prompt}]
        # Sample 0 is greedy; further samples (ragas asks for n > 1 in answer relevancy) vary a little.
        temperature = 0.0 if index == 0 else 0.3
        try:
            if schema is not None:
                text = json.dumps(
                    self.llm.complete_json(messages, schema, max_tokens=self.max_tokens, temperature=temperature)
                )
            else:
                text = self.llm.complete(messages, max_tokens=self.max_tokens, temperature=temperature).text
        except LLMServerError as exc:
            with self._lock:
                self.stats.errors.append(str(exc))
            raise
        except LLMError:
            with self._lock:
                self.stats.parse_failures += 1
            raise
        with self._lock:
            self.stats.calls += 1
        self.judge_cache.put(key, text)
        self._notify()
        return text

    def _notify(self) -> None:
        if self.on_call is not None:
            self.on_call()

    def generate_text(self, prompt, n=1, temperature=0.01, stop=None, callbacks=None) -> LLMResult:
        text = prompt.to_string()
        return LLMResult(generations=[[Generation(text=self._one(text, i)) for i in range(n)]])

    async def agenerate_text(self, prompt, n=1, temperature=0.01, stop=None, callbacks=None) -> LLMResult:
        return await asyncio.to_thread(self.generate_text, prompt, n, temperature, stop, callbacks)

    def is_finished(self, response: LLMResult) -> bool:
        return True  # truncation is handled by the backend (retried with more room, else LLMError)

    def __repr__(self) -> str:
        return f"JudgeLLM({self.llm.name})"


class JudgeEmbeddings(BaseRagasEmbeddings):
    """A ragas embeddings object backed by our embedder (answer relevancy compares questions with it)."""

    def __init__(self, embedder: Embedder):
        super().__init__()
        self.embedder = embedder

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.embed_query(text)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embedder.embed_documents(texts)]

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed_query, text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_documents, texts)
