"""The filters a generated question passes before it is kept (eval/generate.py): standalone, not a copy, not too
specific, not a duplicate, a well-formed reference, and the answerability check's matching and refusal tests."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from eval.answer_match import answer_match, numbers
from rag.answer.citations import content_words, facts_missing, figures_of

COPY_RUN = 8  # a question repeating this many words of its chunk in a row is a copy
COPY_SHARE = 0.85
DUPLICATE = 0.8
# "Too specific": a question may name at most one of its passage's rare terms (in at most RARE_SHARE of the
# documents). Calibrated on SciFact's 809 human train claims: with terms in ≤ 5 of the
# 5,183 abstracts, 62 % carry none of their gold abstract's rare terms, 24 % one, 13 % two or more.
RARE_SHARE = 0.001
RARE_ALLOWED = 1
SIMILAR = 0.85  # answers and references this close in the embedder's space say the same (paraphrases: 0.87-0.97)

# a question that points at its passage instead of naming its subject cannot be searched for
DEICTIC = re.compile(
    r"\b(this|the|that) (study|passage|text|article|paper|document|report|trial|research|excerpt|abstract|section"
    r"|review|systematic review|meta-analysis)\b"
    r"|\b(the|this) authors?\b|\baccording to the\b|\bmentioned (above|here|in)\b"
    r"|\b(mentioned|described|given|discussed)\s*\?"
    r"|\bthe (above|following|given)\b"
    r"|\b(being|was|were) (studied|investigated|examined|tested|described|discussed|reported)\s*\?",
    re.IGNORECASE,
)
_NOUNS = r"(?:study|passage|text|article|paper|document|report|trial|research|excerpt|abstract|section|review)"
# a pointer that frames a question which names its subject anyway: "In this study, what did metformin ..."
_FRAME = re.compile(
    rf"^\s*(?:(?:in|from|according to|based on|as (?:described|reported|stated) in) (?:this|the|that) {_NOUNS}"
    rf"(?: (?:above|here))?\s*,\s*)|(?:,?\s+(?:in|according to|based on) (?:this|the|that) {_NOUNS}(?=\s*\?\s*$))",
    re.IGNORECASE,
)
_GENERIC = {  # words a question can hold and still name nothing
    "study", "studies", "result", "results", "finding", "findings", "main", "primary", "objective", "aim",
    "purpose", "conclusion", "effect", "effects", "researchers", "investigated", "found", "show", "shown",
}  # fmt: skip
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(f"{_UNITS} seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS |= {"half": "0.5", "a third": "0.33", "a quarter": "0.25", "three-quarters": "0.75", "two-thirds": "0.67"}
_SPELLED = "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True))
_NUMBER_WORD = re.compile(rf"\b({_SPELLED})\b", re.IGNORECASE)
# what a small model's JSON sometimes puts in an answer instead of a figure: "{0.5}%", ".9%", "time:10%", a URL
_MALFORMED = re.compile(r"[{}]|https?://|(?:^|\s)\.\d|\b[a-z]+:\d|\d\. \d|\b(?:log|ln|exp|sqrt)\(", re.IGNORECASE)


_SPREAD = re.compile(r"\s*(?:±|\+/-)\s*\d[\d,]*(?:\.\d+)?")
# a question whose answer is a quantity: its figure is the answer, a sentence without it is not
_QUANTITY = re.compile(
    r"\bhow (?:many|much|long|often|large|high|low|old|big|far)\b"
    r"|\bwhat (?:(?:is|was|are|were) )?(?:the )?(?:total |average |mean |median )?(?:percentage|proportion|number"
    r"|fraction|share|rate|ratio|amount|level|dose|concentration|size|age|duration|frequency|range|value|year)\b",
    re.IGNORECASE,
)


# "What does the passage about X say?" (a small model's rewrite of "What does this study find?") asks what is
# known about X: the subject is named, only the pointer goes
_SAYS = r"(?:say|state|find|show|report|conclude|describe|discuss|suggest|indicate|reveal)"
_ABOUT = re.compile(
    rf"^\s*what (?:does|do|did) (?:the|this|that) {_NOUNS}s? (?:(?:about|on) (?P<subject>.+?) {_SAYS}"
    rf"|{_SAYS} (?:about|on|regarding) (?P<after>.+?))\s*\?\s*$",
    re.IGNORECASE,
)

# "Does the passage suggest that X?" (the 1.5B's finding question, kept by it when told to rewrite) asks whether X
# holds: "Is there evidence that X?" — a SciFact claim put as a question
_CLAIM = re.compile(
    rf"^\s*(?:does|do|did|is|are) (?:the|this|that) (?:{_NOUNS}|authors?|researchers?|results?|findings?|data)s?"
    rf"(?: \w+)? (?:{_SAYS}|support|demonstrate|confirm|claim|propose)s? (?:that )?(?P<claim>.+?)\s*\?\s*$",
    re.IGNORECASE,
)
# a small model echoing its instruction into a "not in the documents" question ("What was the profit for 2040, a
# year not covered?")
_TELLS = re.compile(
    r",\s*(?:a year |which |that )?(?:is |was )?(?:not (?:covered|stated|given|mentioned|reported|stating)"
    r"|the passage does not \w+)[^?]*(?=\?\s*$)",
    re.IGNORECASE,
)

_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")  # a year a passage names (1500–2099)
# An "unanswerable" question asks for a detail of a kind its passage holds none of, so that it is unanswerable by
# construction: a small model asked only for "something the passage does not say" wrote questions the passage
# answers (8 of 11 on SciFact). The first kind the passage lacks is asked for.
ABSENT = (
    ("the year or date it happened or was first reported", _YEAR),
    (
        "its price or cost in money",
        re.compile(r"[$€£¥]|\b(?:dollars?|euros?|pounds sterling|costs?|price[sd]?|USD)\b", re.I),
    ),
    (
        "the country or city where it was done",
        re.compile(
            r"\b(?:countr(?:y|ies)|cit(?:y|ies)|nation(?:al|wide)?)\b|"
            r"\b(?:US|USA|UK|China|Japan|India|Europe|European|America|American|Africa|African|Canada|Germany|France)\b"
        ),
    ),
)


def absent_detail(text: str, covered: set[int] | None = None) -> tuple[str, str]:
    """What an unanswerable question about `text` asks for, and the year it names ("" for none). A passage with
    years (a statement table, a report) is asked for the first later year no document names — `covered`, the
    corpus's years: unanswerable by construction, however a model reads the passage (on TAT-QA the model answered
    11 of 12 questions asking for a place it was sure of); else the first kind in ABSENT it holds none of."""
    years = {int(y) for y in _YEAR.findall(text)}
    if years and covered is not None:
        year = max(years) + 1
        while year in covered:
            year += 1
        return f"its figures for {year}", str(year)
    return next((detail for detail, found in ABSENT if not found.search(text)), ""), ""


def corpus_years(texts: Iterable[str]) -> set[int]:
    """Every year (1500–2099) the texts name."""
    return {int(year) for text in texts for year in _YEAR.findall(text)}


def standalone(question: str) -> str | None:
    """The question without a pointer at its passage that only frames it ("In this study, what …?" → "What …?",
    "What does the passage about X say?" or "… say about X?" → "What is known about X?"), or None when it still
    points at the passage or names too little (two content words) to be searched for."""
    question = _TELLS.sub("", question)  # "…, a year not covered?": a question does not say it is unanswerable
    about, claim = _ABOUT.match(question), _CLAIM.match(question)
    subject = about and (about["subject"] or about["after"])
    if claim:  # "Does the passage suggest that X?" asks whether X holds, as a reader would ask it
        stripped = f"Is there evidence that {claim['claim']}?"
    elif subject:
        stripped = f"What is known about {subject}?"
    else:
        stripped = _FRAME.sub("", question).strip()
    stripped = stripped[:1].upper() + stripped[1:]
    if DEICTIC.search(stripped) or len(content_words(stripped) - _GENERIC) < 3 or not stripped.endswith("?"):
        return None
    return stripped


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


class RareTerms:
    """Document frequencies of content words over a corpus's documents: which of a passage's terms are rare."""

    def __init__(self, documents: Iterable[str]):
        self.frequency: Counter = Counter()
        count = 0
        for text in documents:
            self.frequency.update(content_words(text))
            count += 1
        self.limit = round(RARE_SHARE * count)  # under 500 documents no term is rare: each is in ≥ 0.1 % of them

    def named(self, question: str, passages: list[str]) -> list[str]:
        """The passages' rare terms the question repeats (a question naming two or more is too specific: it
        finds its passage by string matching, which human questions rarely allow)."""
        held = set().union(*(content_words(p) for p in passages)) if passages else set()
        return sorted(w for w in content_words(question) & held if self.frequency[w] <= self.limit and w.isalpha())


def gives_away(question: str, reference: str) -> bool:
    """Every content word and figure of the reference is in the question ("What is the Aurora E-Bike Owner's
    Manual?" → "Aurora E-Bike"): nothing to find."""
    said = content_words(reference)
    return bool(said) and said <= content_words(question) and figures_of(reference) <= figures_of(question)


# "the main function/finding/cause of X": a passage may answer it in several ways, and a check that answers with
# another of them fails a good question (on SciFact 38 % of such drafts passed the check, 65 % of the others)
_VAGUE = re.compile(
    r"\b(?:main|primary|key|major|principal)\s+(?:function|role|finding|findings|conclusion|cause|purpose|focus|aim"
    r"|objective|result|results|difference|differences|effect|mechanism)\b",
    re.IGNORECASE,
)


_YES_NO = re.compile(r"^(?:does|do|did|is|are|was|were|can|could|has|have|had|will|would|should|may|might)\b", re.I)


def polar(question: str, answer: str) -> str | None:
    """ "Yes" or "No" for a yes-or-no question answered by one ("Yes, it lowers …" → "Yes"); None otherwise."""
    said = re.findall(r"[a-z]+", answer.lower())[:1]
    if _EITHER.search(question):  # "Did X increase or decrease …?" is answered by one of the two, not by Yes
        return None
    return said[0].capitalize() if _YES_NO.match(question.strip()) and said in (["yes"], ["no"]) else None


_DIRECTION = (
    r"(?:increas|decreas|ris|fall|fell|grow|grew|declin|drop|improv|worsen|higher|lower|more|less|fewer|up|down)"
)
_EITHER = re.compile(rf"\b{_DIRECTION}\w* or (?:\w+ )?{_DIRECTION}\w*|\bor not\b", re.IGNORECASE)


def vague(question: str) -> bool:
    return bool(_VAGUE.search(question))


def unfounded(reference: str, passages: list[str], title: str = "") -> str:
    """Why a reference cannot be its passages' answer: "answer not in its passages" when it states a figure or a
    name they do not hold (the model made it up: "about 0.5 mg/dL" beside a passage without 0.5), "answer is the
    title" when it is only the passage's title ("Treatments for somnambulism in adults: assessing the evidence.");
    "" when neither."""
    if facts_missing(reference, "\n".join(passages)):
        return "answer not in its passages"
    said, named = content_words(reference), content_words(title)
    if said and named and len(said & named) / len(said | named) >= DUPLICATE:
        return "answer is the title"
    return ""


def duplicate(question: str, kept: list[str]) -> bool:
    words = content_words(question)
    for other in kept:
        theirs = content_words(other)
        if words and theirs and len(words & theirs) / len(words | theirs) >= DUPLICATE:
            return True
    return False


def well_formed(answer: str, passages: list[str], question: str = "") -> str | None:
    """The reference with a small model's slips in a figure mended ("{38%}" → "38%", ".30%" → "0.30%", "13. 3" →
    "13.3") when the mended figure is in the passages; None when it is still malformed (a URL, "time:10%", a figure
    not there) or when `question` asks for a quantity and it states none ("How many strains …?" → "The passage
    states that …")."""
    if question and _QUANTITY.search(question) and _first_figure(answer) is None:
        return None
    if not _MALFORMED.search(answer):
        return answer
    mended = re.sub(r"(?:^|(?<=\s))\.(\d)", r"0.\1", answer.replace("{", "").replace("}", ""))
    mended = re.sub(r"(\d)\. (\d)", r"\1.\2", mended).strip()  # "13. 3 years" → "13.3 years"
    if _MALFORMED.search(mended) or not numbers(mended):
        return None
    held = figures_of("\n".join(passages))
    return mended if all(float(raw) in held for raw in re.findall(r"\d+(?:\.\d+)?", mended)) else None


def matches(answer: str, reference: str, similarity: Any = None, question: str = "") -> bool:
    """The model's answer from the gold chunks agrees with the reference: yes/no by its polarity; figures and spans
    by answer_match (number words read as figures: "two" is 2); a sentence by most of the reference's content words,
    or, the question's words aside, the shorter's words mostly in the longer ("To remove impurities from brine."
    for "To remove impurities and contaminants from raw materials"), or — given `similarity(a, b)`, the
    embedder's cosine — by meaning (≥ SIMILAR)."""
    polarity = reference.strip().strip(".").lower()
    if polarity in ("yes", "no"):
        said = re.findall(r"[a-z]+", answer.lower())
        return bool(said) and (said[0] == polarity or (polarity == "no" and said[0] in ("none", "not", "never")))
    gold, said = content_words(reference), content_words(answer)
    spelled = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(1).lower()], answer)
    stated, asks_quantity = figures_of(spelled), bool(_QUANTITY.search(question))
    # a quantity asked, a sentence given ("This review includes six trials (five RCTs …)"): the answer's one
    # figure is the reference's first
    if asks_quantity and stated == {_first_figure(reference)}:
        return True
    if numbers(reference):
        if answer_match(spelled, reference) >= 0.5:
            return True
        held = figures_of(reference)
        # the reference's figures said (its "± spread" aside) and no other: "0.32" for "0.32±0.07 mm Hg/L/min"
        if stated and figures_of(_SPREAD.sub("", reference)) <= stated <= held:
            return True
        # a sentence with a figure in it ("… born before 34 weeks"): every figure said, then its words compared;
        # or, for a question that asks for no quantity, the same meaning with no figure the reference lacks
        wordy = {word for word in gold if not any(ch.isdigit() for ch in word)}
        if len(wordy) < 3:
            return False
        if not held <= stated:
            return (
                similarity is not None
                and stated <= held
                and not asks_quantity
                and similarity(answer, reference) >= SIMILAR
            )
    if gold and len(gold & said) / len(gold) >= 0.6:
        return True
    if question:  # beyond the question's own words, the shorter of the two mostly inside the longer
        gold, said = gold - content_words(question), said - content_words(question)
        shared = gold & said
        if gold and said and len(shared) >= min(2, len(gold)) and len(shared) / min(len(gold), len(said)) >= 0.6:
            return True
    return similarity is not None and similarity(answer, reference) >= SIMILAR


