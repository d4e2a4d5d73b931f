"""Our LLM backends as LangChain chat models, so LCEL chains and ours interoperate.

from rag.llms import build_llm
from rag.llms.langchain import as_chat_model
chain = prompt | as_chat_model(build_llm(settings.llm)) | StrOutputParser()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
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
