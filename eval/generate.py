"""Test sets from your own documents: questions, reference answers and the chunks that answer them, written by the
configured LLM (grammar-constrained JSON), kept only when they pass the filters.

    python -m eval generate docs/ --out sets/mine.jsonl -n 100

Plan: chunks with enough text are drawn from every document in proportion to its size (seeded); each gets a
kind — a fact, a finding (a yes-or-no question about what the passage establishes, in a reader's words), a number
(a chunk with figures), a comparison (two chunks: neighbours in a document, or, for half of them, chunks of two
documents that name the same rare entity), or a question the documents do not answer (about the chunk's subject,
asking for a kind of detail it holds none of — a year, a cost, a place: it measures refusals); the mix is SHARES,
or the caller's (`--kinds fact=0.5,number=0.5`).
Filters (eval/question_filters.py), each counted in the summary:

- **answerable**: the generator model answers from the gold chunks alone, as briefly as the reference, and its
  answer matches the reference (eval.answer_match for figures and spans, else shared content words or meaning);
  an unanswerable question must be refused, or answered with figures or names the passages do not hold;
- **standalone**: a question that points at its passage ("this study", "the passage", "according to the text")
  instead of naming its subject cannot be searched for (a pointer that only frames it, "In this study, what …?",
  is cut);
- **not a copy**: a question that repeats a run of 8 words of its chunk, or 85 % of whose content words are one
  sentence of it, tests string matching, not retrieval;
- **not too specific**: a question naming two or more of its passage's rare terms (in ≤ 0.1 % of the documents)
  finds it by string matching; human questions rarely do;
- **not vague**: "the main function/finding/cause of X" may be answered in several ways (rewritten once);
- **not a duplicate** of a kept question (the same content words, Jaccard ≥ 0.8);
- **a founded reference**: one naming a figure or name its passages lack is made up, one that is only the
  passage's title answers nothing.

A draft rejected as not standalone, a copy, too specific or vague is shown to the model with the reason (and the
passage's subject, or the terms) and written once more (counted as "rewritten"). A reference whose figure a small
model mangled ("{38%}", ".30%") is mended when the mended figure is in the passage, else rejected as malformed.

The output is the QA JSONL ``eval run`` reads (``dataset: jsonl``): `context_ids` the sources, `contexts` the gold
chunks' texts, `metadata` the kind, the chunk ids and the review state (``reviewed: null`` until someone accepts or
edits it). A run is resumable: the plan is seeded and each planned item's outcome is journalled beside the output.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.answer_match import numbers
from eval.question_filters import (
    RARE_ALLOWED,
    RareTerms,
    absent_detail,
    copied,
    corpus_years,
    cosine,
    duplicate,
    gives_away,
    matches,
    polar,
    standalone,
    unanswered,
    unfounded,
    vague,
    well_formed,
)
from eval.question_prompts import QUESTION_SCHEMA, REDO, instruction, redo
from rag.answer.arithmetic import calculate, needs_calculation
from rag.answer.context import context_block, passage_text
from rag.answer.prompts import NO_ANSWER
from rag.documents import Hit
from rag.errors import ConfigError
from rag.llms.base import LLM
from rag.stores.base import StoredChunk as Chunk  # what a store's get() gives: id, text, metadata

SHARES = {"fact": 0.3, "finding": 0.2, "number": 0.2, "comparison": 0.15, "unanswerable": 0.15}  # of the planned
KINDS = tuple(SHARES)
MIN_WORDS = 40  # a chunk with fewer words (a heading, a signature) makes a poor question
BRIDGE_SHARE = 0.5  # of comparisons: two documents that name the same rare entity, else two neighbouring chunks
RARE_DOCUMENTS = 5
CALLS_PER_ITEM = 2  # write, then answer from the gold chunks (a rewrite adds one or two)


@dataclass
class Planned:
    index: int
    kind: str
    chunks: list[Chunk]
    checked: str = ""  # the generator model's answer from the gold chunks (the answerability filter's evidence)
    bridge: str = ""  # a two-document question: the rare entity both chunks name
    hint: str = ""  # for a rewrite: the passage's subject, or the rare terms the draft named
    absent: str = ""  # an unanswerable question: the kind of detail its passage holds none of, to be asked for
    year: str = ""  # … or the year no document covers that it asks for (unanswerable by construction)


@dataclass
class Summary:
    planned: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    rewritten: int = 0  # drafts rejected as not standalone, copied, too specific or vague, and written once more
    confirmed: Counter = field(default_factory=Counter)  # kept unanswerable ones: refused, or answered unsupported

    def as_dict(self) -> dict[str, Any]:
        """The counts, and the answerability yield: of the questions that reached the answerability check, the
        share the model answered from their chunks alone (or, unanswerable ones, refused)."""
        failed = self.rejected["not answerable from its chunks"] + self.rejected["answered although unanswerable"]
        checked = self.kept + failed
        return {
            "planned": self.planned,
            "kept": self.kept,
            "rejected": dict(self.rejected),
            "kinds": dict(self.kinds),
            "rewritten": self.rewritten,
            "unanswerable confirmed": dict(self.confirmed),
            "answerable yield": round(self.kept / checked, 3) if checked else 0.0,
        }


def parse_shares(text: str) -> dict[str, float] | None:
    """`--kinds` ("fact=0.5,number=0.5") as the kinds' shares (normalised); None for "" (SHARES)."""
    shares: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, share = part.partition("=")
        try:
            shares[kind.strip()] = float(share)
        except ValueError:
            raise ConfigError(f"--kinds: {part!r} is not KIND=SHARE (e.g. fact=0.5,number=0.5)") from None
        if kind.strip() not in KINDS or shares[kind.strip()] < 0:
            raise ConfigError(f"--kinds: {part!r}: the kinds are {', '.join(KINDS)}, each with a share ≥ 0")
    total = sum(shares.values())
    if shares and total <= 0:
        raise ConfigError("--kinds: the shares add up to 0")
    return {kind: share / total for kind, share in shares.items()} if shares else None


