"""The orchestrator: question + chat history → a grounded, cited, streamed Answer.

condense (only with history) → retrieve (the configured retriever: dense, bm25, hybrid, multi-query,
HyDE, fusion, ± rerank) → context (dedupe, order, token budget, [n] labels) → prompt → stream → check
citations. When retrieval finds nothing relevant (query–passage cosine below `answer.min_score`) the
LLM is not called.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag import prompts
from rag.citations import Citation, CitationCheck, check_citations
from rag.condense import condense
from rag.config import Settings
from rag.context import context_block, expand, fit, focus, passage_text
from rag.documents import Hit
from rag.embeddings import Embedder, build_embedder
from rag.llms import LLM, Message, build_llm
from rag.retrievers import Retriever, build_retriever
from rag.retrievers.base import passage_vectors
from rag.stores import VectorStore, build_store


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
        }


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
    ):
        self.settings = settings
        self.embedder = embedder or build_embedder(settings.embedding)
        self.llm = llm or build_llm(settings.llm)
        self.store = store or build_store(settings.store, self.embedder.name, self.embedder.dimension)
        self.retriever = retriever or build_retriever(settings, embedder=self.embedder, store=self.store, llm=self.llm)

    def ask(self, question: str, history: list[Message] | None = None) -> Answer:
        stream = self.stream(question, history)
        for _ in stream:
            pass
        return stream.answer

    def stream(self, question: str, history: list[Message] | None = None) -> AnswerStream:
        answer = Answer(question=question, standalone_question=question)
        return AnswerStream(self._run(answer, self.memory(list(history or []), answer)), answer)

    def memory(self, history: list[Message], answer: Answer | None = None) -> list[Message]:
        """The conversation as the prompts get it: all of it while it fits `history_tokens`; past that,
        the last `history_turns` messages verbatim after a summary of the older ones (one LLM call)."""
        cfg = self.settings.answer
        if sum(self.embedder.count_tokens(m["content"]) for m in history) <= cfg.history_tokens:
            return history
        keep = history[-cfg.history_turns :] if cfg.history_turns else []
        older = history[: len(history) - len(keep)]
        if not older:
            return keep
        started = time.perf_counter()
        summary = self.llm.complete(prompts.summary_messages(older), max_tokens=120, temperature=0.0).text.strip()
        if answer is not None:
            answer.timings["summarise"] = time.perf_counter() - started
        return [{"role": "system", "content": f"Summary of the earlier conversation: {summary}"}, *keep]

    def _run(self, answer: Answer, history: list[Message]) -> Iterator[str]:
        cfg = self.settings.answer
        started = time.perf_counter()
        if history:
            condensed = condense(self.llm, answer.question, history)
            answer.standalone_question = condensed.question
            answer.tokens["condense"] = condensed.tokens
            if condensed.repaired:
                answer.retrieval["condense"] = "the rewrite dropped the question; searched with the previous one"
        answer.timings["condense"] = time.perf_counter() - started

        started = time.perf_counter()
        hits, trace = self.retriever.run(answer.standalone_question, self.settings.answer.k)
        answer.retrieval = {**trace, **answer.retrieval}
        answer.timings["retrieve"] = time.perf_counter() - started

        started = time.perf_counter()
        answer.contexts = self._fit(hits, answer.standalone_question)
        answer.retrieved = list(answer.contexts)
        answer.relevance = self.relevance(answer.standalone_question, answer.contexts)
        answer.timings["context"] = time.perf_counter() - started
        if not answer.contexts or answer.relevance < cfg.min_score:
            answer.found, answer.grounded, answer.contexts = False, False, []
            answer.text = prompts.NO_ANSWER
            yield answer.text
            return

        started = time.perf_counter()
        messages = prompts.answer_messages(answer.standalone_question, self.context_block(answer.contexts), history)
        first_token = None
        parts: list[str] = []
        constraint = {"grammar": prompts.CITED_ANSWER_GRAMMAR} if getattr(self.llm, "supports_grammar", False) else {}
        for token in self.llm.stream(messages, **constraint):
            if first_token is None:
                first_token = time.perf_counter() - started
            parts.append(token)
            yield token
        answer.timings["first_token"] = first_token or 0.0
        answer.timings["generate"] = time.perf_counter() - started
        answer.text = "".join(parts).strip()
        answer.tokens["generated"] = len(parts)

        started = time.perf_counter()
        self._check(answer)
        answer.timings["citations"] = time.perf_counter() - started
        if not answer.found:
            return
        if not answer.grounded:
            note = f"\n\n{prompts.UNSUPPORTED_NOTE if answer.citations else prompts.UNCITED_NOTE}"
            answer.text += note
            yield note

    def retrieve(self, question: str) -> list[Hit]:
        return self.retriever.retrieve(question, self.settings.answer.k)

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
        deduplicated, within ``answer.context_tokens``."""
        cfg, count = self.settings.answer, self.embedder.count_tokens
        passages = [focus(hit, question, count, cfg.passage_tokens) for hit in expand(hits, self.store, cfg.expand)]
        return fit(passages, count, cfg.context_tokens)

    context_block = staticmethod(context_block)

    def _check(self, answer: Answer) -> None:
        cfg = self.settings.answer
        if prompts.NO_ANSWER.rstrip(".").lower() in answer.text.lower():
            answer.found, answer.grounded = False, False
            return
        passages = [passage_text(hit) for hit in answer.contexts]
        answer.checks = check_citations(
            answer.text, passages, self.embedder.embed_documents, cfg.min_lexical, cfg.min_cosine
        )
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
                )
            )
        answer.grounded = any(citation.supported for citation in answer.citations)
