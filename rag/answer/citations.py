"""Parse [n] citations in an answer and check each one against the passage it cites.

What "supported" means here, honestly: every number and every name of the cited sentence is in the passage
(or in where it comes from: the file name and section the model was shown), and the sentence (citations removed)
shares at least half of its content words with the passage (lexical check), or its embedding is close to the
passage's (cosine ≥ threshold, with the same embedding model as retrieval). This is an overlap check, not an
entailment (NLI) model: it catches citations to the wrong passage, figures borrowed from another product's
passage and invented claims with little overlap, not subtle contradictions. Two answer-level checks sit beside
it: :func:`restates_question` (an answer that only repeats the question says nothing) and :func:`states_asked`
(a yes/no answer needs a passage that names the thing asked about).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

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
# A figure: digits with thousands separators and decimals, not glued to letters ("FY2023", "Q3", "10-K" are names).
_NUMBER = re.compile(r"(?<![\w.-])\d[\d,]*(?:\.\d+)?(?![\w-]|\.\d)")
_NUMBER_WORDS = {
    word: float(value)
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
# Scales a sentence may restate a passage's figure in: thousands as millions, a fraction as a percentage.
_SCALES = (1.0, 1e3, 1e-3, 1e6, 1e-6, 1e9, 1e-9, 100.0, 0.01)
# A name: a capitalised word inside a sentence (the first word is capitalised anyway), possessive dropped.
_NAME = re.compile(r"(?<=[\s(\"'])([A-Z][A-Za-z]*(?:[-'’][A-Za-z]+)*)(?!\w)")
_NOT_NAMES = frozenset(
    {"i", "yes", "no", "the", "a", "an", "it", "this", "these", "its", "in", "on", "and", "or"}
    | {"usd", "eur", "gbp", "jpy", "chf", "cny", "cad", "aud", "inr"}  # currencies: "$" in the passage
)
# Words an answer may add to a question's own words and still say nothing ("X has done Y" for "Has X made Y?").
_LIGHT_WORDS = frozenset(
    [
        "yes",
        "no",
        "did",
        "does",
        "do",
        "done",
        "made",
        "make",
        "makes",
        "making",
        "had",
        "having",
        "any",
        "some",
        "indeed",
        "according",
        "passage",
        "passages",
        "document",
        "documents",
        "context",
        "mentioned",
        "mentions",
        "states",
        "stated",
    ]
)

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
    missing: list[str] = field(default_factory=list)  # numbers and names of the sentence its passage lacks


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


_ANY_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")  # a passage's figures, glued or not ("1-percentage-point", "FY2023")


def figures_of(text: str) -> set[float]:
    """Every figure `text` holds, liberally (a claim's own figures are read strictly, by _NUMBER)."""
    values = {float(raw.replace(",", "").rstrip(".")) for raw in _ANY_NUMBER.findall(text) if raw.strip(",.")}
    return values | {_NUMBER_WORDS[word] for word in _WORD.findall(text.lower()) if word in _NUMBER_WORDS}


def has_figure(raw: str, figures: set[float]) -> bool:
    """`raw` is one of `figures`, also rounded to its own decimals or in another scale (1,234 thousand as 1.23)."""
    value, decimals = float(raw.replace(",", "")), len(raw.partition(".")[2])
    return any(round(figure * scale, decimals) == value for figure in figures for scale in _SCALES)


def _words_of(text: str) -> set[str]:
    """Lower-case words and their hyphen parts ("aurora-e-bike-manual.md" -> aurora, e, bike, manual, md)."""
    words = set(_WORD.findall(text.lower()))
    return words | {piece for word in words for piece in re.split(r"[.'-]", word) if piece}


def names_of(claim: str) -> list[str]:
    """Capitalised words inside a sentence (a product, a company, a place), possessives dropped."""
    found = (re.sub(r"['’]s$", "", name) for name in _NAME.findall(claim))
    return [name for name in found if name.lower() not in _NOT_NAMES and len(name) > 1]


def facts_missing(claim: str, passage: str, place: str = "", given: str = "") -> list[str]:
    """The numbers and names of `claim` that neither `passage` nor `place` (its file name and section, as the
    model saw them) holds: what a sentence borrowed from elsewhere (another product's name beside this
    passage's figure). The figures of `given` (the question's years, a calculation's result) count as stated; the
    question's names do not — the borrowed answer names the product asked about."""
    figures, words = figures_of(f"{passage}\n{given}"), _words_of(f"{passage}\n{place}")
    glued = re.sub(r"[^a-z0-9]", "", place.lower())  # a file name writes "American Express" as AMERICANEXPRESS
    missing = [raw for raw in _NUMBER.findall(claim) if not has_figure(raw, figures)]
    for name in names_of(claim):
        pieces = [piece for piece in re.split(r"[-']", name.lower()) if piece]
        if not all(piece in words or (len(piece) > 2 and piece in glued) for piece in pieces):
            missing.append(name)
    return missing


def check_citations(
    answer: str,
    passages: list[str],
    embed: Embed | None = None,
    min_lexical: float = 0.5,
    min_cosine: float = 0.6,
    places: list[str] | None = None,
    facts: bool = True,
    given: str = "",
) -> list[CitationCheck]:
    """One check per (sentence, cited number) in `answer`; passages are numbered from 1. `places` (where each
    comes from, as the prompt showed it) count for names, the figures of `given` (the question, a calculation's
    result) count as stated. `facts=False`: the
    overlap checks alone (what bench/grounding_bench.py compares with)."""
    checks: list[CitationCheck] = []
    pending: list[tuple[CitationCheck, str, str]] = []
    for sentence in sentences(answer):
        claim = strip_citations(sentence)
        for number in cited_numbers(sentence):
            if not 1 <= number <= len(passages):
                checks.append(CitationCheck(number, sentence, valid=False, supported=False))
                continue
            passage = passages[number - 1]
            place = places[number - 1] if places else ""
            missing = facts_missing(claim, passage, place, given) if facts else []
            words = content_words(claim)
            lexical = len(words & content_words(passage)) / len(words) if words else 0.0
            # Word overlap means little for a claim of one or two words ("PWNED [1]"): those go to the
            # embedding check instead.
            lexical_ok = lexical >= min_lexical and len(words) >= _MIN_CLAIM_WORDS
            check = CitationCheck(number, sentence, valid=True, supported=lexical_ok, lexical=lexical, missing=missing)
            checks.append(check)
            if missing:  # a figure or a name the passage does not hold: no overlap makes up for it
                check.supported = False
            elif not check.supported and embed is not None and claim:
                pending.append((check, claim, passage))
    if pending:
        vectors = embed([claim for _, claim, _ in pending] + [passage for _, _, passage in pending])
        claims, cited = vectors[: len(pending)], vectors[len(pending) :]
        for (check, _, _), claim_vector, passage_vector in zip(pending, claims, cited, strict=True):
            check.cosine = float(np.dot(claim_vector, passage_vector))
            check.supported = check.cosine >= min_cosine
    return checks


def repair_citations(
    answer: str,
    checks: list[CitationCheck],
    passages: list[str],
    places: list[str] | None = None,
    given: str = "",
    min_lexical: float = 0.5,
) -> tuple[str, list[str]]:
    """Move a citation to the passage that holds its sentence: a small model often cites [2] for a figure printed
    in [1]. A sentence whose figures or names its cited passage lacks is re-cited to the one other passage that
    holds them all and shares at least `min_lexical` of its content words (the best such). Returns the answer and
    what was moved; the caller checks the new answer again."""
    places = places or [""] * len(passages)
    notes: list[str] = []
    for check in checks:
        if check.supported or not check.valid or not check.missing:
            continue
        claim = strip_citations(check.sentence)
        words = content_words(claim)
        best, best_share = 0, min_lexical
        for number, passage in enumerate(passages, start=1):
            if number == check.number or facts_missing(claim, passage, places[number - 1], given):
                continue
            share = len(words & content_words(passage)) / len(words) if words else 0.0
            if share >= best_share:
                best, best_share = number, share
        if best and check.sentence in answer:
            moved = re.sub(rf"\[{check.number}\]", f"[{best}]", check.sentence)
            answer = answer.replace(check.sentence, moved, 1)
            notes.append(
                f"citation [{check.number}] moved to [{best}], the passage that holds {', '.join(check.missing)}"
            )
    return answer, notes


def _stem(word: str) -> str:
    """A crude stem for comparing an answer's words with the question's: "lasts"/"last", "acquisitions"/"acquired"."""
    word = word.removesuffix("'s")
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:5]


