"""Condense a follow-up into a standalone question (one LLM call), with a check that the rewrite still asks it;
and fit a conversation to a token budget (clip, recent_within).

A small model sometimes answers with the conversation's first question instead of rewriting the last one
("And how do I claim it?" → "What warranty does the Aurora e-bike have?"): retrieval then finds the earlier
answer again. So the rewrite must keep the follow-up's own content words; when it drops them, the follow-up is
searched together with the previous question instead, which keeps both the topic and what is asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rag.answer import prompts
from rag.llms.base import LLM, Message

_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no topic of their own in a follow-up (questions, pronouns, fillers).
_FUNCTION_WORDS = frozenset(
    """a an and are as at be but by can could did do does for from had has have how i if in is it its me
    my of on or our so than that the their them then there these they this those to too us was we were
    what when where which who whom why will with would you your about also any else more much many some
    just please tell give explain say said""".split()  # noqa: SIM905 (a word list reads better as text)
)


@dataclass
class Condensed:
    question: str
    tokens: int = 0
    repaired: bool = False  # the rewrite lost the follow-up: searched as previous question + follow-up


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry a topic, cut to 5 letters (so "claim" meets "claims" and "claiming")."""
    return {word[:5] for word in _WORD.findall(text.lower()) if word not in _FUNCTION_WORDS and len(word) > 1}


def keeps_the_question(follow_up: str, rewrite: str) -> bool:
    """True when the rewrite holds at least half of the follow-up's content words (all, when there are two)."""
    wanted = content_words(follow_up)
    if not wanted:
        return bool(rewrite.strip())
    kept = len(wanted & content_words(rewrite))
    return kept * 2 >= len(wanted) if len(wanted) > 2 else kept == len(wanted)


def condense(llm: LLM, question: str, history: list[Message]) -> Condensed:
    """The standalone form of `question` given the conversation `history` (non-empty)."""
    completion = llm.complete(prompts.condense_messages(question, history), max_tokens=64, temperature=0.0)
    lines = completion.text.strip().splitlines()
    rewrite = lines[0].strip() if lines else ""
    tokens = completion.prompt_tokens + completion.completion_tokens
    if rewrite and keeps_the_question(question, rewrite):
        return Condensed(rewrite, tokens)
    previous = next((m["content"] for m in reversed(history) if m["role"] == "user"), "")
    return Condensed(f"{previous} {question}" if previous else question, tokens, True)


def clip(text: str, tokens: int, count: Any) -> str:
    """`text` within about `tokens` tokens: its start and end kept, the middle cut and marked."""
    if count(text) <= tokens:
        return text
    chars = max(40, tokens * 4)  # ~4 characters a token; checked again below
    while True:
        head, tail = text[: chars * 2 // 3], text[-(chars // 3) :]
        clipped = f"{head} […] {tail}"
        if count(clipped) <= tokens or chars <= 40:
            return clipped
        chars = chars * 3 // 4


def recent_within(history: list[Message], tokens: int, count: Any) -> list[Message]:
    """The most recent messages that fit `tokens` (the oldest one cut to fit)."""
    kept: list[Message] = []
    left = tokens
    for message in reversed(history):
        size = count(message["content"])
        if size <= left:
            kept.append(message)
            left -= size
            continue
        if left > 32:
            kept.append({**message, "content": clip(message["content"], left, count)})
        break
    return kept[::-1]
