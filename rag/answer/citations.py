"""Parse [n] citations in an answer and check each one against the passage it cites.

What "supported" means here, honestly: the cited sentence (citations removed) shares at least half
of its content words with the passage (lexical check), or its embedding is close to the passage's
(cosine ≥ threshold, with the same embedding model as retrieval). This is an overlap check, not an
entailment (NLI) model: it catches citations to the wrong passage and invented claims with little
overlap, not subtle contradictions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "which",
        "with",
        "what",
        "when",
        "where",
        "who",
        "how",
        "not",
        "no",
        "can",
        "will",
        "would",
        "should",
        "there",
        "their",
        "they",
        "them",
        "than",
        "then",
        "these",
        "those",
        "also",
    }
)

_MIN_CLAIM_WORDS = 3

Embed = Callable[[list[str]], np.ndarray]


@dataclass
class Citation:
    """A numbered source of an answer, as shown to the user."""

    number: int
    chunk_id: str
    source: str
    page: int | None
    section: str | None
    snippet: str
    supported: bool
    part: str = ""  # the place inside the file: "slide 2", "attachment terms.pdf · page 3" (rag.documents.part)

    @property
    def where(self) -> str:
        """ "guide.pdf · page 3 · Setup": the one way a source's place is written (rag.documents.location)."""
        from rag.documents import location

        if not self.part:
            return location({"source": self.source, "page": self.page, "section": self.section})
        return " · ".join(piece for piece in (self.source, self.part, self.section or "") if piece)


@dataclass
class CitationCheck:
    number: int
    sentence: str
    valid: bool  # the number names a passage that exists
    supported: bool  # the sentence is backed by that passage (see module docstring)
    lexical: float = 0.0
    cosine: float = 0.0


def sentences(text: str) -> list[str]:
    """Sentences of an answer; a citation left alone after a full stop ("… 2014. [1].") joins its sentence."""
    result: list[str] = []
    for part in (part.strip() for part in _SENTENCE_END.split(text)):
        if not part:
            continue
        if result and _CITATION.sub("", part).strip(" .,;") == "":
            result[-1] = f"{result[-1]} {part}"
        else:
            result.append(part)
    return result


def cited_numbers(sentence: str) -> list[int]:
    return [int(n) for group in _CITATION.findall(sentence) for n in re.split(r"\s*[,;]\s*", group)]


def strip_citations(text: str) -> str:
    return re.sub(r"\s+", " ", _CITATION.sub("", text)).strip()


def content_words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS and len(word) > 1}


def check_citations(
    answer: str, passages: list[str], embed: Embed | None = None, min_lexical: float = 0.5, min_cosine: float = 0.6
) -> list[CitationCheck]:
    """One check per (sentence, cited number) in `answer`; passages are numbered from 1."""
    checks: list[CitationCheck] = []
    pending: list[tuple[CitationCheck, str, str]] = []
    for sentence in sentences(answer):
        claim = strip_citations(sentence)
        for number in cited_numbers(sentence):
            if not 1 <= number <= len(passages):
                checks.append(CitationCheck(number, sentence, valid=False, supported=False))
                continue
            words = content_words(claim)
            lexical = len(words & content_words(passages[number - 1])) / len(words) if words else 0.0
            # Word overlap means little for a claim of one or two words ("PWNED [1]"): those go to the
            # embedding check instead.
            lexical_ok = lexical >= min_lexical and len(words) >= _MIN_CLAIM_WORDS
            check = CitationCheck(number, sentence, valid=True, supported=lexical_ok, lexical=lexical)
            checks.append(check)
            if not check.supported and embed is not None and claim:
                pending.append((check, claim, passages[number - 1]))
    if pending:
        vectors = embed([claim for _, claim, _ in pending] + [passage for _, _, passage in pending])
        claims, cited = vectors[: len(pending)], vectors[len(pending) :]
        for (check, _, _), claim_vector, passage_vector in zip(pending, claims, cited, strict=True):
            check.cosine = float(np.dot(claim_vector, passage_vector))
            check.supported = check.cosine >= min_cosine
    return checks
