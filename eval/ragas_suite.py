"""Ragas metrics by name, scored one sample at a time with our judge (no silent OpenAI fallback).

LLM metrics: faithfulness, context_recall (LLMContextRecall), context_precision
(LLMContextPrecisionWithReference), answer_relevancy (ResponseRelevancy). Non-LLM ones when gold
document ids exist: id_context_recall / id_context_precision (IDBased*), comparing the sources of the
retrieved passages with the gold sources.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eval.judge import JudgeEmbeddings, JudgeLLM

# Judge calls per sample: faithfulness = statements + verdicts; context precision = one per passage;
# answer relevancy = `strictness` generated questions (plus embeddings, no LLM).
_CALLS: dict[str, Callable[[int, int], int]] = {
    "faithfulness": lambda contexts, strictness: 2,
    "context_recall": lambda contexts, strictness: 1,
    "context_precision": lambda contexts, strictness: contexts,
    "answer_relevancy": lambda contexts, strictness: strictness,
    "id_context_recall": lambda contexts, strictness: 0,
    "id_context_precision": lambda contexts, strictness: 0,
}

_CITATION = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def expected_calls(metrics: list[str], contexts: int, strictness: int) -> int:
    """Judge calls one sample costs (cache hits included)."""
    return sum(_CALLS[name](contexts, strictness) for name in metrics)


def build_metrics(names: list[str], strictness: int = 3) -> dict[str, Any]:
    """Ragas metric objects by our names (imported from their modules: the package root warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ragas.metrics._answer_relevance import ResponseRelevancy
        from ragas.metrics._context_precision import IDBasedContextPrecision, LLMContextPrecisionWithReference
        from ragas.metrics._context_recall import IDBasedContextRecall, LLMContextRecall
        from ragas.metrics._faithfulness import Faithfulness

    factories = {
        "faithfulness": Faithfulness,
        "context_recall": LLMContextRecall,
        "context_precision": LLMContextPrecisionWithReference,
        "answer_relevancy": lambda: ResponseRelevancy(strictness=strictness),
        "id_context_recall": IDBasedContextRecall,
        "id_context_precision": IDBasedContextPrecision,
    }
    return {name: factories[name]() for name in names}


def judged_text(answer: str, notes: tuple[str, ...] = ()) -> str:
    """The answer as the judge reads it: without [n] markers and without our own grounding notes."""
    for note in notes:
        answer = answer.replace(note, "")
    return _CITATION.sub("", answer).strip()


@dataclass
class JudgeInput:
    question: str
    answer: str
    contexts: list[str]
    reference: str
    context_ids: list[str]  # sources of the retrieved passages, in order
    reference_ids: list[str]  # gold sources


class RagasSuite:
    """Scores samples with the named metrics; NaN stays NaN (the report counts it)."""

    def __init__(
        self,
        metrics: list[str],
        judge: JudgeLLM,
        embeddings: JudgeEmbeddings,
        timeout_s: int = 900,
        max_workers: int = 1,
        strictness: int = 3,
    ):
        from ragas.run_config import RunConfig

        self.names = metrics
        self.metrics = build_metrics(metrics, strictness)
        self.judge = judge
        self.embeddings = embeddings
        self.run_config = RunConfig(timeout=timeout_s, max_workers=max_workers, max_retries=1, max_wait=5)

    def applicable(self, item: JudgeInput) -> list[str]:
        """Metrics that can score this sample (ID metrics need gold ids; LLM ones need a reference)."""
        names = []
        for name in self.names:
            if name.startswith("id_") and not item.reference_ids:
                continue
            if name in ("context_recall", "context_precision") and not item.reference:
                continue
            names.append(name)
        return names

    def score(self, item: JudgeInput) -> dict[str, float | None]:
        """{metric: score in [0, 1], or None for NaN}; metrics that do not apply are left out."""
        from ragas import EvaluationDataset, SingleTurnSample, evaluate

        names = self.applicable(item)
        if not names:
            return {}
        sample = SingleTurnSample(
            user_input=item.question,
            response=item.answer,
            retrieved_contexts=item.contexts or [""],
            reference=item.reference or None,
            retrieved_context_ids=item.context_ids or [""],
            reference_context_ids=item.reference_ids or None,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = evaluate(
                EvaluationDataset([sample]),
                [self.metrics[name] for name in names],
                llm=self.judge,
                embeddings=self.embeddings,
                run_config=self.run_config,
                show_progress=False,
                raise_exceptions=False,
            )
        row = result.scores[0]
        scores: dict[str, float | None] = {}
        for name in names:
            value = row.get(self.metrics[name].name)
            scores[name] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        return scores
