"""LangChain at the edge: our retrievers as LangChain retrievers and our LLM backends as chat models,
so LCEL chains and ours interoperate.

from rag.integrations.langchain import as_chat_model
chain = {"context": retriever.as_langchain() | join, "question": RunnablePassthrough()} | prompt
chain = prompt | as_chat_model(build_llm(settings.llm)) | StrOutputParser()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LangChainDocument
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.llms.base import LLM, Message

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def _messages(messages: list[BaseMessage]) -> list[Message]:
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class RagChatModel(BaseChatModel):
    """A LangChain chat model backed by one of our LLM backends."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    backend: Any  # an rag.llms.LLM (kept Any: pydantic cannot validate a Protocol)
    max_tokens: int | None = None

    @property
    def _llm_type(self) -> str:
        return f"powerhouse-rag:{self.backend.name}"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        completion = self.backend.complete(_messages(messages), max_tokens=self.max_tokens)
        message = AIMessage(
            content=completion.text,
            usage_metadata={
                "input_tokens": completion.prompt_tokens,
                "output_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            },
        )
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info={"finish_reason": completion.finish_reason})]
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for token in self.backend.stream(_messages(messages), max_tokens=self.max_tokens):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk


def as_chat_model(llm: LLM, max_tokens: int | None = None) -> RagChatModel:
    return RagChatModel(backend=llm, max_tokens=max_tokens)


class LangChainRetriever(BaseRetriever):
    """One of our retrievers as a LangChain ``BaseRetriever``; documents carry our metadata plus ``score``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: Any  # rag.retrievers.base.Retriever
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LangChainDocument]:
        return [to_langchain(hit) for hit in self.retriever.retrieve(query, self.k, None)]


def to_langchain(hit: Any) -> LangChainDocument:
    return LangChainDocument(page_content=hit.text, id=hit.id, metadata={**hit.metadata, "score": hit.score})
