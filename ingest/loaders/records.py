"""Record files: JSON, JSON Lines and CSV — one Document per record (or per group of CSV rows)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ingest.loaders.encoding import decode_utf8, read_text
from rag.config import LoaderConfig
from rag.documents import Document, Metadata
from rag.errors import LoaderError


def parse_json_text(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaderError(str(path), f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


_SHOWN_WARNINGS = 20  # bad lines listed one by one; past that, a count


def load_json(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    text = decode_utf8(path.read_bytes(), path, warnings).replace("\r\n", "\n")
    yield from records_to_documents(parse_json_text(text, path), cfg, path)


def load_jsonl(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    """One Document per line's record, streamed (a large JSONL never sits in memory whole). A line that is not
    JSON is skipped with a warning naming it; the file fails only when no line is."""
    bad: list[str] = []
    good = 0

    def records() -> Iterator[Any]:
        nonlocal good
        offset = 0
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                line = decode_utf8(raw, path, warnings, f" (line {number}, file offset {offset})").strip()
                offset += len(raw)
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    bad.append(f"line {number}: {exc.msg}")
                    if len(bad) <= _SHOWN_WARNINGS:
                        warnings.append(f"invalid JSON on line {number} ({exc.msg}): line skipped")
                    continue
                good += 1
                yield record

    yield from records_to_documents(records(), cfg, path)
    if len(bad) > _SHOWN_WARNINGS:
        warnings.append(f"{len(bad)} lines of invalid JSON skipped in all")
    if bad and not good:
        raise LoaderError(str(path), f"invalid JSON on every line ({bad[0]})")


def records_to_documents(data: Any, cfg: LoaderConfig, path: Path) -> Iterator[Document]:
    """A JSON value (a list of records, an object, or an iterator of records) to Documents."""
    options = cfg.json_records
    if isinstance(data, dict) and options.records_key:
        if not isinstance(data.get(options.records_key), list):
            raise LoaderError(str(path), f"loaders.json.records_key {options.records_key!r} is not a list here")
        data = data[options.records_key]
    records: Iterable[Any] = [data] if isinstance(data, dict) or not isinstance(data, Iterable) else data
    for index, record in enumerate(records):
        text = _record_text(record, options.text_fields)
        metadata: Metadata = {"record": index}
        if isinstance(record, dict):
            if options.id_field and options.id_field in record:
                metadata["record_id"] = str(record[options.id_field])
            for field in options.metadata_fields:
                value = _lookup(record, field)
                if isinstance(value, str | int | float | bool):
                    metadata[field] = value
        yield Document(text=text, metadata=metadata)


def _record_text(record: Any, fields: list[str]) -> str:
    if not isinstance(record, dict):
        return record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)
    if fields:
        parts = [_lookup(record, field) for field in fields]
        return "\n\n".join(str(part) for part in parts if part not in (None, ""))
    return "\n".join(f"{key}: {value}" for key, value in _flatten(record))


def _lookup(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        yield prefix, ", ".join(str(item) for item in value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    elif value not in (None, ""):
        yield prefix, value


def load_csv(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    text = read_text(path)
    delimiter = cfg.csv.delimiter or _sniff_delimiter(text, path)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise LoaderError(str(path), "no rows")
    caption = ""
    # A title line above the header ("Stanley Cups,,") is a caption, not the column names.
    while len(rows) > 1 and sum(1 for cell in rows[0] if cell.strip()) * 2 < len(rows[0]):
        caption = " ".join(cell.strip() for cell in rows[0] if cell.strip())
        rows = rows[1:]
    header, body = rows[0], rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise LoaderError(
                str(path), f"ragged CSV: row {number} has {len(row)} cells but the header has {len(header)}"
            )
    step = cfg.csv.rows_per_document
    for start in range(0, len(body), step):
        group = body[start : start + step]
        text_rows = [
            "\n".join(f"{name}: {cell}" for name, cell in zip(header, row, strict=True) if cell) for row in group
        ]
        metadata: Metadata = {"row": start + 2, "rows": len(group)}
        if caption:
            metadata["title"] = caption
        yield Document(text="\n\n".join(text_rows), metadata=metadata)


def _sniff_delimiter(text: str, path: Path) -> str:
    sample = text[:8192]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return "\t" if path.suffix.lower() == ".tsv" else ","
