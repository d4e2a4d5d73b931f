"""Query expansion from a glossary: the words a collection prints for the terms its readers ask with.

A question asks for "capex" or "the operating margin"; a filing prints "Purchases of property, plant and
equipment" and "Operating income". ``retriever.glossary`` names a packaged glossary (``finance``:
rag/retrievers/glossaries/finance.yaml) or a YAML file of ``{when: regex, add: words}`` entries; the dense and
keyword searches run on the question plus the words of every entry it matches (the LLM still reads the question
as asked). On the FinanceBench dev filings it lifted evidence-page hit@5 from 0.45 to 0.63 per filing
(docs/benchmarks.md#filings).

An entry may also name a ``section`` (a regular expression over a chunk's section path): a question that names
the statement it wants ("… using the cash flow statement") gets that statement's chunks first among the hybrid
search's candidates, each group in its fused order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rag.documents import Hit
from rag.errors import ConfigError
from rag.retrievers.base import note

PACKAGED = Path(__file__).parent / "glossaries"


def packaged_file(name_or_path: str, folder: Path, option: str, what: str) -> Path:
    """A YAML file shipped in `folder` by its name (`finance`), or the user's own file; a clear error naming
    `option` and what ships, for anything else."""
    path = folder / f"{name_or_path}.yaml"
    if not path.is_file():
        path = Path(name_or_path).expanduser()
    if not path.is_file():
        packaged = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise ConfigError(f"{option}: {name_or_path!r} is neither a packaged {what} ({packaged}) nor a YAML file")
    return path


@dataclass(frozen=True)
class Entry:
    when: re.Pattern[str]
    add: str
    section: re.Pattern[str] | None = None  # chunks under a matching section path come first


class Glossary:
    def __init__(self, entries: list[Entry], name: str = ""):
        self.entries = entries
        self.name = name

    @classmethod
    def load(cls, name_or_path: str) -> Glossary:
        """A packaged glossary by name (finance) or a YAML file; a clear error for anything else."""
        path = packaged_file(name_or_path, PACKAGED, "retriever.glossary", "glossary")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
            entries = [
                Entry(
                    re.compile(str(item["when"]), re.IGNORECASE),
                    str(item["add"]).strip(),
                    re.compile(str(item["section"]), re.IGNORECASE) if item.get("section") else None,
                )
                for item in raw
            ]
        except (yaml.YAMLError, KeyError, TypeError, re.error) as exc:
            raise ConfigError(
                f"retriever.glossary {path}: each entry needs `when` (a regular expression) and `add` (words): {exc}"
            ) from None
        return cls(entries, name=name_or_path)

    def expand(self, query: str) -> str:
        """The query plus the words of each entry it names (the query itself where it names none)."""
        added = [entry.add for entry in self.entries if entry.when.search(query)]
        if not added:
            return query
        note("glossary", added)
        return f"{query}\n{'; '.join(dict.fromkeys(added))}"

    def prefer_sections(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The hits under a section the query names (an entry's `section`) first, then the others, each in order."""
        wanted = [entry.section for entry in self.entries if entry.section is not None and entry.when.search(query)]
        if not wanted:
            return hits
        named = [hit for hit in hits if any(p.search(str(hit.metadata.get("section") or "")) for p in wanted)]
        if named:
            note("sections_first", len(named))
        chosen = {id(hit) for hit in named}
        return named + [hit for hit in hits if id(hit) not in chosen]
