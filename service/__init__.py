"""The application layer, above the library (rag/) and ingest: what an app holds for its lifetime.

- ``service.library``: the documents of a store (list, checked uploads, delete through ingest's removal);
- ``service.rag_service``: ``RagService``, one embedder, store and LLMs shared by an app's sessions;
- ``service.api``: the REST API (``python -m rag serve``), OpenAI-compatible ``/v1/chat/completions``.

The Streamlit app (apps/) sits on top of it.
"""
