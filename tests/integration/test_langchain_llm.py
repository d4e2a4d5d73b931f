"""Our local backend inside a real LangChain LCEL chain (packaged SmolLM2, fast)."""

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from rag.integrations.langchain import as_chat_model
from rag.llms.local import LocalLLM

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chat_model():
    from rag.packaged import models

    models.pull("smollm2-135m-instruct-q4_1", download=False)
    return as_chat_model(LocalLLM("smollm2-135m-instruct-q4_1", n_ctx=1024, temperature=0.0), max_tokens=24)


def test_invoke_and_stream_in_an_lcel_chain(chat_model):
    chain = (
        ChatPromptTemplate.from_messages([("system", "You are terse."), ("human", "Name a colour: {hint}")])
        | chat_model
        | StrOutputParser()
    )
    text = chain.invoke({"hint": "the sky"})
    assert isinstance(text, str) and text.strip()
    pieces = list(chain.stream({"hint": "grass"}))
    assert len(pieces) > 1 and "".join(pieces).strip()
    message = chat_model.invoke("Say hi.")
    assert message.usage_metadata["output_tokens"] > 0
