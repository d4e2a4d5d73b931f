"""Test sets from your own documents: questions, reference answers and the chunks that answer them, written by the
configured LLM (grammar-constrained JSON), kept only when they pass the filters.

    python -m eval generate docs/ --out sets/mine.jsonl -n 100

Plan: chunks with enough text are drawn from every document in proportion to its size (seeded); each gets a
kind — a fact, a number (a chunk with figures), a comparison (two chunks: neighbours in a document, or, for half
of them, chunks of two documents that name the same rare entity), or a question the documents do not answer
(about the chunk's subject, asking what it does not say: it measures refusals).
Filters, each counted in the summary:

- **answerable**: the generator model answers from the gold chunks alone and its answer matches the reference
  (eval.answer_match for figures and spans, else shared content words); an unanswerable question must be refused;
- **standalone**: a question that points at its passage ("this study", "the passage", "according to the text")
  instead of naming its subject cannot be searched for;
- **not a copy**: a question that repeats a run of 8 words of its chunk, or 85 % of whose content words are one
  sentence of it, tests string matching, not retrieval;

A draft rejected as not standalone or as a copy is shown to the model with the reason and written once more (a
small model often gets it right then; counted as "rewritten").
- **not a duplicate** of a kept question (the same content words, Jaccard ≥ 0.8).

The output is the QA JSONL ``eval run`` reads (``dataset: jsonl``): `context_ids` the sources, `contexts` the gold
chunks' texts, `metadata` the kind, the chunk ids and the review state (``reviewed: null`` until someone accepts or
edits it). A run is resumable: the plan is seeded and each planned item's outcome is journalled beside the output.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.answer_match import answer_match, numbers
from rag.answer.citations import content_words
from rag.answer.prompts import NO_ANSWER
from rag.llms.base import LLM
from rag.stores.base import StoredChunk as Chunk  # what a store's get() gives: id, text, metadata

KINDS = ("fact", "number", "comparison", "unanswerable")
SHARES = {"fact": 0.45, "number": 0.25, "comparison": 0.15, "unanswerable": 0.15}
MIN_WORDS = 40  # a chunk with fewer words (a heading, a signature) makes a poor question
COPY_RUN = 8  # a question repeating this many words of its chunk in a row is a copy
COPY_SHARE = 0.85
DUPLICATE = 0.8
BRIDGE_SHARE = 0.5  # of comparisons: two documents that name the same rare entity, else two neighbouring chunks
RARE_DOCUMENTS = 5
CALLS_PER_ITEM = 2  # write, then answer from the gold chunks (a rewrite adds one or two)

_QUESTION_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string", "maxLength": 300}, "answer": {"type": "string", "maxLength": 300}},
    "required": ["question", "answer"],
}
_STANDALONE = (
    " The question must make sense to someone searching a library who has never seen the passage: name its subject "
    "(the drug, the disease, the product, the company, the event), never 'this study', 'the passage' or 'the "
    "author'. The answer is short: a few words or one figure."
)
_INSTRUCTIONS = {
    "fact": "Write one question a reader could ask, answered by a fact stated in the passage, and its short answer. "
    "Use your own words; do not copy a sentence." + _STANDALONE,
    "number": "Write one question whose answer is a figure stated in the passage (an amount, a count, a date, a "
    "percentage), and the answer with its unit. Use your own words; do not copy a sentence." + _STANDALONE,
    "comparison": "Write one question that needs BOTH passages to answer (a comparison or a combination of what "
    "each says), and its short answer." + _STANDALONE,
    "unanswerable": "Write one question about the same subject as the passage that the passage does NOT answer "
    "(it asks for something the passage does not say). The answer must be exactly: not stated." + _STANDALONE,
}
_REDO = {
    "not standalone": "That question points at the passage instead of naming its subject. Rewrite it so that it "
    "names the subject (the drug, disease, product, company or event) and makes sense on its own.",
    "copies its passage": "That question copies the passage's wording. Rewrite it in other words (synonyms, another "
    "order), keeping its subject named and its answer the same.",
}
# a question that points at its passage instead of naming its subject cannot be searched for
_DEICTIC = re.compile(
    r"\b(this|the|that) (study|passage|text|article|paper|document|report|trial|research|excerpt|abstract|section)\b"
    r"|\b(the|this) authors?\b|\baccording to the\b|\bmentioned (above|here|in)\b",
    re.IGNORECASE,
)


@dataclass
class Planned:
    index: int
    kind: str
    chunks: list[Chunk]
    checked: str = ""  # the generator model's answer from the gold chunks (the answerability filter's evidence)
    bridge: str = ""  # a two-document question: the rare entity both chunks name


@dataclass
class Summary:
    planned: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    rewritten: int = 0  # drafts rejected as not standalone or copied, and written once more

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
            "answerable yield": round(self.kept / checked, 3) if checked else 0.0,
        }


def plan(chunks: list[Chunk], n: int, seed: int = 13) -> list[Planned]:
    """`n` items: documents drawn in proportion to their usable chunks, kinds in SHARES, all seeded."""
    rng = random.Random(seed)
    by_source: dict[str, list[Chunk]] = defaultdict(list)  # a document: a file, or a record of a JSON/CSV file
    for chunk in sorted(chunks, key=lambda c: (str(c.metadata.get("source")), int(c.metadata.get("chunk_index", 0)))):
        if len(chunk.text.split()) >= MIN_WORDS:
            by_source[_document(chunk)].append(chunk)
    pool = [chunk for group in by_source.values() for chunk in group]
    if not pool:
        return []
    kinds = [kind for kind, share in SHARES.items() for _ in range(round(share * n))]
    kinds = (kinds + ["fact"] * n)[:n]
    rng.shuffle(kinds)
    items = []
    rare: dict[str, list[Chunk]] | None = None  # built on the first two-document question
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
        items.append(Planned(index, kind, chosen, bridge=bridge))
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


def copied(question: str, passages: list[str]) -> bool:
    """The question repeats COPY_RUN words of a passage in a row, or is mostly one of its sentences."""
    words = re.findall(r"\w+", question.lower())
    asked = content_words(question)
    for passage in passages:
        text = " ".join(re.findall(r"\w+", passage.lower()))
        if any(" ".join(words[i : i + COPY_RUN]) in text for i in range(len(words) - COPY_RUN + 1)):
            return True
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", passage):
            said = content_words(sentence)
            if asked and said and len(asked & said) / len(asked) >= COPY_SHARE and len(said) <= 2 * len(asked):
                return True
    return False


def duplicate(question: str, kept: list[str]) -> bool:
    words = content_words(question)
    for other in kept:
        theirs = content_words(other)
        if words and theirs and len(words & theirs) / len(words | theirs) >= DUPLICATE:
            return True
    return False


_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(f"{_UNITS} seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS |= {"half": "0.5", "a third": "0.33", "a quarter": "0.25", "three-quarters": "0.75", "two-thirds": "0.67"}
_SPELLED = "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True))
_NUMBER_WORD = re.compile(rf"\b({_SPELLED})\b", re.IGNORECASE)
# what a small model's JSON sometimes puts in an answer instead of a figure: "{0.5}%", ".9%", "time:10%", a URL
_MALFORMED = re.compile(r"[{}]|https?://|(?:^|\s)\.\d|\b[a-z]+:\d|\d\. \d", re.IGNORECASE)
SIMILAR = 0.85  # answers and references this close in the embedder's space say the same (paraphrases: 0.87-0.97)


def matches(answer: str, reference: str, similarity: Any = None) -> bool:
    """The model's answer from the gold chunks agrees with the reference: yes/no by its polarity; figures and spans
    by answer_match (number words read as figures: "two" is 2); a sentence by most of the reference's content words,
    or — given `similarity(a, b)`, the embedder's cosine — by meaning (≥ SIMILAR)."""
    polarity = reference.strip().strip(".").lower()
    if polarity in ("yes", "no"):
        said = re.findall(r"[a-z]+", answer.lower())
        return bool(said) and (said[0] == polarity or (polarity == "no" and said[0] in ("none", "not", "never")))
    if numbers(reference):
        spelled = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(1).lower()], answer)
        return answer_match(spelled, reference) >= 0.5
    gold, said = content_words(reference), content_words(answer)
    if gold and len(gold & said) / len(gold) >= 0.6:
        return True
    return similarity is not None and similarity(answer, reference) >= SIMILAR