def plan(chunks: list[Chunk], n: int, seed: int = 13, shares: dict[str, float] | None = None) -> list[Planned]:
    """`n` items: documents drawn in proportion to their usable chunks, kinds in `shares` (SHARES), all seeded."""
    rng = random.Random(seed)
    by_source: dict[str, list[Chunk]] = defaultdict(list)  # a document: a file, or a record of a JSON/CSV file
    for chunk in sorted(chunks, key=lambda c: (str(c.metadata.get("source")), int(c.metadata.get("chunk_index", 0)))):
        if len(chunk.text.split()) >= MIN_WORDS:
            by_source[_document(chunk)].append(chunk)
    pool = [chunk for group in by_source.values() for chunk in group]
    if not pool:
        return []
    shares = shares or SHARES
    kinds = [kind for kind, share in shares.items() for _ in range(round(share * n))]
    kinds = (kinds + [max(shares, key=shares.get)] * n)[:n]  # rounding's shortfall: the most common kind
    rng.shuffle(kinds)
    items = []
    rare: dict[str, list[Chunk]] | None = None  # built on the first two-document question
    covered = corpus_years(chunk.text for chunk in chunks)
    for index, kind in enumerate(kinds):
        first = rng.choice(pool)  # a draw over all usable chunks: each document in proportion to its size
        if kind == "number" and not numbers(first.text):
            with_figures = [c for c in pool if numbers(c.text)]
            first = rng.choice(with_figures) if with_figures else first
        chosen, bridge = [first], ""
        if kind == "comparison" and rng.random() < BRIDGE_SHARE:
            rare = rare if rare is not None else _rare_entities(pool)
            chosen, bridge = _bridged(first, rare, rng)
        if kind == "comparison" and not bridge:
            group = by_source[_document(first)]
            position = group.index(first)
            neighbour = group[position + 1] if position + 1 < len(group) else group[position - 1]
            chosen = [first, neighbour] if neighbour is not first else [first]
            kind = kind if len(chosen) == 2 else "fact"
        absent, year = absent_detail(first.text, covered) if kind == "unanswerable" else ("", "")
        items.append(Planned(index, kind, chosen, bridge=bridge, absent=absent, year=year))
    return items


def _rare_entities(pool: list[Chunk]) -> dict[str, list[Chunk]]:
    """Entities named in 2 to RARE_DOCUMENTS documents (the graph's fast extractor: proper names, acronyms, codes),
    with the chunks that name them: what links two documents a question can need together."""
    from rag.graph.entities import FastExtractor

    chunks: dict[str, list[Chunk]] = defaultdict(list)
    documents: dict[str, set[str]] = defaultdict(set)
    for chunk, found in zip(pool, FastExtractor().extract([c.text for c in pool]), strict=True):
        for entity in found.entities:
            chunks[entity["key"]].append(chunk)
            documents[entity["key"]].add(_document(chunk))
    return {key: found for key, found in chunks.items() if 2 <= len(documents[key]) <= RARE_DOCUMENTS}


def _bridged(first: Chunk, rare: dict[str, list[Chunk]], rng: random.Random) -> tuple[list[Chunk], str]:
    """`first` and a chunk of another document naming one of its rare entities, and that entity ("" if none)."""
    shared = sorted(key for key, found in rare.items() if any(c.id == first.id for c in found))
    if not shared:
        return [first], ""
    key = rng.choice(shared)
    partners = [c for c in rare[key] if _document(c) != _document(first)]
    return ([first, rng.choice(partners)], key) if partners else ([first], "")


