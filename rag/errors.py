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


class InputTooLong(RagError):
    """A question or conversation over the configured length limits (answer.max_question_chars,
    answer.max_history_chars): refused before any model sees it (the REST API answers 413)."""

    exit_code = 1


class LLMError(RagError):
    """The language model could not be loaded or did not answer."""


class LLMServerError(LLMError):
    """The LLM server was unreachable, timed out or answered with an HTTP error (not a bad answer)."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def disk_error(exc: BaseException, where: str) -> StoreError | None:
    """A write that failed because the disk under `where` is full or read-only, as a StoreError saying how to
    fix it (None for any other failure)."""
    import errno

    text = str(exc)
    lowered = text.lower()
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "disk is full" in lowered or "no space left" in lowered:
        return StoreError(
            f"No space left on the disk of {where} ({text}): free some space or move it elsewhere in the config, "
            "then run again; files that finished are kept"
        )
    if code == errno.EROFS or "readonly" in lowered or "read-only" in lowered:
        return StoreError(
            f"{where} is on a read-only disk or folder ({text}): make it writable, or point the config elsewhere"
        )
    return None
