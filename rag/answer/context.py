"""From retrieved chunks to the passages an answer prompt shows: small-to-big expansion, read-small focusing,
dedupe, a token budget, and the labelled block.

Read small: a long chunk retrieves well (bge reads 510 tokens: a whole abstract or a table with its notes), but a
local model on a CPU pays for every prompt token before the first answer token. With ``answer.passage_tokens``
a passage longer than that keeps only its lines about the question (most shared content words first, a table's
header rows with any of its rows, the passage's first line), in their order, gaps marked with "…".

Small-to-big: chunks are small so that retrieval is precise, but an answer often needs the lines around the hit
(the rows below a table's header, the sentence before a figure). With ``answer.expand: n`` each hit is shown
with its n neighbouring chunks on each side of the same page or record, stitched without the splitter's overlap;
the neighbours come from the keyword index beside the store, which keeps every chunk's place in its document.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from rag.answer import prompts
from rag.answer.citations import content_words
from rag.documents import Hit, location
from rag.stores.base import NeighbourWindow, VectorStore
from rag.tables import label_columns, table_headers


def expand(hits: list[Hit], store: VectorStore, neighbours: int) -> list[Hit]:
    """Each hit with `neighbours` chunks on each side (same parent), overlapping windows merged into the first."""
    index = getattr(store, "keyword", None)  # a store with side indexes, or a reader's view of one
    if neighbours <= 0 or not isinstance(index, NeighbourWindow):
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


def segments(hits: list[Hit], store: VectorStore, reach: int = 4) -> list[Hit]:
    """Relevant segments: retrieved chunks that are neighbours in their page or record (up to `reach` on each
    side of the best) joined into one passage at the better rank, in document order. A statement cut into three
    chunks that all retrieve reads as one table under its title and years, and takes one label, not three."""
    index = getattr(store, "keyword", None)  # a store with side indexes, or a reader's view of one
    if not isinstance(index, NeighbourWindow) or len(hits) < 2:
        return hits
    retrieved = {hit.id for hit in hits}
    joined: list[Hit] = []
    covered: set[str] = set()
    for hit in hits:
        if hit.id in covered:
            continue
        window = index.window(hit.id, reach)
        at = next((i for i, row in enumerate(window) if row["id"] == hit.id), None)
        if at is None:
            joined.append(hit)
            continue
        first = last = at
        while first > 0 and window[first - 1]["id"] in retrieved and window[first - 1]["id"] not in covered:
            first -= 1
        while last + 1 < len(window) and window[last + 1]["id"] in retrieved and window[last + 1]["id"] not in covered:
            last += 1
        run = window[first : last + 1]
        covered.update(row["id"] for row in run)
        if len(run) == 1:
            joined.append(hit)
            continue
        metadata = {**hit.metadata, "segment": len(run), "start": run[0].get("start"), "end": run[-1].get("end")}
        joined.append(Hit(id=hit.id, text=stitch(run), metadata=metadata, score=hit.score))
    return joined


def stitch(rows: list[dict[str, Any]]) -> str:
    """Neighbouring chunks' texts in order, without the overlap the splitter repeats (spans are character
    offsets in their parent, so overlapping or touching chunks rejoin into the exact text they were cut from)."""
    text = rows[0]["text"]
    for previous, row in itertools.pairwise(rows):
        start, end = row.get("start"), previous.get("end")
        if None in (start, end):
            text += "\n" + row["text"]
        elif start <= end:
            text += row["text"][end - start :]
        else:  # the whitespace the splitter trimmed between them
            text += "\n" + row["text"]
    return text


def focus(hit: Hit, question: str, count_tokens: Callable[[str], int], max_tokens: int) -> Hit:
    """`hit` cut to its lines most about `question` within `max_tokens` (unchanged when it fits or when off)."""
    if max_tokens <= 0 or count_tokens(hit.text) <= max_tokens:
        return hit
    lines = [line for line in hit.text.splitlines() if line.strip()]
    if len(lines) < 2:
        return hit
    wanted = content_words(question)
    offsets, position = [], 0
    for line in lines:
        position = hit.text.index(line, position)
        offsets.append(position)
    headers = table_headers(hit.text)

    def header_of(index: int) -> list[int]:
        """The header lines of the table line `index` belongs to (none outside a table)."""
        for table in headers:
            if table.body_start <= offsets[index] < table.end:
                return [i for i, start in enumerate(offsets) if start < table.body_start and start >= table.start]
        return []

    ranked = sorted(range(len(lines)), key=lambda i: (-len(wanted & content_words(lines[i])), i))
    chosen: set[int] = {0}
    spent = count_tokens(lines[0])
    for index in ranked:
        if not wanted & content_words(lines[index]) and len(chosen) > 1:
            break
        extra = [i for i in [*header_of(index), index] if i not in chosen]
        cost = sum(count_tokens(lines[i]) for i in extra)
        if spent + cost > max_tokens:
            continue
        chosen.update(extra)
        spent += cost
    kept, previous = [], -1
    for index in sorted(chosen):
        if previous >= 0 and index != previous + 1:
            kept.append("…")
        kept.append(lines[index])
        previous = index
    return Hit(id=hit.id, text="\n".join(kept), metadata={**hit.metadata, "focused": True}, score=hit.score)


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
    """A passage as the model reads it: a table piece keeps its header rows in view, and a statement's rows name
    the year of each figure (rag.tables.label_columns)."""
    header = hit.metadata.get("table_header")
    text = hit.text.strip()
    return label_columns(f"{header}\n{text}" if header and header not in text else text)


def context_block(contexts: list[Hit]) -> str:
    """The numbered passages of the prompt: ``[n] (where)`` then the text, instructions inside neutralised."""
    blocks = []
    for number, hit in enumerate(contexts, start=1):
        where = location(hit.metadata, ", ")
        blocks.append(f"[{number}] ({where})\n{prompts.neutralize_instructions(passage_text(hit))}")
    return "\n\n".join(blocks)