def _document(chunk: Chunk) -> str:
    """The document a chunk belongs to: its file, and its record inside a JSON Lines or CSV file."""
    record = chunk.metadata.get("record_id", chunk.metadata.get("record"))
    return f"{chunk.metadata.get('source')}#{record}" if record is not None else str(chunk.metadata.get("source"))


def write(llm: LLM, item: Planned, rejected: dict[str, str] | None = None) -> dict[str, str] | None:
    """A drafted question and answer for `item`; with `rejected` (the rejected draft and why), the model is shown its
    first draft and the reason, and asked once more."""
    passages = "\n\n".join(f"Passage {n}:\n{c.text}" for n, c in enumerate(item.chunks, start=1))
    messages = [
        {"role": "system", "content": "You write evaluation questions for a document search system."},
        {"role": "user", "content": f"{passages}\n\n{instruction(item.kind, item.absent)} Reply in JSON."},
    ]
    if rejected:
        told = redo(rejected["reason"], item.hint, item.absent if item.kind == "unanswerable" else "")
        draft = {"question": rejected["question"], "answer": rejected["answer"]}
        messages += [
            {"role": "assistant", "content": json.dumps(draft)},
            {"role": "user", "content": told + " Reply in JSON."},
        ]
    try:
        drafted = llm.complete_json(messages, QUESTION_SCHEMA, max_tokens=200, temperature=0.0)
    except Exception:  # a model that writes no valid JSON for this item: the item is rejected, the run goes on
        return None
    question, answer = str(drafted.get("question", "")).strip(), str(drafted.get("answer", "")).strip()
    if not question.endswith("?") or len(question.split()) < 4 or not answer:
        return None
    return {"question": question, "answer": answer}