def refused(answer: str) -> bool:
    lowered = answer.lower()
    return any(phrase in lowered for phrase in ("not stated", "could not find", "not mention", "does not say"))


def write(llm: LLM, item: Planned, redo: dict[str, str] | None = None) -> dict[str, str] | None:
    """A drafted question and answer for `item`; with `redo` (the rejected draft and why), the model is shown its
    first draft and the reason, and asked once more."""
    passages = "\n\n".join(f"Passage {n}:\n{c.text}" for n, c in enumerate(item.chunks, start=1))
    messages = [
        {"role": "system", "content": "You write evaluation questions for a document search system."},
        {"role": "user", "content": f"{passages}\n\n{_INSTRUCTIONS[item.kind]} Reply in JSON."},
    ]
    if redo:
        messages += [
            {"role": "assistant", "content": json.dumps({"question": redo["question"], "answer": redo["answer"]})},
            {"role": "user", "content": _REDO[redo["reason"]] + " Reply in JSON."},
        ]
    try:
        drafted = llm.complete_json(messages, _QUESTION_SCHEMA, max_tokens=200, temperature=0.0)
    except Exception:  # a model that writes no valid JSON for this item: the item is rejected, the run goes on
        return None
    question, answer = str(drafted.get("question", "")).strip(), str(drafted.get("answer", "")).strip()
    if not question.endswith("?") or len(question.split()) < 4 or not answer:
        return None
    return {"question": question, "answer": answer}


