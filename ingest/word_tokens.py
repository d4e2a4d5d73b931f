"""Token offsets of texts from a cache of each word's tokens, for tokenizers that tokenize words on their own.

BERT's WordPiece (bge, MiniLM, e5 …) normalizes character by character and always splits at whitespace before it
cuts words into pieces, so a whitespace-separated word has the same tokens wherever it stands. The parse child
needs every token's start offset to split by model tokens; encoding each section costs ~0.6 ms per SciFact abstract
(two thirds of splitting), while a corpus repeats most of its words: each distinct word is encoded once, and a
text's offsets are its words' cached offsets shifted to where the words stand. Exact, not approximate: the tests
compare with the tokenizer's own offsets, character for character, on real documents and on edge cases.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# Where BERT's pre-tokenizer splits and its normalizer keeps the character (Rust's char::is_whitespace minus the
# control characters the normalizer deletes: \x0b, \x0c and \x85 join their neighbours into one word).
_WORD = re.compile("[^\t\n\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_WORDS_PER_LINE = 2_000
_CACHE_WORDS = 500_000  # distinct words kept (~50 MB; SciFact has 96 k); the cache starts again when full


def word_separable(tokenizer: Any) -> bool:
    """Whether `tokenizer` (a ``tokenizers.Tokenizer``) gives each whitespace-separated word the same tokens
    wherever it stands: WordPiece behind BERT's normalizer and pre-tokenizer, no added token with a space in it
    or that strips its neighbours' whitespace."""
    spec = json.loads(tokenizer.to_str())
    normalizer, pre = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}
    if (spec.get("model") or {}).get("type") != "WordPiece" or pre.get("type") != "BertPreTokenizer":
        return False
    if normalizer and normalizer.get("type") != "BertNormalizer":
        return False
    return not any(
        _WORD.fullmatch(added["content"]) is None or added.get("lstrip") or added.get("rstrip")
        for added in spec.get("added_tokens") or []
    )


def cached_token_starts(tokenizer: Any) -> Callable[[list[str]], list[list[int]]]:
    """``starts(texts)``: each text's token start offsets (no special tokens), as ``tokenizer.encode_batch``
    gives them, from a cache of each word's tokens. Only for a :func:`word_separable` tokenizer."""
    cache: dict[str, tuple[int, ...]] = {}

    def starts(texts: list[str]) -> list[list[int]]:
        placed = [(_WORD.findall(text), [found.start() for found in _WORD.finditer(text)]) for text in texts]
        unseen = list({word for words, _ in placed for word in words} - cache.keys())
        if len(cache) + len(unseen) > _CACHE_WORDS:
            cache.clear()
            unseen = list({word for words, _ in placed for word in words})
        if unseen:
            cache.update(_encoded_words(tokenizer, unseen))
        return [
            [at + start for word, at in zip(words, ats, strict=True) for start in cache[word]] for words, ats in placed
        ]

    return starts


def _encoded_words(tokenizer: Any, words: list[str]) -> dict[str, tuple[int, ...]]:
    """Each word's token start offsets, the words encoded a few thousand to a line (one long text costs the
    tokenizer far less than as many tiny ones) and each token given back to the word it starts in."""
    found: dict[str, tuple[int, ...]] = {}
    lines = [words[at : at + _WORDS_PER_LINE] for at in range(0, len(words), _WORDS_PER_LINE)]
    encodings = tokenizer.encode_batch([" ".join(line) for line in lines], add_special_tokens=False)
    for line, encoding in zip(lines, encodings, strict=True):
        starts = [start for (start, _), real in zip(encoding.offsets, encoding.attention_mask, strict=True) if real]
        token, at = 0, 0
        for word in line:
            end, pieces = at + len(word), []
            while token < len(starts) and starts[token] < end:
                pieces.append(starts[token] - at)
                token += 1
            found[word] = tuple(pieces)
            at = end + 1
    return found
