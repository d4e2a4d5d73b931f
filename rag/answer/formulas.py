"""Standard metrics computed from statement line items, no model in the loop: "What is the FY2019 fixed asset
turnover ratio?" → revenue of 2019 over the average PP&E of 2018 and 2019, each figure read off a retrieved
statement row of its year, the arithmetic done by the calculator's safe evaluator.

``answer.formulas`` names a packaged set (``finance``: rag/answer/formula_sets/finance.yaml) or a YAML file of
``items`` (line item → patterns over a row's label) and ``metrics`` (``when`` over the question → a ``formula``
over ``item[Y]`` / ``item[Y-1]`` and a ``unit``). A question for a value ("what is …", "calculate …") that names a
metric is computed when every input is found; else the model plans as before (rag/answer/arithmetic.py). A
question naming a span of years and an "N-year average" gets the metric of each year averaged; one asking for an
adjusted figure ("excluding FX", "organic", "non-GAAP") is left to the model: the statements do not print it. An
amount is given in the units the question asks for ("in USD billions"), converted from the statement's ("in
millions" → / 1000): a small model copies "5,466,312" from a table in thousands as millions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rag.answer.arithmetic import Calculation, Figure, Input, computed, statement_figures
from rag.answer.context import expand, passage_text
from rag.documents import Hit
from rag.errors import ConfigError
from rag.retrievers.base import Retriever
from rag.retrievers.glossary import packaged_file
from rag.stores.base import VectorStore

PACKAGED = Path(__file__).parent / "formula_sets"
_ASKS_A_VALUE = re.compile(r"\b(what (is|was|were|are)|calculate|compute|how (much|many))\b", re.IGNORECASE)
# an adjusted figure ("excluding FX", "organic", "non-GAAP") is not what the statements' rows compute
_ADJUSTED = re.compile(r"\b(exclud\w*|organic|non[- ]?gaap|constant currency|adjusted)\b", re.IGNORECASE)
_ASKED_SCALE = re.compile(r"\bin (?:units of )?(?:USD |US\$ ?|\$ ?)?(thousands|millions|billions)\b", re.IGNORECASE)
_SCALES = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
_ROUND_TO = re.compile(r"\bround(?: your answer| the answer| it)? to (\w+) decimal", re.IGNORECASE)
_DIGITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "0": 0, "1": 1, "2": 2, "3": 3}
_UNADJUSTED = re.compile(r"\bunadjusted\b", re.IGNORECASE)
_TERM = re.compile(r"\b([a-z_]+)\[Y(-1)?\]")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)|\bFY ?(\d{2})(?!\d)", re.IGNORECASE)  # "FY20": 2020
# A yes/no question about a metric's direction ("Does Adobe have an improving operating margin?", "Did Pfizer grow
# its PPNE between FY20 and FY21?") or sign ("Does Corning have positive working capital?"): the metric of the year
# and of the year before (or of the years named) computed, and the answer says which way it went.
_ASKS_YES_NO = re.compile(r"^\s*(does|did|is|was|are|were|has|have|had)\b", re.IGNORECASE)
_UP = re.compile(r"\b(improv\w*|grow\w*|grew|increas\w*|ris(e|es|ing)|rose|expand\w*)\b", re.IGNORECASE)
_DOWN = re.compile(r"\b(declin\w*|decreas\w*|deteriorat\w*|fall\w*|fell|shrink\w*|shrank|drop\w*)\b", re.IGNORECASE)
_SIGN = re.compile(r"\b(positive|negative)\b", re.IGNORECASE)
_YEARS_AVERAGE = re.compile(r"\b(\d|two|three|four|five)[- ]year average\b", re.IGNORECASE)
_FOOTNOTE = re.compile(r"\((?:[a-z]|\d{1,2}|notes? \d+(?:(?:,| and) \d+)*)\)|\$|[:*]", re.IGNORECASE)


@dataclass(frozen=True)
class Metric:
    when: re.Pattern[str]
    formula: str
    unit: str


class Formulas:
    def __init__(
        self,
        items: dict[str, list[re.Pattern[str]]],
        metrics: list[Metric],
        name: str = "",
        statements: dict[str, str] | None = None,
    ):
        self.items, self.metrics, self.name = items, metrics, name
        self.statements = statements or {}  # line item -> the statement that prints it

    @classmethod
    def load(cls, name_or_path: str) -> Formulas:
        """A packaged set by name (finance) or a YAML file; a clear error for anything else."""
        path = packaged_file(name_or_path, PACKAGED, "answer.formulas", "set")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            items = {
                str(name): [re.compile(str(p), re.IGNORECASE) for p in patterns]
                for name, patterns in raw["items"].items()
            }
            metrics = [
                Metric(re.compile(str(m["when"]), re.IGNORECASE), str(m["formula"]), str(m.get("unit", "")))
                for m in raw["metrics"]
            ]
        except (yaml.YAMLError, KeyError, TypeError, AttributeError, re.error) as exc:
            raise ConfigError(
                f"answer.formulas {path}: it needs `items` (name: [patterns]) and `metrics` "
                f"([{{when, formula, unit}}]): {exc}"
            ) from None
        statements = {str(item): str(title) for title, named in (raw.get("statements") or {}).items() for item in named}
        for metric in metrics:
            unknown = {name for name, _ in _TERM.findall(metric.formula)} - set(items)
            if unknown:
                raise ConfigError(f"answer.formulas {path}: {metric.formula!r} names unknown items {sorted(unknown)}")
        return cls(items, metrics, name_or_path, statements)

    def metric_for(self, question: str) -> Metric | None:
        """The first metric a question for a value (or a yes/no about its direction or sign) names (None: not a
        question this set computes)."""
        asks = _ASKS_A_VALUE.search(question) or (_ASKS_YES_NO.search(question) and _asks_about(question))
        if not asks or _ADJUSTED.search(_UNADJUSTED.sub(" ", question)):
            return None
        return next((metric for metric in self.metrics if metric.when.search(question)), None)

    def answer(
        self, question: str, contexts: list[Hit], retriever: Retriever, store: VectorStore
    ) -> tuple[Calculation | None, list[Hit]]:
        """`calculate` over an answer's passages; a missing line item is searched for in the same documents (three
        hits, each read with its neighbouring chunks in `store`: the column years above a statement's rows).
        Returns the calculation and the hits looked up, which the caller cites after the passages."""
        found: list[Hit] = []
        sources = sorted({str(hit.metadata.get("source", "")) for hit in contexts})

        def lookup(query: str) -> list[str]:
            seen = {hit.id for hit in contexts + found}
            hits = expand([h for h in retriever.retrieve(query, 3, {"source": sources}) if h.id not in seen], store, 1)
            found.extend(hits)
            return [passage_text(hit) for hit in hits]

        return self.calculate(question, [passage_text(hit) for hit in contexts], lookup), found

    def calculate(
        self, question: str, passages: list[str], lookup: Callable[[str], list[str]] | None = None
    ) -> Calculation | Comparison | None:
        """The metric the question names, from the passages' statement rows; None when an input is missing.
        `lookup` searches for a missing line item ("operating income 2022") and returns more passages, numbered
        after `passages` (the caller adds their hits to the answer's context, so they are cited like the others).
        A yes/no question about the metric's direction or sign gets a :class:`Comparison`."""
        metric = self.metric_for(question)
        years = _years(question)
        if metric is None or not years:
            return None
        passages = list(passages)
        if _ASKS_A_VALUE.search(question) or not _ASKS_YES_NO.search(question):
            average = _YEARS_AVERAGE.search(question) and len(years) > 1
            return self._compute(metric, range(years[0], years[-1] + 1) if average else [years[-1]], question,
                                 passages, lookup)  # fmt: skip
        named = metric.when.search(question).group(0)
        asked = _asks_about(question) or ""
        later = self._compute(metric, [years[-1]], question, passages, lookup)
        if later is None or asked in ("positive", "negative"):
            return None if later is None else Comparison(named, asked, None, later, years[-1])
        earlier_year = years[0] if len(years) > 1 else years[-1] - 1
        earlier = self._compute(metric, [earlier_year], question, passages, lookup)
        return None if earlier is None else Comparison(named, asked, earlier, later, years[-1], earlier_year)

    def _compute(
        self,
        metric: Metric,
        span: range | list[int],
        question: str,
        passages: list[str],
        lookup: Callable[[str], list[str]] | None,
    ) -> Calculation | None:
        """The metric of each year of `span` (averaged when several); `passages` grows by what `lookup` finds."""
        figures = statement_figures(question, passages, most=10_000)
        inputs: dict[tuple[str, int], Input] = {}
        scales: dict[str, str] = {}  # letter -> the scale its value is in (the first input's)
        per_year: list[str] = []
        for year in span:
            expression = metric.formula
            for item, back in sorted(set(_TERM.findall(metric.formula))):
                wanted = year - (1 if back else 0)
                if (item, wanted) not in inputs:
                    figure = self._figure(item, wanted, figures)
                    if figure is None and lookup is not None:
                        passages.extend(lookup(f"{self.search_words(item)} {wanted}"))
                        figures = statement_figures(f"{question} {wanted}", passages, most=10_000)
                        figure = self._figure(item, wanted, figures)
                    if figure is None:
                        return None
                    letter = _letter(len(inputs))
                    name = f"{figure.label}, {figure.year}" + (f" (in {figure.scale})" if figure.scale else "")
                    # every value in the first input's scale (a table in thousands beside one in millions)
                    base = next((scale for scale in scales.values() if scale), figure.scale)
                    value = figure.value
                    if figure.scale in _SCALES and base in _SCALES:
                        value *= _SCALES[figure.scale] / _SCALES[base]
                    scales[letter] = base if figure.scale else ""
                    inputs[item, wanted] = Input(letter, name, value, figure.printed.strip("()"), figure.passage)
                expression = expression.replace(f"{item}[Y{back}]", inputs[item, wanted].letter)
            per_year.append(expression)
        formula = per_year[0] if len(per_year) == 1 else f"(({') + ('.join(per_year)})) / {len(per_year)}"
        result = computed(formula, {i.letter: i.value for i in inputs.values()})
        if result is None:
            return None
        unit = metric.unit
        known = set(scales.values())
        if not unit and len(known) == 1 and "" not in known:  # an amount: in the statements' units, or as asked
            scale = known.pop()
            asked = _ASKED_SCALE.search(question)
            wanted = asked.group(1).lower() if asked else scale
            if wanted != scale and scale in _SCALES:
                factor = _SCALES[scale] / _SCALES[wanted]
                formula = f"({formula}) * {factor:g}" if factor > 1 else f"({formula}) / {1 / factor:g}"
                result *= factor
            unit = f"in {wanted}"
        rounding = _ROUND_TO.search(question)
        decimals = None if rounding is None else _DIGITS.get(rounding.group(1).lower())
        return Calculation(list(inputs.values()), formula, unit, result, decimals)

    def search_words(self, item: str) -> str:
        """What to search for a line item the passages lack: its statement, its name and the words of its row
        patterns ("income statement operating income … from operations profit")."""
        words = [*self.statements.get(item, "").split(), *item.split("_")]
        for pattern in self.items[item]:
            words += re.sub(r"\\b|[\^$()?|\\\[\]+*.{}]|\b\w\b", " ", pattern.pattern).split()
        return " ".join(dict.fromkeys(word for word in words if word.isalnum()))

    def _figure(self, item: str, year: int, figures: list[Figure]) -> Figure | None:
        """The first figure of `year` whose row label matches the item's first pattern that any row matches."""
        rows = [f for f in figures if f.year == str(year)]
        for pattern in self.items[item]:
            for figure in rows:
                if pattern.search(" ".join(_FOOTNOTE.sub(" ", figure.label).split()).strip(" ,")):
                    return figure
        return None


def _years(question: str) -> list[int]:
    """The years a question names, in order ("FY20" as 2020)."""
    return sorted({int(full) if full else 2000 + int(short) for full, short in _YEAR.findall(question)})


def _asks_about(question: str) -> str | None:
    """What a yes/no question asks of a metric: its sign ("positive", "negative") or direction ("up", "down")."""
    if sign := _SIGN.search(question):
        return sign.group(1).lower()
    if _UP.search(question):
        return "up"
    return "down" if _DOWN.search(question) else None


@dataclass
class Comparison:
    """A yes/no about a metric: its sign in one year, or its direction from one year to the next."""

    metric: str
    asked: str  # "sign", "up" or "down"
    earlier: Calculation | None
    later: Calculation
    year: int
    earlier_year: int | None = None

    def verdict(self) -> str:
        """ "Yes: operating margin fell from 36.80 % in 2021 to 34.60 % in 2022" for "… a declining …?" """
        now, before = self.later.result, self.earlier.result if self.earlier else None
        if before is None:
            sign = "positive" if now > 0 else "negative" if now < 0 else "zero"
            yes = sign == self.asked
            return f"{'Yes' if yes else 'No'}: {self.metric} was {self.later.result_text()} in {self.year}, {sign}"
        went = "rose" if now > before else "fell" if now < before else "was unchanged"
        yes = went == {"up": "rose", "down": "fell"}[self.asked]
        change = (
            f"from {self.earlier.result_text()} in {self.earlier_year} to {self.later.result_text()} in {self.year}"
        )
        return f"{'Yes' if yes else 'No'}: {self.metric} {went} {change}"

    def answer(self, question: str) -> str:
        parts = [c.answer(question) for c in (self.earlier, self.later) if c is not None]
        cited = ", ".join(sorted({f"[{i.passage}]" for c in (self.earlier, self.later) if c for i in c.inputs}))
        return f"{self.verdict()} {cited}. " + " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        shown = " ".join(c.result_text() for c in (self.earlier, self.later) if c is not None)
        return {"metric": self.metric, "asked": self.asked, "verdict": self.verdict(), "shown": shown,
                "earlier": self.earlier.to_dict() if self.earlier else None, "later": self.later.to_dict()}  # fmt: skip


def _letter(index: int) -> str:
    """a … z, then aa, ab … (a three-year average of a four-input formula needs more than 26)."""
    return "abcdefghijklmnopqrstuvwxyz"[index] if index < 26 else "a" + _letter(index - 26)
