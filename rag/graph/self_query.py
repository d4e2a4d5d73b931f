"""Self-query: the LLM turns a question into a search query plus a metadata filter over the fields the store
really has ("invoices from 2023 in the PDFs" → query "invoices 2023", filter {"file_type": "pdf"}).

The fields and example values are read from the store (:func:`describe_fields`); the LLM answers in a JSON schema
whose filter keys are exactly those fields (grammar-constrained on the local model), and :meth:`SelfQuery.validate`
checks the filter again — an unknown field or a value of the wrong type is refused with :class:`SelfQueryError`,
never passed to the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rag.errors import RagError
from rag.llms.base import LLM
from rag.stores.base import Filter, VectorStore

# Bookkeeping ingest writes on every chunk: never a useful filter.
_INTERNAL = {
    "chunk_hash", "file_hash", "ingested_at", "start", "end", "chunk_index", "context", "table_header",
    "entities", "relations", "graph_via", "access",
}  # fmt: skip
_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


class SelfQueryError(RagError):
    """A filter the store cannot apply (an unknown field, a value of the wrong type)."""


@dataclass
class FieldInfo:
    name: str
    type: str  # string | integer | number | boolean
    examples: list[Any] = field(default_factory=list)  # up to 8 distinct values seen
    distinct: int = 0


@dataclass
class StructuredQuery:
    query: str
    filter: Filter = field(default_factory=dict)


def describe_fields(store: VectorStore, sample: int = 2000) -> dict[str, FieldInfo]:
    """The filterable metadata fields of the store's chunks (a sample of `sample` chunks), with example values."""
    rows = store.get()[:sample]
    values: dict[str, dict[Any, None]] = {}
    types: dict[str, str] = {}
    for row in rows:
        for key, value in row.metadata.items():
            if key in _INTERNAL or type(value) not in _TYPES:
                continue
            types.setdefault(key, _TYPES[type(value)])
            values.setdefault(key, {})[value] = None
    return {key: FieldInfo(key, types[key], list(seen)[:8], len(seen)) for key, seen in sorted(values.items())}


_PROMPT = """Turn the question into a search query and a metadata filter, as JSON.
Fields you may filter on (name, type, example values):
{fields}
Use a filter only when the question restricts which documents to search (a file type, a document, a page);
otherwise the filter is {{}}. Filter values are spelled like the examples. The query keeps the question's topic.

Example: "What do the PDF files say about pricing?" -> {{"query": "pricing", "filter": {{"file_type": "pdf"}}}}
Example: "How long is the warranty?" -> {{"query": "How long is the warranty?", "filter": {{}}}}

Question: {question}"""


class SelfQuery:
    def __init__(self, llm: LLM, fields: dict[str, FieldInfo]):
        self.llm = llm
        self.fields = fields

    def schema(self) -> dict[str, Any]:
        properties = {}
        for info in self.fields.values():
            item: dict[str, Any] = {"type": info.type}
            if info.type == "string" and 0 < info.distinct <= 8:
                item["enum"] = info.examples  # few values: the model picks one of them
            properties[info.name] = item  # one value per field (validate() also takes lists, from other callers)
        return {
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 200},
                "filter": {"type": "object", "properties": properties, "additionalProperties": False},
            },
            "required": ["query", "filter"],
        }

    def parse(self, question: str) -> StructuredQuery:
        described = "\n".join(
            f"- {f.name} ({f.type}): {', '.join(json.dumps(v) for v in f.examples[:6])}" for f in self.fields.values()
        )
        raw = self.llm.complete_json(
            [{"role": "user", "content": _PROMPT.format(fields=described, question=question)}],
            self.schema(),
            max_tokens=160,
        )
        query = str(raw.get("query") or "").strip() or question
        return StructuredQuery(query, self.validate(raw.get("filter") or {}))

    def validate(self, filter: dict[str, Any]) -> Filter:
        """The filter, each value checked against its field's type; unknown fields refused."""
        return check_filter(filter, self.fields)


def check_filter(filter: dict[str, Any], fields: dict[str, FieldInfo]) -> Filter:
    """`filter` with each value cast to its field's type (a list means any of its values); an unknown field or a
    value of the wrong type raises :class:`SelfQueryError` naming the fields the store has."""
    checked: Filter = {}
    for key, value in filter.items():
        info = fields.get(key)
        if info is None:
            known = ", ".join(fields) or "none"
            raise SelfQueryError(f"unknown metadata field {key!r} in the filter (the store has: {known})")
        items = value if isinstance(value, list) else [value]
        if not items:
            continue
        cast = [_cast(item, info) for item in items]
        checked[key] = cast if isinstance(value, list) else cast[0]
    return checked


def _cast(value: Any, info: FieldInfo) -> Any:
    try:
        if info.type == "integer" and not isinstance(value, bool):
            if float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if info.type == "number" and not isinstance(value, bool):
            return float(value)
        if info.type == "boolean" and isinstance(value, bool):
            return value
        if info.type == "string" and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    except (TypeError, ValueError):
        pass
    raise SelfQueryError(f"{value!r} is not a valid {info.type} for the field {info.name!r}")
