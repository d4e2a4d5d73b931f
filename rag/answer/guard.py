"""Limits on what a question may be (`check_input`), and post-checks on a generated answer, against what a planted
instruction tries to make a model emit: links and images that point outside the user's documents (exfiltration),
the text of our own system prompt (a leak), and — for an answer no passage supports — text taken from the question
itself rather than from the documents (what garak's DAN and latent-injection probes get out of a model).
The context-side half of the defence is prompts.neutralize_instructions; both are measured together by
bench/injection_bench.py (docs/security.md)."""

from __future__ import annotations

import re
from typing import Any

from rag.errors import InputTooLong
from rag.llms.base import Message

_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s)\]>\"']+", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_LEAK_WORDS = 6  # this many consecutive words of the system prompt in an answer is a leak
_ECHO_WORDS = 3  # this many consecutive words of the question, in no passage, in an unsupported answer: an echo


def _shingles(text: str, size: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def guard_answer(text: str, passages: list[str], system_prompt: str) -> tuple[str, list[str]]:
    """The answer with foreign links and images removed, and what was found; a leak of the system prompt
    replaces the whole answer (returned as "", the caller answers "not found")."""
    findings: list[str] = []
    sources = "\n".join(passages).lower()
    if _shingles(text, _LEAK_WORDS) & _shingles(system_prompt, _LEAK_WORDS):
        return "", ["the answer repeated the system prompt"]

    def image(found: re.Match) -> str:
        findings.append(f"removed an image: {found.group(0)[:80]}")
        return ""

    def link(found: re.Match) -> str:
        if found.group(2).lower() in sources:
            return found.group(0)
        findings.append(f"removed a link not in the documents: {found.group(2)[:80]}")
        return found.group(1)

    def url(found: re.Match) -> str:
        if found.group(0).lower().rstrip(".,;") in sources:
            return found.group(0)
        findings.append(f"removed a URL not in the documents: {found.group(0)[:80]}")
        return "[link removed]"

    text = _URL.sub(url, _LINK.sub(link, _IMAGE.sub(image, text)))
    return re.sub(r"[ \t]{2,}", " ", text).strip(), findings


def echoes_question(text: str, question: str, passages: list[str]) -> bool:
    """True when the answer repeats words of the question that no passage contains: the model answered from
    the user's own message (a pasted jailbreak, a "repeat <this>" trick), not from the documents."""
    from_sources = _shingles("\n".join(passages), _ECHO_WORDS)
    return bool((_shingles(text, _ECHO_WORDS) & _shingles(question, _ECHO_WORDS)) - from_sources)


def check_input(question: str, history: list[Message], cfg: Any) -> None:
    """Refuse a question or conversation over the configured limits, before anything is embedded or generated."""
    if len(question) > cfg.max_question_chars:
        raise InputTooLong(
            f"the question is {len(question):,} characters; the limit is {cfg.max_question_chars:,} "
            "(answer.max_question_chars): ask something shorter, or put long text into a document and ingest it"
        )
    total = sum(len(str(message.get("content", ""))) for message in history)
    if total > cfg.max_history_chars:
        raise InputTooLong(
            f"the conversation is {total:,} characters; the limit is {cfg.max_history_chars:,} "
            "(answer.max_history_chars): start a new conversation"
        )
