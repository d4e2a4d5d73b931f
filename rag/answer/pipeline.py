"""The orchestrator: question + chat history → a grounded, cited, streamed Answer.

condense (only with history) → retrieve (the configured retriever: dense, bm25, hybrid, multi-query,
HyDE, fusion, ± rerank) → context (dedupe, order, token budget, [n] labels) → prompt → stream → check
citations. When retrieval finds nothing relevant (query–passage cosine below `answer.min_score`) the
LLM is not called. An answer that says nothing (it restates the question, or answers yes/no about something no
cited passage names) is asked again once with a stricter instruction when it passed the citation check, then
withheld as not found; when no passage supports it either, at once. One citing no passage: see `answer.uncited`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.answer import prompts
from rag.answer.arithmetic import Calculation, calculate, needs_calculation
from rag.answer.citations import (
    Citation,
    CitationCheck,
    check_citations,
    repair_citations,
    restates_question,
    states_asked,
    yes_or_no,
)
from rag.answer.condense import clip, condense, recent_within
from rag.answer.context import context_block, expand, fit, focus, passage_text, segments
from rag.answer.formulas import Comparison, Formulas
from rag.answer.guard import check_input, echoes_question, guard_answer
from rag.config import Settings
from rag.documents import Hit, location, part
from rag.embeddings import Embedder, build_embedder
from rag.errors import InputTooLong
from rag.llms import LLM, Message, build_llm
from rag.retrievers import Retriever, build_retriever
from rag.retrievers.base import passage_vectors
from rag.stores import VectorStore, build_store
from rag.stores.restricted import Restriction, restrict
from rag.tracing import Trace, tracer_for


@dataclass
class Answer:
    question: str
    standalone_question: str
    text: str = ""
    citations: list[Citation] = field(default_factory=list)
    contexts: list[Hit] = field(default_factory=list)  # the passages in the prompt ([] when not found)
    retrieved: list[Hit] = field(default_factory=list)  # what retrieval returned, kept when not found too
    checks: list[CitationCheck] = field(default_factory=list)
    found: bool = True  # False: "not in your documents" (retrieval found nothing relevant)
    relevance: float = 0.0  # the best query–passage cosine among the contexts
    grounded: bool = True  # False: the answer cites no passage validly
    timings: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)  # what the strategy did: rewrites, HyDE passage, stages
    guarded: list[str] = field(default_factory=list)  # what the answer post-check removed (rag/answer/guard.py)
    restated: int = 0  # answers that said nothing (restated the question) before this one: 0, 1 (retried) or 2
    calculation: dict[str, Any] | None = None  # inputs, formula and result when a calculator answered

    @property
    def invalid_citations(self) -> list[int]:
        return sorted({check.number for check in self.checks if not check.valid})

    @property
    def unsupported(self) -> list[CitationCheck]:
        return [check for check in self.checks if check.valid and not check.supported]

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.text,
            "found": self.found,
            "grounded": self.grounded,
            "relevance": round(self.relevance, 4),
            "citations": [vars(c) for c in self.citations],
            "invalid_citations": self.invalid_citations,
            "unsupported": [{"number": c.number, "sentence": c.sentence} for c in self.unsupported],
            "contexts": [
                {"id": h.id, "score": round(h.score, 4), "source": h.metadata.get("source"), "text": h.text}
                for h in self.contexts
            ],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "tokens": self.tokens,
            "retrieval": self.retrieval,
            "guarded": self.guarded,
            "restated": self.restated,
            "calculation": self.calculation,
        }


StageCallback = Callable[[str, dict[str, Any]], None]


def _no_stage(name: str, detail: dict[str, Any]) -> None:
    pass


class AnswerStream:
    """Iterate for the answer's tokens; `.answer` holds the checked Answer once iteration ends."""

    def __init__(self, tokens: Iterator[str], answer: Answer):
        self._tokens = tokens
        self.answer = answer

    def __iter__(self) -> Iterator[str]:
        yield from self._tokens


class RagPipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        store: VectorStore | None = None,
        retriever: Retriever | None = None,
        restriction: Restriction | None = None,
    ):
        """`restriction`: the access keys of the reader this pipeline answers (rag/stores/restricted.py); every
        search, neighbour and vector it reads goes through that view of the store."""
        self.settings = settings
        self.embedder = embedder or build_embedder(settings.embedding)
        self.llm = llm or build_llm(settings.llm)
        self.source_store = store or build_store(settings.store, self.embedder.name, self.embedder.dimension)
        self.restriction = restriction
        self.store = restrict(self.source_store, restriction)
        self.retriever = retriever or build_retriever(
            settings, embedder=self.embedder, store=self.source_store, llm=self.llm, restriction=restriction
        )
        self.tracer = tracer_for(settings.tracing)
        self.formulas = Formulas.load(settings.answer.formulas) if settings.answer.formulas else None
        self._prompt_tokens: int | None = None  # the answer prompt without passages and question, counted once

    def ask(self, question: str, history: list[Message] | None = None) -> Answer:
        stream = self.stream(question, history)
        for _ in stream:
            pass
        return stream.answer

    def stream(
        self, question: str, history: list[Message] | None = None, on_stage: StageCallback | None = None
    ) -> AnswerStream:
        """The answer's tokens as they come. `on_stage(stage, detail)` hears each step before it starts, so a
        front can say what the wait is for: "condense", "retrieve", "calculate" and "generate" (detail:
        {"passages": n}), "check" (the citation check, after the last token) and "retry"."""
        history = list(history or [])
        check_input(question, history, self.settings.answer)
        answer = Answer(question=question, standalone_question=question)
        return AnswerStream(self._run(answer, self.memory(history, answer), on_stage), answer)

    def memory(self, history: list[Message], answer: Answer | None = None) -> list[Message]:
        """The conversation as the prompts get it: all of it while it fits `history_tokens`; past that,
        the last `history_turns` messages after a summary of the older ones (one LLM call). Whatever is kept fits
        `history_tokens` (a long message is cut in the middle) and the summary's input fits the model's window."""
        cfg, count = self.settings.answer, self.embedder.count_tokens
        if sum(count(m["content"]) for m in history) <= cfg.history_tokens:
            return history
        keep = history[-cfg.history_turns :] if cfg.history_turns else []
        older = history[: len(history) - len(keep)]
        share = cfg.history_tokens // max(1, len(keep))
        keep = [{**m, "content": clip(m["content"], share, count)} for m in keep]
        if not older:
            return keep
        started = time.perf_counter()
        window = max(256, self.settings.llm.n_ctx - 600)  # room for the instruction and the 120-token summary
        older = recent_within(older, window, count)
        summary = self.llm.complete(prompts.summary_messages(older), max_tokens=120, temperature=0.0).text.strip()
        if answer is not None:
            answer.timings["summarise"] = time.perf_counter() - started
        return [{"role": "system", "content": f"Summary of the earlier conversation: {summary}"}, *keep]

    def _run(self, answer: Answer, history: list[Message], on_stage: StageCallback | None = None) -> Iterator[str]:
        spans = Trace(self.tracer, "rag.answer", "CHAIN", self.settings.tracing.capture_content,
                      **{"session.history_messages": len(history)})  # fmt: skip
        spans.text(spans.root, "input.value", answer.question)
        error: BaseException | None = None
        try:
            yield from self._answer(answer, history, spans, on_stage or _no_stage)
        except BaseException as exc:
            error = exc
            raise
        finally:
            spans.root.set_attribute("rag.found", answer.found)
            spans.root.set_attribute("rag.grounded", answer.grounded)
            spans.text(spans.root, "output.value", answer.text)
            spans.end(error if not isinstance(error, GeneratorExit) else None)

    def _answer(self, answer: Answer, history: list[Message], spans: Trace, stage: StageCallback) -> Iterator[str]:
        cfg = self.settings.answer
        started = time.perf_counter()
        if history:
            stage("condense", {})
            with spans.stage("condense", "LLM", **{"llm.model_name": self.settings.llm.model}) as span:
                condensed = condense(self.llm, answer.question, history)
                answer.standalone_question = condensed.question
                answer.tokens["condense"] = condensed.tokens
                span.set_attribute("llm.token_count.completion", condensed.tokens)
                spans.text(span, "input.value", answer.question)
                spans.text(span, "output.value", condensed.question)
            if condensed.repaired:
                answer.retrieval["condense"] = "the rewrite dropped the question; searched with the previous one"
        answer.timings["condense"] = time.perf_counter() - started

        started = time.perf_counter()
        stage("retrieve", {})
        with spans.stage("retrieve", "RETRIEVER", nest=True, **{"rag.k": cfg.k}) as span:
            spans.text(span, "input.value", answer.standalone_question)
            hits, trace = self.retriever.run(answer.standalone_question, self.settings.answer.k)
            span.set_attribute("rag.strategy", str(trace.get("strategy")))
            spans.documents(span, hits)
        answer.retrieval = {**trace, **answer.retrieval}
        answer.timings["retrieve"] = time.perf_counter() - started

        started = time.perf_counter()
        with spans.stage("context", "CHAIN") as span:
            answer.contexts = self._fit(hits, answer.standalone_question)
            answer.retrieved = list(answer.contexts)
            answer.relevance = self.relevance(answer.standalone_question, answer.contexts)
            span.set_attribute("rag.passages", len(answer.contexts))
            span.set_attribute("rag.relevance", answer.relevance)
        answer.timings["context"] = time.perf_counter() - started
        if not answer.contexts or answer.relevance < cfg.min_score:
            answer.found, answer.grounded, answer.contexts = False, False, []
            answer.text = prompts.NO_ANSWER
            yield answer.text
            return

        started = time.perf_counter()
        with spans.stage("prompt", "CHAIN") as span:
            messages = prompts.answer_messages(answer.standalone_question, self.context_block(answer.contexts), history)
            span.set_attribute("llm.prompt_template.version", prompts.ANSWER_VERSION)
            span.set_attribute("rag.prompt_messages", len(messages))
        first_token = None
        parts: list[str] = []
        constraint = {"grammar": prompts.CITED_ANSWER_GRAMMAR} if getattr(self.llm, "supports_grammar", False) else {}
        asked = answer.standalone_question
        if cfg.calculate and (needs_calculation(asked) or (self.formulas and self.formulas.metric_for(asked))):
            stage("calculate", {"passages": len(answer.contexts)})
            with spans.stage("calculate", "LLM", **{"llm.model_name": self.settings.llm.model}) as span:
                calculation = self._calculate(answer)
                span.set_attribute("rag.calculated", calculation is not None)
            answer.timings["calculate"] = time.perf_counter() - started
            if calculation is not None:
                answer.calculation = calculation.to_dict()
                parts = [calculation.answer(answer.standalone_question)]
                yield parts[0]
        stage("generate", {"passages": len(answer.contexts)})
        with spans.stage("generate", "LLM", **{"llm.model_name": self.settings.llm.model}) as span:
            for number, message in enumerate(messages):
                span.set_attribute(f"llm.input_messages.{number}.message.role", message["role"])
                spans.text(span, f"llm.input_messages.{number}.message.content", message["content"])
            for token in [] if parts else self.llm.stream(messages, **constraint):
                if first_token is None:
                    first_token = time.perf_counter() - started
                parts.append(token)
                yield token
            answer.text = "".join(parts).strip()
            span.set_attribute("llm.token_count.completion", len(parts))
            span.set_attribute("rag.first_token_s", first_token or 0.0)
            spans.text(span, "output.value", answer.text)
        answer.timings["first_token"] = first_token or 0.0
        answer.timings["generate"] = time.perf_counter() - started
        answer.tokens["generated"] = len(parts)

        started = time.perf_counter()
        stage("check", {})
        with spans.stage("citations", "CHAIN") as span:
            self._check(answer)
            span.set_attribute("rag.answer.citations", [c.number for c in answer.citations])
            span.set_attribute("rag.invalid_citations", answer.invalid_citations)
            span.set_attribute("rag.grounded", answer.grounded)
        answer.timings["citations"] = time.perf_counter() - started
        if answer.found and self.says_nothing(answer):
            if answer.grounded:  # it passed the citation check: ask again, told what was wrong
                started = time.perf_counter()
                stage("retry", {})
                self._retry(answer, messages, constraint)
                answer.timings["retry"] = time.perf_counter() - started
            else:  # nothing new, and no passage backs it: the documents do not state it
                answer.restated = 1
                answer.guarded.append("withheld: the answer only restated the question, and no passage supports it")
                answer.text, answer.found, answer.citations = prompts.NO_ANSWER, False, []
        if answer.found and not answer.grounded and not answer.citations and cfg.uncited == "withhold":
            answer.guarded.append("withheld: the answer cites none of the passages (answer.uncited)")
            answer.text, answer.found = prompts.NO_ANSWER, False
        if not answer.found:
            return
        if not answer.grounded:
            note = f"\n\n{prompts.UNSUPPORTED_NOTE if answer.citations else prompts.UNCITED_NOTE}"
            answer.text += note
            yield note

    def says_nothing(self, answer: Answer) -> bool:
        """The answer restates the question, or answers yes/no about something no passage it cites names."""
        if answer.calculation:  # a computed yes/no is the calculator's, from the figures it cites
            return False
        question = answer.standalone_question
        if yes_or_no(answer.text):
            cited = [answer.contexts[c.number - 1] for c in answer.checks if c.valid]
            return not any(states_asked(question, passage_text(hit), location(hit.metadata, ", ")) for hit in cited)
        return restates_question(answer.text, question)

    def _retry(self, answer: Answer, messages: list[Message], constraint: dict[str, Any]) -> None:
        """Ask once more, told what was wrong; an answer that still says nothing becomes "not found"."""
        answer.restated = 1
        retry = [
            *messages,
            {"role": "assistant", "content": answer.text},
            {"role": "user", "content": prompts.RESTATED_RETRY},
        ]
        answer.text = "".join(self.llm.stream(retry, **constraint)).strip()
        answer.citations, answer.checks = [], []
        self._check(answer)
        if answer.found and self.says_nothing(answer):
            answer.restated = 2
            answer.guarded.append("withheld: the answer only restated the question, also when asked again")
            answer.text, answer.found, answer.grounded, answer.citations = prompts.NO_ANSWER, False, False, []

    def _calculate(self, answer: Answer) -> Calculation | Comparison | None:
        """A standard metric from the statements' rows (``answer.formulas``; line items it looked up are cited after
        the passages), else the model's plan over the passages (rag/answer/arithmetic.py)."""
        if self.formulas is not None:
            calculation, found = self.formulas.answer(
                answer.standalone_question, answer.contexts, self.retriever, self.store
            )
            if calculation is not None:
                answer.contexts += found
                return calculation
        passages = [passage_text(hit) for hit in answer.contexts]
        return calculate(self.llm, answer.standalone_question, self.context_block(answer.contexts), passages)

    def relevance(self, question: str, contexts: list[Hit]) -> float:
        """The best cosine of question and passage: comparable whatever scores the retriever gives."""
        if not contexts:
            return 0.0
        vectors = passage_vectors(contexts, self.embedder, self.store)
        query = self.embedder.embed_query(question)
        norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(query)
        return float(np.max(vectors @ query / np.where(norms > 0, norms, 1.0)))

    def _fit(self, hits: list[Hit], question: str = "") -> list[Hit]:
        """Expanded to their neighbours (``answer.expand``), focused on the question (``answer.passage_tokens``),
        deduplicated, within ``answer.context_tokens`` and what the model's window leaves beside the question."""
        cfg, count = self.settings.answer, self.embedder.count_tokens
        if cfg.segments:
            hits = segments(hits, self.store)
        passages = [focus(hit, question, count, cfg.passage_tokens) for hit in expand(hits, self.store, cfg.expand)]
        return fit(passages, count, self.context_budget(question))

    def context_budget(self, question: str) -> int:
        """Tokens for passages: ``answer.context_tokens``, less when a long question would push the prompt and the
        answer past the model's window (``llm.n_ctx``). Counted with the embedder's tokenizer, with a margin for
        the LLM's own."""
        llm, count = self.settings.llm, self.embedder.count_tokens
        if self._prompt_tokens is None:
            self._prompt_tokens = count(prompts.prompt_frame())
        used = int(1.2 * (self._prompt_tokens + count(question))) + llm.max_tokens + 64
        room = llm.n_ctx - used
        if room < 100:
            raise InputTooLong(
                f"the question is too long for the model's window (llm.n_ctx={llm.n_ctx}) with room for any passage: "
                "ask something shorter, or use a model with a larger context"
            )
        return min(self.settings.answer.context_tokens, room)

    context_block = staticmethod(context_block)

    def _check(self, answer: Answer) -> None:
        cfg = self.settings.answer
        if prompts.NO_ANSWER.rstrip(".").lower() in answer.text.lower():
            answer.found, answer.grounded = False, False
            return
        passages = [passage_text(hit) for hit in answer.contexts]
        answer.text, answer.guarded = guard_answer(answer.text, passages, prompts.ANSWER_SYSTEM)
        if not answer.text:  # the answer leaked the prompt: nothing of it is shown
            answer.text, answer.found, answer.grounded = prompts.NO_ANSWER, False, False
            return
        places = [location(hit.metadata, ", ") for hit in answer.contexts]
        given = f"{answer.standalone_question}\n{(answer.calculation or {}).get('shown', '')}"

        def checked(text: str) -> list[CitationCheck]:
            embed = self.embedder.embed_documents
            return check_citations(text, passages, embed, cfg.min_lexical, cfg.min_cosine, places, given=given)

        answer.checks = checked(answer.text)
        repaired, moved = repair_citations(answer.text, answer.checks, passages, places, given, cfg.min_lexical)
        if moved:
            answer.text, answer.checks = repaired, checked(repaired)
            answer.guarded += moved
        if answer.calculation:  # each input was found in its passage; the result line is computed from them
            for check in answer.checks:
                check.supported = check.valid and (not check.missing or check.sentence.startswith("Calculated:"))
        cited = sorted({check.number for check in answer.checks if check.valid})
        for number in cited:
            hit = answer.contexts[number - 1]
            supported = any(c.supported for c in answer.checks if c.number == number)
            answer.citations.append(
                Citation(
                    number=number,
                    chunk_id=hit.id,
                    source=str(hit.metadata.get("source", "")),
                    page=hit.metadata.get("page"),
                    section=hit.metadata.get("section"),
                    snippet=" ".join(hit.text.split())[:240],
                    supported=supported,
                    part=part(hit.metadata),
                )
            )
        answer.grounded = any(citation.supported for citation in answer.citations)
        if not answer.grounded and echoes_question(answer.text, answer.question, passages):
            answer.guarded.append("withheld: the answer repeated the question's own text, not the documents")
            answer.text, answer.found, answer.citations = prompts.NO_ANSWER, False, []
