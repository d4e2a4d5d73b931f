"""From retrieved chunks to the passages an answer prompt shows: small-to-big expansion, dedupe, a token budget,
and the labelled block.

Small-to-big: chunks are small so that retrieval is precise, but an answer often needs the lines around the hit
(the rows below a table's header, the sentence before a figure). With ``answer.expand: n`` each hit is shown
with its n neighbouring chunks on each side of the same page or record, stitched without the splitter's overlap;
the neighbours come from the keyword index beside the store, which keeps every chunk's place in its document.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from rag import prompts
from rag.documents import Hit, location


def expand(hits: list[Hit], store: Any, neighbours: int) -> list[Hit]:
    """Each hit with `neighbours` chunks on each side (same parent), overlapping windows merged into the first."""
    index = getattr(store, "keyword", None)
    if neighbours <= 0 or index is None or not hasattr(index, "window"):
        return hits
    expanded: list[Hit] = []
    covered: set[str] = set()
    for hit in hits:
        if hit.id in covered:  # already shown inside a better-ranked hit's window
            continue
        window = index.window(hit.id, neighbours)
        if len(window) <= 1:
            expanded.append(hit)
            covered.add(hit.id)
            continue
        covered.update(row["id"] for row in window)
        text = stitch(window)
        metadata = {**hit.metadata, "expanded": len(window)}
        expanded.append(Hit(id=hit.id, text=text, metadata=metadata, score=hit.score))
    return expanded


def stitch(rows: list[dict[str, Any]]) -> str:
    """Neighbouring chunks' texts in order, without the overlap the splitter repeats (spans are character
    offsets in their parent)."""
    parts = [rows[0]["text"]]
    for previous, row in itertools.pairwise(rows):
        start, end = row.get("start"), previous.get("end")
        overlap = end - start if None not in (start, end) else 0
        text = row["text"]
        parts.append(text[overlap:] if 0 < overlap < len(text) else text)
    return "\n".join(part.strip() for part in parts)


def fit(hits: list[Hit], count_tokens: Callable[[str], int], budget: int) -> list[Hit]:
    """Dedupe (same id or same text), keep the retriever's order, stop at the token budget."""
    kept: list[Hit] = []
    seen: set[str] = set()
    for hit in hits:
        key = " ".join(hit.text.split())
        if hit.id in seen or key in seen:
            continue
        cost = count_tokens(passage_text(hit)) + 16  # + the label line
        if kept and cost > budget:
            break
        seen.update((hit.id, key))
        budget -= cost
        kept.append(hit)
    return kept


def passage_text(hit: Hit) -> str:
    """A passage as the model reads it: a table piece keeps its header rows in view."""
    header = hit.metadata.get("table_header")
    text = hit.text.strip()
    return f"{header}\n{text}" if header and header not in text else text


def context_block(contexts: list[Hit]) -> str:
    """The numbered passages of the prompt: ``[n] (where)`` then the text, instructions inside neutralised."""
    blocks = []
    for number, hit in enumerate(contexts, start=1):
        where = location(hit.metadata, ", ")
        blocks.append(f"[{number}] ({where})\n{prompts.neutralize_instructions(passage_text(hit))}")
    return "\n\n".join(blocks)