_REFUSALS = (
    "not stated", "could not find", "not mention", "does not say", "does not state", "not specified",
    "does not specify", "no information", "not provided", "does not provide information", "not discussed",
)  # fmt: skip


def _first_figure(text: str) -> float | None:
    """The first figure of `text`, a number word read as its figure ("six controlled trials" → 6.0)."""
    found = re.search(rf"\d[\d,]*(?:\.\d+)?|\b(?:{_SPELLED})\b", text, re.IGNORECASE)
    if found is None:
        return None
    raw = found.group(0)
    return float(_NUMBER_WORDS.get(raw.lower(), raw).replace(",", ""))


def refused(answer: str) -> bool:
    lowered = answer.lower()
    return any(phrase in lowered for phrase in _REFUSALS)


def unanswered(answer: str, passages: list[str]) -> str:
    """Why an "unanswerable" question's check confirms it: "refused", or "unsupported" when the model's answer
    names figures or names its passages do not hold (it made them up: the passages do not say it); "" when the
    model answered from the passages (the question was answerable after all)."""
    if refused(answer):
        return "refused"
    return "unsupported" if facts_missing(answer, "\n".join(passages)) else ""


def cosine(embedder: Any):
    """`similarity(a, b)` for matches(): the cosine of the two texts' vectors from `embedder`."""
    import numpy as np

    def similarity(a: str, b: str) -> float:
        vectors = np.asarray(embedder.embed_documents([a, b]), dtype=float)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return float(vectors[0] @ vectors[1])

    return similarity