def answer_from(llm: LLM, question: str, chunks: list[Chunk]) -> str:
    passages = "\n\n".join(c.text for c in chunks)
    messages = [
        {"role": "system", "content": f'Answer from the passages only, in one sentence. Otherwise: "{NO_ANSWER}"'},
        {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
    ]
    return llm.complete(messages, max_tokens=80, temperature=0.0).text.strip()


def judge(
    llm: LLM, item: Planned, drafted: dict[str, str] | None, kept: list[str], similarity: Any = None
) -> tuple[dict | None, str]:
    """The sample for `item`, or None and the filter that rejected it."""
    if drafted is None:
        return None, "no question"
    texts = [c.text for c in item.chunks]
    if _MALFORMED.search(drafted["answer"]):
        return None, "malformed answer"
    if _DEICTIC.search(drafted["question"]):
        return None, "not standalone"
    if copied(drafted["question"], texts):
        return None, "copies its passage"
    if duplicate(drafted["question"], kept):
        return None, "duplicate"
    answer = item.checked = answer_from(llm, drafted["question"], item.chunks)
    unanswerable = item.kind == "unanswerable"
    if unanswerable and not refused(answer):
        return None, "answered although unanswerable"
    if not unanswerable and not matches(answer, drafted["answer"], similarity):
        return None, "not answerable from its chunks"
    sample = {
        "id": f"gen-{item.index:05d}",
        "question": drafted["question"],
        "reference": NO_ANSWER if unanswerable else drafted["answer"],
        # the file names, as eval run names the retrieved passages' sources (eval.runner._source_name)
        "context_ids": [] if unanswerable else sorted({Path(str(c.metadata.get("source"))).name for c in item.chunks}),
        "contexts": [] if unanswerable else texts,
        "metadata": {
            "kind": item.kind,
            "chunk_ids": [c.id for c in item.chunks],
            **({"bridge": item.bridge} if item.bridge else {}),
            "generated_by": getattr(llm, "name", "") or type(llm).__name__,
            "checked_answer": answer,
            "reviewed": None,
        },
    }
    return sample, ""


def generate(
    chunks: list[Chunk], llm: LLM, out: Path, n: int, seed: int = 13, progress: Any = None, embedder: Any = None
) -> Summary:
    """Write the kept samples to `out` (JSONL), resuming from its journal; returns the filters' counts. With
    `embedder`, an answer that says the reference in other words passes the answerability check."""
    similarity = _cosine(embedder) if embedder is not None else None
    items = plan(chunks, n, seed)
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
                sample, reason = judge(llm, item, drafted, [s["question"] for s in kept], similarity)
                record: dict[str, Any] = {"index": item.index}
                if reason in _REDO and drafted:  # one rewrite, told why: a small model often gets it right then
                    record["first_draft"], record["first_reason"] = drafted, reason
                    drafted = write(llm, item, {**drafted, "reason": reason})
                    sample, reason = judge(llm, item, drafted, [s["question"] for s in kept], similarity)
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
        else:
            summary.rejected[record["reason"]] += 1
    with out.open("w", encoding="utf-8") as handle:
        for sample in kept:
            handle.write(json.dumps(sample, ensure_ascii=False) + "\n")
    return summary


def _cosine(embedder: Any):
    import numpy as np

    def similarity(a: str, b: str) -> float:
        vectors = np.asarray(embedder.embed_documents([a, b]), dtype=float)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return float(vectors[0] @ vectors[1])

    return similarity


def review(path: Path, sample_id: str, state: str, who: str, reference: str | None = None) -> dict:
    """Record a person's verdict on one generated question: accepted, edited (a new reference) or rejected, by
    whom and when (the file is rewritten atomically); `eval run` leaves rejected questions out."""
    if state not in ("accepted", "edited", "rejected"):
        raise ValueError(f"unknown review state {state!r}")
    samples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    sample = next((s for s in samples if s["id"] == sample_id), None)
    if sample is None:
        raise KeyError(sample_id)
    if state == "edited":
        sample["reference"] = (reference or "").strip() or sample["reference"]
    sample.setdefault("metadata", {})["reviewed"] = {
        "state": state,
        "by": who.strip() or "anonymous",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    temporary = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
    temporary.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8")
    os.replace(temporary, path)
    return sample
