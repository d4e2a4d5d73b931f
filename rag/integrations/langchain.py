"""LangChain at the edge: our retrievers as LangChain retrievers and our LLM backends as chat models,
so LCEL chains and ours interoperate.

from rag.integrations.langchain import as_chat_model
chain = {"context": retriever.as_langchain() | join, "question": RunnablePassthrough()} | prompt
chain = prompt | as_chat_model(build_llm(settings.llm)) | StrOutputParser()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForLLMRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document as LangChainDocument
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag.llms.base import LLM, Message

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def _messages(messages: list[BaseMessage]) -> list[Message]:
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class RagChatModel(BaseChatModel):
    """A LangChain chat model backed by one of our LLM backends.

    Takes LangChain's standard parameters: ``temperature``, ``max_tokens``, ``stop`` (also per call: the text is cut
    before the first stop sequence and the generation ends there), and ``timeout`` / ``max_retries``, which are
    accepted for compatibility — the backend owns its timeout (``llm.timeout_s``) and a local model is not retried.
    Usage metadata comes from the backend's token counts (streamed: on the last chunk).
    """

    backend: Any  # an rag.llms.LLM (kept Any: pydantic cannot validate a Protocol)
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    timeout: float | None = None
    max_retries: int = 0

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    @property
    def _llm_type(self) -> str:
        return f"powerhouse-rag:{self.backend.name}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.backend.name, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def _stops(self, stop: list[str] | None) -> list[str]:
        return [s for s in (stop if stop is not None else self.stop) or [] if s]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = self.backend.complete(
            _messages(messages), max_tokens=self.max_tokens, temperature=self.temperature
        )
        text, stopped = _cut(completion.text, self._stops(stop))
        message = AIMessage(
            content=text,
            usage_metadata={
                "input_tokens": completion.prompt_tokens,
                "output_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            },
            response_metadata={"model_name": self.backend.name},
        )
        finish = "stop" if stopped else completion.finish_reason
        return ChatResult(generations=[ChatGeneration(message=message, generation_info={"finish_reason": finish})])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        stops = self._stops(stop)
        held = ""  # text that may be the start of a stop sequence: sent once it cannot be
        pieces = 0
        tokens = self.backend.stream(_messages(messages), max_tokens=self.max_tokens, temperature=self.temperature)
        try:
            for token in tokens:
                pieces += 1
                text, stopped = _cut(held + token, stops)
                keep = _partial_stop(text, stops) if not stopped else 0
                held, ready = (text[len(text) - keep :], text[: len(text) - keep]) if keep else ("", text)
                if ready:
                    yield self._chunk(ready, run_manager)
                if stopped:
                    break
            else:
                if held:
                    yield self._chunk(held, run_manager)
        finally:
            close = getattr(tokens, "close", None)
            if close:
                close()
        usage = {"input_tokens": 0, "output_tokens": pieces, "total_tokens": pieces}
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", usage_metadata=usage, response_metadata={"model_name": self.backend.name}
            ),
            generation_info={"finish_reason": "stop"},
        )

    @staticmethod
    def _chunk(text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk


def _cut(text: str, stops: list[str]) -> tuple[str, bool]:
    """`text` up to the first stop sequence, and whether one was found."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(found)], True) if found else (text, False)


def _partial_stop(text: str, stops: list[str]) -> int:
    """How many trailing characters of `text` could begin a stop sequence (held back until the next token)."""
    return max((n for s in stops for n in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:n])), default=0)


def as_chat_model(llm: LLM, max_tokens: int | None = None, **params: Any) -> RagChatModel:
    """`llm` as a LangChain chat model; `params`: temperature, stop, timeout, max_retries."""
    return RagChatModel(backend=llm, max_tokens=max_tokens, **params)


class LangChainRetriever(BaseRetriever):
    """One of our retrievers as a LangChain ``BaseRetriever``; documents carry our metadata plus ``score``.

    ``invoke(query, k=3)`` and ``invoke(query, filter={"source": "guide.pdf"})`` override the constructor's ``k``
    and filter for one call, as LangChain's own retrievers do; ``ainvoke`` runs the search in a worker thread.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: Any  # rag.retrievers.base.Retriever
    k: int = Field(5, ge=1)
    filter: dict[str, Any] | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[LangChainDocument]:
        if kwargs:
            raise TypeError(f"unexpected search arguments {sorted(kwargs)}; this retriever takes k and filter")
        hits = self.retriever.retrieve(query, k or self.k, filter if filter is not None else self.filter)
        return [to_langchain(hit) for hit in hits[: k or self.k]]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[LangChainDocument]:
        import asyncio

        def search() -> list[LangChainDocument]:
            return self._get_relevant_documents(query, run_manager=run_manager.get_sync(), k=k, filter=filter, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(None, search)


def to_langchain(hit: Any) -> LangChainDocument:
    return LangChainDocument(page_content=hit.text, id=hit.id, metadata={**hit.metadata, "score": hit.score})
