"""Token offsets from a cache of each word's tokens (ingest/word_tokens.py): exactly the tokenizer's own."""

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from ingest.discover import discover
from ingest.loaders import load
from ingest.splitters import Splitter
from ingest.word_tokens import cached_token_starts, word_separable
from rag.config import LoaderConfig, SplitterConfig
from rag.errors import LoaderError

EDGES = [
    "",
    "   \n\t ",
    "Café naïve résumé — ÉCOLE",  # accents (the normalizer lowercases; offsets stay in the original)
    "中文字符和English混合text",  # CJK characters get spaces of their own inside one word
    "a\x0bb c\x0cd e\x85f g\x1ch",  # control characters the normalizer deletes join their neighbours
    "x\xa0y\u2003z\u3000w\u2028v",  # no-break, em and ideographic spaces, line separator: split
    "a" * 150 + " short",  # longer than WordPiece's 100 characters: one [UNK]
    "(Notes 1 and 3) $1,234.5 -12% e.g. U.S.A.! ",
    "emoji 🙂🙂 and \ufffd replacement \x00 null",
    "[CLS] foo[MASK]bar [SEP] [UNK]",
    "unbelievably antidisestablishmentarianism tokenization",
]


def reference(tokenizer, texts):
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    return [[start for start, _ in encoding.offsets] for encoding in encodings]


def shared_texts(documents_dir):
    texts = []
    for file in discover([documents_dir], LoaderConfig()).files:
        try:
            texts += [document.text for document in load(file.path, LoaderConfig())]
        except LoaderError:
            continue
    return texts


def test_bert_wordpiece_is_word_separable_and_byte_level_bpe_is_not(embedder):
    assert word_separable(embedder.tokenizer())
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    assert not word_separable(bpe)


def test_cached_offsets_are_the_tokenizers_own_on_edge_cases_and_real_documents(embedder, documents_dir):
    tokenizer = embedder.tokenizer()
    starts = cached_token_starts(tokenizer)
    assert starts(EDGES) == reference(tokenizer, EDGES)
    texts = shared_texts(documents_dir)
    assert len(texts) > 20 and sum(map(len, texts)) > 300_000
    for at in range(0, len(texts), 16):  # the second time round from the cache
        assert starts(texts[at : at + 16]) == reference(tokenizer, texts[at : at + 16])
    assert starts(texts[:16]) == reference(tokenizer, texts[:16])


@pytest.mark.parametrize("size,overlap", [(256, 0), (64, 16)])
def test_the_splitter_cuts_the_same_pieces_with_the_cache(embedder, documents_dir, size, overlap):
    tokenizer = embedder.tokenizer()
    cfg = SplitterConfig(chunk_size=size, chunk_overlap=overlap)
    plain = Splitter(
        cfg,
        lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids),
        embedder.max_tokens,
        lambda text: [start for start, _ in tokenizer.encode(text, add_special_tokens=False).offsets],
    )
    cached = Splitter.from_tokenizer(cfg, tokenizer, embedder.max_tokens)
    documents = []
    for file in discover([documents_dir / "markdown", documents_dir / "txt"], LoaderConfig()).files:
        documents += load(file.path, LoaderConfig())
    pieces = [list(plain.split(document)) for document in documents]
    cached.prefetch(documents)
    assert [list(cached.split(document)) for document in documents] == pieces
    assert sum(map(len, pieces)) > 50
