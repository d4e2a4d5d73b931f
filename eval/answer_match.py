"""Answer correctness without a judge, for datasets whose references are short (TAT-QA: numbers and spans).

``answer_match(answer, reference)`` is the share of the reference's items found in the answer: each number
(commas, currency and percent signs dropped; equal when the answer's number is the reference's rounded to the
answer's own precision, sign ignored, so "a 4.1% decrease" matches -4.08) and each text span (lower-cased,
punctuation and articles dropped, contained in the answer). A generated sentence is not an extracted span, so
containment, not exact match, is the fair test; it is the same normalisation idea as TAT-QA's own scorer.
"""

from __future__ import annotations

import re
import string

_NUMBER = re.compile(r"(?<![\w.])[-−]?\(?\$?\d[\d,]*(?:\.\d+)?\)?%?")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SCALES = ("thousand", "million", "billion", "percent")
_CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


def numbers(text: str) -> list[tuple[float, int]]:
    """The numbers in `text` as (value, decimals); "(1,234)" is negative, as in financial tables."""
    found = []
    for match in _NUMBER.finditer(text):
        raw = match.group(0)
        negative = raw.startswith(("-", "−")) or (raw.startswith("(") and raw.endswith(")"))
        digits = raw.strip("-−()$%").replace(",", "")
        try:
            value = float(digits)
        except ValueError:
            continue
        decimals = len(digits.partition(".")[2])
        found.append((-value if negative else value, decimals))
    return found


def normalise(text: str) -> str:
    text = text.lower().replace("−", "-")
    text = "".join(" " if ch in string.punctuation and ch not in ".-" else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.replace(". ", " ").split()).strip(". ")


def _number_matches(gold: float, gold_decimals: int, candidates: list[tuple[float, int]]) -> bool:
    for value, decimals in candidates:
        if gold_decimals and not decimals and gold != round(gold):  # 4.08 is not stated by "4"; 1577.00 is by "1,577"
            continue
        for wanted in (gold, -gold):
            if round(wanted, decimals) == value or abs(wanted - value) <= 1e-9 * max(1.0, abs(wanted)):
                return True
    return False


def reference_items(reference: str) -> list[str]:
    """A reference's items: TAT-QA joins multi-span answers with ", " and appends the scale word."""
    body = reference.strip()
    for scale in _SCALES:
        if body.lower().endswith(" " + scale):
            body = body[: -len(scale) - 1]
            break
    if numbers(body) and not re.sub(r"[\d,.\s$%()\-−]", "", body):
        return [item.strip() for item in re.split(r",\s(?=[-−($]?\d)", body) if item.strip()]
    return [item.strip() for item in body.split(", ") if item.strip()] or [body]


def answer_match(answer: str, reference: str) -> float:
    """The share of the reference's items (numbers, spans) the answer states; 0.0 for an empty answer."""
    items = reference_items(reference)
    if not answer.strip() or not items:
        return 0.0
    answer = _CITATION.sub(" ", answer)
    answer_numbers = numbers(answer)
    answer_text = normalise(answer)
    hits = 0
    for item in items:
        item_numbers = numbers(item)
        if item_numbers and not re.sub(r"[\d,.\s$%()\-−]", "", item):
            hits += all(_number_matches(value, decimals, answer_numbers) for value, decimals in item_numbers)
        else:
            hits += normalise(item) in answer_text
    return hits / len(items)
