"""PowerHouse RAG: offline-first retrieval-augmented generation."""

__version__ = "0.1.0"
