"""Pure helpers that turn an Answer into what the chat shows: linked [n] citations, sources with the
supporting sentence highlighted, a timings caption. No Streamlit here, so they are unit-tested."""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt

from rag.answer.citations import sentences

_CITE = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"\w+")
_BLOCK_START = re.compile(r"^(#{1,6}\s|[-*+]\s|\d+[.)]\s)")  # a heading or a list item
_RULE = re.compile(r"\|?[\s:|-]*-{3,}[\s:|-]*\|?")  # a Markdown table's |---|---| line
_MARK_OPEN, _MARK_CLOSE = "\x02", "\x03"  # kept through the Markdown renderer, then turned into <mark>
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def link_citations(text: str, known: set[int], answer: int = 0) -> str:
    """Markdown where every [n] that names a source becomes a link to that source's entry in answer `answer`
    (anchors are per answer: the [2] of a later answer does not jump to the first answer's source 2)."""

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return f"[[{number}]](#{source_anchor(answer, number)})" if number in known else match.group(0)

    return _CITE.sub(link, text)


def source_anchor(answer: int, number: int) -> str:
    return f"source-{answer}-{number}"


def passage_sentences(passage: str) -> list[str]:
    """A passage's sentences, read as prose: the lines of a hard-wrapped paragraph are joined (a sentence is not
    cut at a line end), while a table row, a list item and a heading stay one unit each."""
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", passage):
        prose: list[str] = []
        for line in paragraph.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if "|" in stripped or _BLOCK_START.match(stripped):
                if prose:
                    units.extend(sentences(" ".join(prose)))
                    prose = []
                units.append(stripped)
            else:
                prose.append(stripped)
        if prose:
            units.extend(sentences(" ".join(prose)))
    return [unit for unit in units if not _RULE.fullmatch(unit)]


def supporting_sentence(passage: str, claims: list[str]) -> str | None:
    """The passage sentence (or table row) sharing the most words with the claims citing it; None without overlap."""
    claim_words = {w.lower() for claim in claims for w in _WORD.findall(claim) if len(w) > 2}
    best, best_overlap = None, 0
    for sentence in passage_sentences(passage):
        overlap = len(claim_words & {w.lower() for w in _WORD.findall(sentence)})
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    return best


def passage_html(passage: str, sentence: str | None) -> str:
    """The passage rendered as Markdown (headings as bold lines, `cell | cell` rows as tables; raw HTML in it is
    escaped), the supporting sentence marked line by line wherever it is in the source text."""
    text = as_markdown_tables(passage)
    if sentence:
        pattern = r"\s+".join(re.escape(word) for word in sentence.split())
        found = re.search(pattern, text)
        if found:
            start, end = found.span()
            line_start = text.rfind("\n", 0, start) + 1
            if text[line_start:].lstrip().startswith("|"):  # a table row: mark the whole row(s), cell by cell
                start, end = line_start, (text.find("\n", end) + 1 or len(text) + 1) - 1
            marked = "\n".join(_marked(line) for line in text[start:end].split("\n"))
            text = text[:start] + marked + text[end:]
    rendered = _MARKDOWN.render(text)
    rendered = re.sub(r"<h\d>(.*?)</h\d>", r"<p><b>\1</b></p>", rendered)
    return rendered.replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>").strip()


def _marked(line: str) -> str:
    """A line wrapped in the mark sentinels; a table row cell by cell (a mark must not cross cells)."""
    if not line.strip():
        return line
    if line.lstrip().startswith("|"):
        cells = line.strip().strip("|").split("|")
        return "| " + " | ".join(f"{_MARK_OPEN}{cell.strip()}{_MARK_CLOSE}" for cell in cells) + " |"
    return f"{_MARK_OPEN}{line}{_MARK_CLOSE}"


