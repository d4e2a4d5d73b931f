"""Adapters to other frameworks, kept at the edge.

Nothing in rag/ imports them except ``as_langchain()`` and ``as_llamaindex()`` on demand.
LangChain: ``rag.integrations.langchain``; LlamaIndex: ``rag.integrations.llamaindex``.
"""
