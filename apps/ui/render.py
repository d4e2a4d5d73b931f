"""Pure helpers that turn an Answer into what the chat shows: linked [n] citations, sources with the
supporting sentence highlighted, a timings caption. No Streamlit here, so they are unit-tested."""

from __future__ import annotations

import html
import re
from typing import Any

from rag.answer.citations import sentences

_CITE = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"\w+")


def link_citations(text: str, known: set[int]) -> str:
    """Markdown where every [n] that names a source becomes a link to that source's entry."""
    return _CITE.sub(
        lambda m: f"[[{m.group(1)}]](#source-{m.group(1)})" if int(m.group(1)) in known else m.group(0), text
    )


def supporting_sentence(passage: str, claims: list[str]) -> str | None:
    """The passage sentence sharing the most words with the claims citing it (None without overlap)."""
    claim_words = {w.lower() for claim in claims for w in _WORD.findall(claim) if len(w) > 2}
    best, best_overlap = None, 0
    for sentence in sentences(passage):
        overlap = len(claim_words & {w.lower() for w in _WORD.findall(sentence)})
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    return best


def highlighted(passage: str, sentence: str | None) -> str:
    """The passage as HTML (escaped), the supporting sentence wrapped in <mark>."""
    text = " ".join(passage.split())
    if not sentence:
        return html.escape(text)
    target = " ".join(sentence.split())
    start = text.find(target)
    if start < 0:
        return html.escape(text)
    end = start + len(target)
    return f"{html.escape(text[:start])}<mark>{html.escape(target)}</mark>{html.escape(text[end:])}"


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
                "html": highlighted(passage, supporting_sentence(passage, claims)),
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


def timings_caption(timings: dict[str, float]) -> str:
    order = ("condense", "retrieve", "context", "first_token", "generate", "citations")
    parts = [f"{name.replace('_', ' ')} {timings[name]:.2f} s" for name in order if timings.get(name)]
    return " · ".join(parts)