def restates_question(answer: str, question: str) -> bool:
    """True when the answer (citations, "Yes"/"No" and light verbs aside) holds no word and no figure that the
    question does not: "AMCOR has done major acquisitions in FY2023. [1]" for "Has AMCOR made any major
    acquisitions in FY2023?" says nothing, whatever passage it cites."""
    claim = strip_citations(answer)
    asked = {_stem(word) for word in content_words(question)}
    new = {word for word in content_words(claim) if word not in _LIGHT_WORDS and _stem(word) not in asked}
    return bool(content_words(claim)) and not new and figures_of(claim) <= figures_of(question)


def yes_or_no(answer: str) -> bool:
    return bool(re.match(r"\s*(yes|no)\b", answer, re.IGNORECASE))


def states_asked(question: str, passage: str, place: str = "", share: float = 0.75) -> bool:
    """A yes/no answer's test: the passage (with where it comes from) names at least `share` of what the question
    asks about — "Does the Aurora have a walk-assist mode?" needs "walk-assist", not only "mode". A long question
    carries framing words ("based on", "if … is not a useful metric"): from eight words on, half is enough."""
    asked = {word for word in content_words(question) if word not in _LIGHT_WORDS}
    if not asked:
        return False
    if len(asked) >= 8:
        share = min(share, 0.5)
    stems = {_stem(word) for word in _words_of(f"{passage}\n{place}")}
    held = [word for word in asked if all(_stem(piece) in stems for piece in word.split("-") if piece)]
    return len(held) >= share * len(asked)
