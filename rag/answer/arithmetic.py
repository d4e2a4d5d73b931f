"""Questions that need a computed figure — a ratio, a margin, a growth rate, an average — answered with a calculator.

A small model reads a statement table far better than it divides: asked for the quick ratio it answered "I could not
find the answer" though all three line items were in its passages. So the model only picks the inputs — each
figure as printed, with the number of the passage it comes from — and a formula over their letters (JSON, grammar-
constrained); every input is checked against its passage (the figure must be there, rounded or rescaled at most),
a safe evaluator (simpleeval: numbers, + - * / and brackets; never ``eval``) computes, and the answer shows the
inputs with their citations and the formula. Any failure (no plan, an input its passage does not hold, a formula
naming an unknown letter, a division by zero) gives no calculation, and the pipeline answers as usual.

Where the passages hold statement rows under column years, the model does not copy figures at all: it is shown a
numbered list of them ("f3: Purchases of property, plant and equipment, 2018: 1,577 (in millions) [1]", only the
years the question names and the year before) and picks keys from it, its JSON constrained to those keys. The
1.5B copying figures freely filled its plans with the schema's placeholder or a worked example's numbers; picking
from a list it can only pick a real figure of the right year.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from typing import Any

from rag.answer.citations import figures_of, has_figure
from rag.errors import LLMError
from rag.llms.base import LLM
from rag.tables import year_figures

_COMPUTED = re.compile(
    r"\b(ratio|margin|growth rate|percent(age)?( change)?|average|per share|turnover|return on|year[- ]over[- ]year|"
    r"yoy|cagr|compute|calculate|by how much|how much (did|has|have) \w+( \w+)? (increase|decrease|change|grow|fall|"
    r"decline|rise))\b",
    re.IGNORECASE,
)
_LONGEST_QUESTION = 500  # characters: a question for a figure is short; a pasted text that says "average" is not
_LETTERS = "abcdefgh"

PLAN_SYSTEM = """You prepare a calculation from numbered passages of a document. Reply in JSON only:
{"inputs": [{"letter": "a", "name": "what the figure is", "value": "the figure exactly as printed", "passage": 1}],
 "formula": "an arithmetic expression over the letters, e.g. (a - b) / b * 100",
 "unit": "what the result is in, e.g. %, USD millions, times"}
Use at most six inputs, only figures printed in the passages, and + - * / and brackets in the formula.
If the passages lack a figure the calculation needs, reply {"inputs": [], "formula": "", "unit": ""}."""

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "inputs": {
            "type": "array",
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "letter": {"type": "string", "enum": list(_LETTERS[:6])},
                    "name": {"type": "string"},
                    "value": {"type": "string"},
                    "passage": {"type": "integer"},
                },
                "required": ["letter", "name", "value", "passage"],
            },
        },
        "formula": {"type": "string"},
        "unit": {"type": "string"},
    },
    "required": ["inputs", "formula", "unit"],
}


PICK_SYSTEM = """You prepare a calculation from figures read off financial statements. Each line gives a figure's key,
its row, its year, its value and the passage it is in. Reply in JSON only:
{"inputs": [{"letter": "a", "figure": "f1"}, {"letter": "b", "figure": "f2"}],
 "formula": "an arithmetic expression over the letters", "unit": "the unit of the result"}
