"""Exceptions a user may see. Each message says what went wrong and, where possible, how to fix it."""

from __future__ import annotations


class RagError(Exception):
    """Base class: an expected failure, printed as one line by the CLIs (no traceback)."""

    exit_code = 2


class ConfigError(RagError):
    """The configuration is invalid or missing."""


class LoaderError(RagError):
    """One input file could not be read; the run goes on with the others."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class EmbeddingError(RagError):
    """The embedding model could not be loaded or called."""


class StoreError(RagError):
    """The vector store could not be opened, read or written."""


class StoreMismatchError(StoreError):
    """The store was built with another embedding model or dimension than the configured one."""


class LLMError(RagError):
    """The language model could not be loaded or did not answer."""


class LLMServerError(LLMError):
    """The LLM server was unreachable, timed out or answered with an HTTP error (not a bad answer)."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out