def as_markdown_tables(text: str) -> str:
    """Runs of `cell | cell` lines (how the loaders write PDF and DOCX tables) as Markdown tables; a Markdown table
    is left as it is."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if " | " not in line or line.lstrip().startswith("|"):
            out.append(line)
            index += 1
            continue
        run = []
        while index < len(lines) and " | " in lines[index] and not lines[index].lstrip().startswith("|"):
            run.append([cell.strip() for cell in lines[index].split(" | ")])
            index += 1
        width = max(len(row) for row in run)
        rows = [row + [""] * (width - len(row)) for row in run]
        if out and out[-1].strip():
            out.append("")  # a table needs a blank line above it
        out.append("| " + " | ".join(rows[0]) + " |")
        out.append("|" + "---|" * width)
        out.extend("| " + " | ".join(row) + " |" for row in rows[1:])
        out.append("")
    return "\n".join(out)


def sources_of(answer: Any) -> list[dict[str, Any]]:
    """One entry per cited passage: where it is from, its text and the sentence that supports the claim."""
    entries = []
    for citation in answer.citations:
        passage = answer.contexts[citation.number - 1].text
        claims = [c.sentence for c in answer.checks if c.number == citation.number]
        entries.append(
            {
                "number": citation.number,
                "source": citation.source,
                "page": citation.page,
                "section": citation.section,
                "where": citation.where,
                "supported": citation.supported,
                "html": passage_html(passage, sentence := supporting_sentence(passage, claims)),
                "excerpt": passage_html(sentence, sentence) if sentence else "",
            }
        )
    return entries


def retrieval_notes(trace: dict[str, Any]) -> list[str]:
    """What the retrieval strategy did, as lines for people ([] for a plain search)."""
    notes = []
    if trace.get("rewrites"):
        notes.append("Searched for: " + " · ".join(f"“{q}”" for q in trace["rewrites"]))
    if trace.get("hyde_passage"):
        notes.append(f"Hypothetical passage (HyDE): {' '.join(trace['hyde_passage'].split())}")
    if trace.get("rerank"):
        notes.append(f"Re-ranked the top {len(trace['rerank'])} passages")
    return notes


# the answer's stages in the order they run, as the caption names them
_STAGES = (
    ("summarise", "summary"),
    ("condense", "condense"),
    ("retrieve", "search"),
    ("context", "passages"),
    ("calculate", "calculate"),
    ("generate", "writing"),
    ("citations", "check"),
    ("retry", "retry"),
)


def timings_caption(timings: dict[str, float]) -> str:
    """ "12.3 s in all, first words after 4.1 s: condense 2.0 + search 0.3 + … + check 0.1": the stages add up
    to what the user waited (``waited``, measured by the app; the rest of it, drawing the page, is "other")."""
    parts = [(label, timings[name]) for name, label in _STAGES if timings.get(name, 0.0) >= 0.005]
    total = sum(seconds for _, seconds in parts)
    waited = timings.get("waited")
    if waited and waited - total >= 0.05:
        parts.append(("other", waited - total))
        total = waited
    first = timings.get("first_words")
    if first is None and timings.get("first_token"):
        before = ("summarise", "condense", "retrieve", "context", "calculate")
        first = sum(timings.get(name, 0.0) for name in before) + timings["first_token"]
    head = f"{total:.1f} s in all" + (f", first words after {first:.1f} s" if first else "")
    return f"{head}: " + " + ".join(f"{label} {seconds:.2f} s" for label, seconds in parts) if parts else head


def ago(when: str | float | None, now: float | None = None) -> str:
    """A time as people say it: "just now", "5 min ago", "3 h ago", "yesterday", "2 Dec 2026"."""
    from datetime import UTC, datetime

    if when in (None, ""):
        return "never"
    try:
        moment = float(when) if isinstance(when, int | float) else datetime.fromisoformat(str(when)).timestamp()
    except ValueError:
        return str(when)
    seconds = (now if now is not None else datetime.now(UTC).timestamp()) - moment
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 2 * 86400:
        return "yesterday"
    return datetime.fromtimestamp(moment, UTC).strftime("%-d %b %Y")