Pick only the figures the question's calculation needs, each once, by key. Values are magnitudes (a figure printed
in parentheses is listed without them). In the formula use + - * / and brackets; a percentage is multiplied by 100;
to answer in billions divide figures in millions by 1000. If the question's definition names a figure that is not
listed, reply {"inputs": [], "formula": "", "unit": ""}."""

_YEAR_NAMED = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_SCALE = re.compile(r"\bin (thousands|millions|billions)\b", re.IGNORECASE)
_MOST_FIGURES = 120


@dataclass
class Figure:
    key: str
    label: str
    year: str
    printed: str
    value: float  # the magnitude
    passage: int  # 1-based, as cited
    scale: str = ""  # "millions" when the passage says "in millions"

    def line(self) -> str:
        scale = f" (in {self.scale})" if self.scale else ""
        return f"{self.key}: {self.label}, {self.year}: {self.printed.strip('()')}{scale} [{self.passage}]"


def statement_figures(question: str, passages: list[str], most: int = _MOST_FIGURES) -> list[Figure]:
    """The figures of the passages' statement rows, in the years the question names and the year before each (an
    average or a change needs it); every year when it names none. At most `most`, in passage order."""
    named = [int(year) for year in _YEAR_NAMED.findall(question)]
    wanted = {str(year) for year in range(min(named) - 1, max(named) + 1)} if named else None
    figures: list[Figure] = []
    seen: set[tuple[str, str, str]] = set()
    for number, text in enumerate(passages, start=1):
        scale = _SCALE.search(text)
        for found in year_figures(text):
            value = parse_figure(found.printed)
            key = (found.label.lower(), found.year, found.printed)
            if value is None or key in seen or (wanted is not None and found.year not in wanted):
                continue
            seen.add(key)
            label = " ".join(found.label.split())[:80]
            scale_name = scale.group(1).lower() if scale else ""
            figures.append(
                Figure(f"f{len(figures) + 1}", label, found.year, found.printed, abs(value), number, scale_name)
            )
            if len(figures) >= most:
                return figures
    return figures


def pick_schema(keys: list[str]) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {
            "letter": {"type": "string", "enum": list(_LETTERS[:6])},
            "figure": {"type": "string", "enum": keys},
        },
        "required": ["letter", "figure"],
    }
    return {
        "type": "object",
        "properties": {
            "inputs": {"type": "array", "maxItems": 6, "items": item},
            "formula": {"type": "string"},
            "unit": {"type": "string"},
        },
        "required": ["inputs", "formula", "unit"],
    }


def pick_messages(question: str, figures: list[Figure]) -> list[dict[str, str]]:
    listed = "\n".join(figure.line() for figure in figures)
    return [
        {"role": "system", "content": PICK_SYSTEM},
        {"role": "user", "content": f"Figures:\n{listed}\n\nQuestion: {question}"},
    ]


@dataclass
class Input:
    letter: str
    name: str
    value: float
    printed: str
    passage: int  # 1-based, as cited


@dataclass
class Calculation:
    inputs: list[Input]
    formula: str
    unit: str
    result: float
    decimals: int | None = None  # as the question asks ("round to one decimal place"); else 2 below 1,000, 0 above

    def result_text(self) -> str:
        whole = self.unit.startswith("in ") and float(self.result).is_integer()  # an amount of printed figures
        digits = self.decimals if self.decimals is not None else 2 if abs(self.result) < 1000 and not whole else 0
        number = f"{self.result:,.{digits}f}"
        unit = self.unit.strip()
        if unit in ("%", "percent"):
            return f"{number} %"
        return f"{number} {unit}".strip()

    def answer(self, question: str) -> str:
        """Each input with its citation, then the formula with the values put in and the result."""
        shown = self.formula
        for item in sorted(self.inputs, key=lambda i: -len(i.letter)):
            shown = re.sub(rf"\b{item.letter}\b", item.printed, shown)
        cited = ", ".join(sorted({f"[{i.passage}]" for i in self.inputs}))
        lines = [f"{item.name.strip().rstrip('.')}: {item.printed} [{item.passage}]." for item in self.inputs]
        if self.formula.strip() != self.inputs[0].letter or len(self.inputs) > 1:  # one figure as printed: no sum
            lines.append(f"Calculated: {shown} = {self.result_text()} {cited}.")
        return " ".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shown": self.result_text()}


def needs_calculation(question: str) -> bool:
    """Questions whose answer is a computed figure: ratios, margins, changes, averages, percentages."""
    return len(question) <= _LONGEST_QUESTION and bool(_COMPUTED.search(question))


def plan_messages(question: str, context: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": PLAN_SYSTEM},
        {"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {question}"},
    ]


def evaluate(formula: str, values: dict[str, float]) -> float:
    """The formula's value: numbers, the given letters, + - * / and brackets; anything else is refused."""
    from simpleeval import SimpleEval

    tree = ast.parse(formula, mode="eval")
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load)
    allowed += (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        if not isinstance(node, allowed) or (
            isinstance(node, ast.Constant) and not isinstance(node.value, int | float)
        ):
            raise ValueError(f"not an arithmetic expression: {formula!r}")
    return float(SimpleEval(names=values, functions={}).eval(formula))


def computed(formula: str, values: dict[str, float]) -> float | None:
    """`evaluate`, with None for a formula it refuses or cannot compute (an unknown letter, a division by zero)."""
    from simpleeval import InvalidExpression

    try:
        return evaluate(formula, values)
    except (InvalidExpression, ValueError, SyntaxError, ArithmeticError, TypeError):
        return None


def parse_figure(printed: str) -> float | None:
    """ "$1,577", "(1,234)" (negative, as in statements), "42.1%" -> a number; None when there is none."""
    match = re.search(r"\(?-?\d[\d,]*(?:\.\d+)?\)?", printed)
    if not match:
        return None
    raw = match.group(0)
    value = float(raw.strip("()").replace(",", ""))
    return -value if raw.startswith("(") and raw.endswith(")") else value


def calculate(llm: LLM, question: str, context: str, passages: list[str]) -> Calculation | None:
    """The model's plan over the statement figures of `passages` (or, where they hold none, over the numbered
    `context`, each figure checked against its passage), computed (None: no calculation)."""
    figures = statement_figures(question, passages)
    if figures:
        return calculate_from(llm, question, figures)
    try:
        plan = llm.complete_json(plan_messages(question, context), PLAN_SCHEMA, max_tokens=300)
    except (LLMError, ValueError):  # no usable plan: no calculation, the pipeline answers as usual
        return None
    inputs: list[Input] = []
    for item in plan.get("inputs") or []:
        value, number = parse_figure(str(item.get("value", ""))), int(item.get("passage") or 0)
        if value is None or not 1 <= number <= len(passages):
            return None
        printed = str(item["value"]).strip()
        if not has_figure(f"{abs(value):.{_decimals(printed)}f}", figures_of(passages[number - 1])):
            return None  # a figure its passage does not hold: the model made it up or misread it
        inputs.append(Input(str(item["letter"]), str(item.get("name", "")), value, printed, number))
    formula = str(plan.get("formula") or "").strip()
    if not inputs or not formula:
        return None
    result = computed(formula, {item.letter: item.value for item in inputs})
    if result is None:
        return None
    return Calculation(inputs, formula, str(plan.get("unit") or ""), result)


def calculate_from(llm: LLM, question: str, figures: list[Figure]) -> Calculation | None:
    """The model picks figures by key and writes the formula; the values are the listed ones, never its own."""
    by_key = {figure.key: figure for figure in figures}
    try:
        plan = llm.complete_json(pick_messages(question, figures), pick_schema(list(by_key)), max_tokens=200)
    except (LLMError, ValueError):
        return None
    inputs: list[Input] = []
    for item in plan.get("inputs") or []:
        figure = by_key.get(str(item.get("figure")))
        letter = str(item.get("letter", ""))
        if figure is None or letter in {i.letter for i in inputs}:
            return None
        name = f"{figure.label}, {figure.year}" + (f" (in {figure.scale})" if figure.scale else "")
        inputs.append(Input(letter, name, figure.value, figure.printed.strip("()"), figure.passage))
    formula = str(plan.get("formula") or "").strip()
    unit = str(plan.get("unit") or "")
    if not inputs or not formula:
        return None
    result = computed(formula, {item.letter: item.value for item in inputs})
    if result is None:
        return None
    if ("%" in unit or "percent" in unit.lower()) and "100" not in formula and abs(result) < 1:
        result *= 100  # a ratio asked for in percent: the model left out the "* 100" it was told to write
    return Calculation(inputs, formula, unit, result)


def _decimals(printed: str) -> int:
    match = re.search(r"\d[\d,]*\.(\d+)", printed)
    return len(match.group(1)) if match else 0
