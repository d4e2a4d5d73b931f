"""Questions that need a computed figure — a ratio, a margin, a growth rate, an average — answered with a calculator.

A small model reads a statement table far better than it divides: asked for the quick ratio it answered "I could not
find the answer" though all three line items were in its passages. So the model only picks the inputs — each
figure as printed, with the number of the passage it comes from — and a formula over their letters (JSON, grammar-
constrained); every input is checked against its passage (the figure must be there, rounded or rescaled at most),
a safe evaluator (simpleeval: numbers, + - * / and brackets; never ``eval``) computes, and the answer shows the
inputs with their citations and the formula. Any failure (no plan, an input its passage does not hold, a formula
naming an unknown letter, a division by zero) gives no calculation, and the pipeline answers as usual.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from typing import Any

from rag.answer.citations import figures_of, has_figure
from rag.errors import LLMError
from rag.llms.base import LLM

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

    def result_text(self) -> str:
        digits = 2 if abs(self.result) < 1000 else 0
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


def parse_figure(printed: str) -> float | None:
    """ "$1,577", "(1,234)" (negative, as in statements), "42.1%" -> a number; None when there is none."""
    match = re.search(r"\(?-?\d[\d,]*(?:\.\d+)?\)?", printed)
    if not match:
        return None
    raw = match.group(0)
    value = float(raw.strip("()").replace(",", ""))
    return -value if raw.startswith("(") and raw.endswith(")") else value


def calculate(llm: LLM, question: str, context: str, passages: list[str]) -> Calculation | None:
    """The model's plan over the numbered `context`, checked against `passages` and computed (None: no calculation)."""
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
    from simpleeval import InvalidExpression

    try:
        result = evaluate(formula, {item.letter: item.value for item in inputs})
    except (InvalidExpression, ValueError, SyntaxError, ArithmeticError, TypeError):
        return None
    return Calculation(inputs, formula, str(plan.get("unit") or ""), result)


def _decimals(printed: str) -> int:
    match = re.search(r"\d[\d,]*\.(\d+)", printed)
    return len(match.group(1)) if match else 0