def answer_from(llm: LLM, question: str, chunks: list[Chunk]) -> str:
    passages = "\n\n".join(c.text for c in chunks)
    messages = [  # as briefly as the reference is written, so that the two compare
        {
            "role": "system",
            "content": "Answer from the passages only, in a few words (a name, a figure or a short phrase). "
            f'Otherwise: "{NO_ANSWER}"',
        },
        {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
    ]
    return llm.complete(messages, max_tokens=80, temperature=0.0).text.strip()


def calculated(llm: LLM, question: str, chunks: list[Chunk]) -> str:
    """The figure the answer pipeline's calculator computes for `question` from the chunks, read as the pipeline
    reads them (numbered, table headers kept, each figure's year named); "" when none."""
    hits = [Hit(chunk.id, chunk.text, chunk.metadata, 1.0) for chunk in chunks]
    calculation = calculate(llm, question, context_block(hits), [passage_text(hit) for hit in hits])
    return calculation.result_text() if calculation is not None else ""


def judge(
    llm: LLM,
    item: Planned,
    drafted: dict[str, str] | None,
    kept: list[str],
    similarity: Any = None,
    rare: RareTerms | None = None,
) -> tuple[dict | None, str]:
    """The sample for `item`, or None and the filter that rejected it (a framing pointer is cut from the question
    and a slipped figure mended first; `rare`: the corpus's term statistics, for the "too specific" filter)."""
    if drafted is None:
        return None, "no question"
    texts = [c.text for c in item.chunks]
    unanswerable = item.kind == "unanswerable"
    reference = drafted["answer"] if unanswerable else well_formed(drafted["answer"], texts, drafted["question"])
    if item.kind == "finding":  # a yes-or-no question, answered Yes or No
        reference = polar(drafted["question"], drafted["answer"])
    if reference is None:
        return None, "malformed answer"
    unfit = "" if unanswerable else unfounded(reference, texts, _title(item.chunks[0]))
    # a figure the passages do not print may be computed from theirs (a change, a ratio, a total: a third of
    # TAT-QA's human questions); the check then computes it with the answer pipeline's calculator
    arithmetic = unfit == "answer not in its passages" and needs_calculation(drafted["question"])
    if unfit and not arithmetic:
        return None, unfit
    question = standalone(drafted["question"])
    if question is None:
        item.hint = _subject(item.chunks[0])
        return None, "not standalone"
    if copied(question, texts):
        return None, "copies its passage"
    named = rare.named(question, texts) if rare is not None and not unanswerable else []
    if len(named) > RARE_ALLOWED:
        item.hint = ", ".join(named)
        return None, "too specific"
    if not unanswerable and vague(question):
        return None, "vague"
    if not unanswerable and gives_away(question, reference):
        return None, "answer in the question"
    if duplicate(question, kept):
        return None, "duplicate"
    if item.year and re.search(rf"\b{item.year}\b", question):  # a year no document names: nothing to ask the model
        answer, confirmed = "", "asks for a year no document covers"
    else:
        answer = item.checked = (
            calculated(llm, question, item.chunks) if arithmetic else answer_from(llm, question, item.chunks)
        )
        confirmed = unanswered(answer, texts) if unanswerable else ""
    if unanswerable and not confirmed:
        return None, "answered although unanswerable"
    if not unanswerable and not matches(answer, reference, similarity, question):
        return None, "not answerable from its chunks"
    sample = {
        "id": f"gen-{item.index:05d}",
        "question": question,
        "reference": NO_ANSWER if unanswerable else reference,
        # the file names, as eval run names the retrieved passages' sources (eval.runner._source_name)
        "context_ids": [] if unanswerable else sorted({Path(str(c.metadata.get("source"))).name for c in item.chunks}),
        "contexts": [] if unanswerable else texts,
        "metadata": {
            "kind": item.kind,
            "chunk_ids": [c.id for c in item.chunks],
            **({"bridge": item.bridge} if item.bridge else {}),
            **({"confirmed": confirmed} if confirmed else {}),
            "generated_by": getattr(llm, "name", "") or type(llm).__name__,
            "checked_answer": answer,
            "reviewed": None,
        },
    }
    return sample, ""


def _title(chunk: Chunk) -> str:
    """A chunk's title: its metadata's, else a first line of at most 25 words followed by a blank line."""
    first, blank, _ = chunk.text.strip().partition("\n\n")
    return str(chunk.metadata.get("title") or (first if blank and len(first.split()) <= 25 else ""))


def _subject(chunk: Chunk) -> str:
    """What a passage is about, for a rewrite: its title or section, else its first sentence (at most 25 words)."""
    named = chunk.metadata.get("title") or chunk.metadata.get("section")
    first = re.split(r"(?<=[.!?])\s+|\n+", chunk.text.strip(), maxsplit=1)[0]
    return str(named or " ".join(first.split()[:25]))


def generate(
    chunks: list[Chunk],
    llm: LLM,
    out: Path,
    n: int,
    seed: int = 13,
    progress: Any = None,
    embedder: Any = None,
    shares: dict[str, float] | None = None,
) -> Summary:
    """Write the kept samples to `out` (JSONL), resuming from its journal; returns the filters' counts. With
    `embedder`, an answer that says the reference in other words passes the answerability check; `shares`: the
    kinds' mix (SHARES when None)."""
    similarity = cosine(embedder) if embedder is not None else None
    items = plan(chunks, n, seed, shares)
    documents: dict[str, list[str]] = defaultdict(list)
    for chunk in chunks:
        documents[_document(chunk)].append(chunk.text)
    rare = RareTerms("\n".join(texts) for texts in documents.values())
    journal = out.with_suffix(out.suffix + ".journal")
    done: dict[int, dict] = {}
    if journal.exists():
        for line in journal.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                done[record["index"]] = record
    summary = Summary(planned=len(items))
    kept: list[dict] = [done[i]["sample"] for i in sorted(done) if done[i].get("sample")]
    out.parent.mkdir(parents=True, exist_ok=True)
    with journal.open("a", encoding="utf-8") as handle:
        for item in items:
            if item.index not in done:
                drafted = write(llm, item)
                sample, reason = judge(llm, item, drafted, [s["question"] for s in kept], similarity, rare)
                record: dict[str, Any] = {"index": item.index}
                if reason in REDO and drafted:  # one rewrite, told why: a small model often gets it right then
                    record["first_draft"], record["first_reason"] = drafted, reason
                    drafted = write(llm, item, {**drafted, "reason": reason})
                    sample, reason = judge(llm, item, drafted, [s["question"] for s in kept], similarity, rare)
                record.update(sample=sample, reason=reason)
                if reason and drafted:  # what was rejected, for whoever tunes the generator
                    record["draft"], record["checked_answer"] = drafted, item.checked
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                done[item.index] = record
                if sample:
                    kept.append(sample)
            if progress is not None:
                progress(item.index + 1, len(items))
    for item in items:
        record = done[item.index]
        summary.rewritten += bool(record.get("first_reason"))
        if record.get("sample"):
            summary.kept += 1
            summary.kinds[record["sample"]["metadata"]["kind"]] += 1
            if record["sample"]["metadata"].get("confirmed"):
                summary.confirmed[record["sample"]["metadata"]["confirmed"]] += 1
        else:
            summary.rejected[record["reason"]] += 1
    with out.open("w", encoding="utf-8") as handle:
        for sample in kept:
            handle.write(json.dumps(sample, ensure_ascii=False) + "\n")
    return summary
