"""The answer evaluation's config (configs/eval.yaml): dataset, pipeline, metrics, judge, gate.

Every key can be overridden by an environment variable EVAL__<SECTION>__<KEY>, e.g. in a nightly job
EVAL__JUDGE__LLM__BASE_URL=http://judge:8000/v1 or EVAL__DATASET__LIMIT=50.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from rag.config import EnvOverYaml, LLMOptions, read_yaml_mapping
from rag.errors import ConfigError

DEFAULT_EVAL_CONFIG = Path("configs/eval.yaml")

LLM_METRICS = ("faithfulness", "context_recall", "context_precision", "answer_relevancy")
ID_METRICS = ("id_context_recall", "id_context_precision")
# Scored without a judge: the reference's numbers/spans stated in the answer (eval/answer_match.py), the
# pipeline's own citation check (1 when a cited passage supports the answer), and whether the model's first answer
# only restated the question (1: it was asked again, then answered or withheld; rag/answer/pipeline.py).
ANSWER_METRICS = ("answer_match", "grounded", "restated")
IR_METRICS = ("ndcg@10", "recall@10", "mrr@10")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetConfig(_Section):
    kind: Literal["pubmedqa", "tatqa", "jsonl"] = "pubmedqa"
    source: str | None = Field(None, description="pubmedqa/tatqa: the shared dataset folder")
    split: str | None = Field(None, description="pubmedqa: test|train; tatqa: dev|test (default: test / dev)")
    qa: str | None = Field(None, description="jsonl: the QA file")
    corpus: str | None = Field(None, description="jsonl: the folder of documents to ingest")
    limit: int | None = Field(None, ge=1, description="evaluate a seeded sample of N questions")
    seed: int = 13


class JudgeConfig(_Section):
    llm: SerializeAsAny[LLMOptions] | None = Field(
        None, description="None = the pipeline's own LLM (one model in memory)"
    )
    embedding: Literal["pipeline"] = "pipeline"  # answer relevancy compares questions with the pipeline's embedder
    max_tokens: int = Field(768, ge=16)
    timeout_s: int = Field(900, ge=1, description="ragas RunConfig.timeout: one (sample, metric) job")
    max_workers: int = Field(1, ge=1, description="parallel judge jobs (1 for a local model; 4-16 for a server)")
    strictness: int = Field(3, ge=1, description="answer relevancy: questions generated per answer")
    cache: str = Field(".rag/cache/judge.sqlite", description="judge answers, keyed by model and prompt")


class GateConfig(_Section):
    baseline: str = Field("previous", description="previous (last complete run of this name) | none | a run id")
    min: dict[str, float] = Field(default_factory=dict, description="absolute floors per metric")
    max_drop: dict[str, float] = Field(default_factory=dict, description="largest allowed drop vs the baseline")
    max_nan_share: float = Field(0.5, ge=0, le=1, description="more NaN than this share of samples fails a metric")


class EvalConfig(EnvOverYaml):
    """One answer evaluation: what to ask, which pipeline answers, who judges, what fails the run."""

    model_config = SettingsConfigDict(env_prefix="EVAL__", env_nested_delimiter="__", extra="forbid")

    name: str = "eval"
    pipeline: str | None = Field(None, description="the pipeline's YAML config (default: configs/default.yaml)")
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    work: str = Field(".rag/eval", description="converted datasets and their stores")
    runs: str = Field("runs", description="one folder per run, plus history.jsonl")
    sets: str = Field("sets", description="generated test sets (python -m eval generate) the app lists for review")
    metrics: list[str] = Field(default_factory=lambda: [*LLM_METRICS, *ID_METRICS])
    ir: bool = Field(True, description="nDCG@10, recall@10 and MRR@10 when the dataset has gold documents")
    ir_depth: int = Field(10, ge=1)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    gate: GateConfig = Field(default_factory=GateConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError("use letters, digits, '.', '_' or '-' (it names the run folders)")
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        choices = [*LLM_METRICS, *ID_METRICS, *ANSWER_METRICS]
        unknown = [m for m in value if m not in choices]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; choose from {choices}")
        return value

    def gated_metrics(self) -> set[str]:
        return set(self.gate.min) | set(self.gate.max_drop)


def load_eval_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> EvalConfig:
    """Read the eval YAML (default: configs/eval.yaml), apply EVAL__ env overrides, validate."""
    config_path = Path(path) if path else DEFAULT_EVAL_CONFIG
    data = read_yaml_mapping(config_path, required=bool(path), what="eval config")
    for key, value in overrides.items():
        section, _, field = key.partition(".")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[key] = value
    try:
        config = EvalConfig(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"invalid eval config key '{where}' in {config_path.name}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
    unknown = sorted(config.gated_metrics() - set(config.metrics) - set(IR_METRICS))
    if unknown:
        raise ConfigError(f"{config_path.name}: the gate names metrics this run does not compute: {unknown}")
    return config
