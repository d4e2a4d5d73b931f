"""Token-aware, header-aware splitting with exact spans — using the real model's tokenizer."""

import itertools

import pytest

from ingest.loaders import load
from ingest.splitters import Splitter, markdown_sections
from rag.config import LoaderConfig, SplitterConfig
from rag.documents import Document


@pytest.fixture(scope="module")
def splitter(embedder):
    return Splitter(SplitterConfig(chunk_size=128, chunk_overlap=16), embedder.count_tokens, embedder.max_tokens)


def test_no_chunk_exceeds_the_model_window(embedder, documents_dir):
    splitter = Splitter(SplitterConfig(chunk_size=0), embedder.count_tokens, embedder.max_tokens)
    [doc] = load(documents_dir / "txt/unstructured_norwich-city.txt", LoaderConfig())
    pieces = list(splitter.split(doc))
    assert embedder.max_tokens == 254  # 256 word pieces minus [CLS] and [SEP]
    assert len(pieces) > 20
    from transformers import AutoTokenizer

    from rag.embeddings import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2")[0])  # the packaged model's own
    counts = [len(tokenizer(p.text)["input_ids"]) for p in pieces]
    assert max(counts) <= 256  # special tokens included: nothing truncated
    assert sum(counts) / len(counts) > 150  # and chunks are not wastefully small


def test_chunks_of_128_tokens_are_balanced(splitter, embedder, documents_dir):
    [doc] = load(documents_dir / "txt/unstructured_norwich-city.txt", LoaderConfig())
    counts = [embedder.count_tokens(p.text) for p in splitter.split(doc)]
    assert max(counts) <= 128
    assert min(counts) >= 20  # no tiny tails
    assert sum(counts) / len(counts) > 80


def test_spans_point_at_the_chunk_text(splitter, documents_dir):
    [doc] = load(documents_dir / "html/docling_wiki_duck.html", LoaderConfig())
    for piece in splitter.split(doc):
        assert doc.text[piece.start : piece.end] == piece.text


def test_markdown_section_paths(splitter):
    text = (
        "# Guide\nintro\n\n## Install\nrun pip\n\n```bash\n# not a heading\n```\n\n"
        "### On Linux\napt it\n\n## Use\ncall it\n"
    )
    pieces = list(splitter.split(Document(text=text, format="markdown")))
    assert [p.section for p in pieces] == ["Guide", "Guide > Install", "Guide > Install > On Linux", "Guide > Use"]
    assert "# not a heading" in pieces[1].text  # a comment in a code block is not a heading


def test_text_before_the_first_heading_has_no_section():
    sections = markdown_sections("preface\n# A\nbody\n")
    assert [(s.path, s.text) for s in sections] == [("", "preface\n"), ("A", "# A\nbody\n")]


def test_plain_text_ignores_hash_lines(splitter):
    pieces = list(splitter.split(Document(text="# not markdown\nsome words", format="text")))
    assert [p.section for p in pieces] == [""]


def test_oversized_config_is_clamped_to_the_window(embedder):
    splitter = Splitter(SplitterConfig(chunk_size=4000, chunk_overlap=10), embedder.count_tokens, embedder.max_tokens)
    assert splitter.chunk_size == embedder.max_tokens


def test_overlap_repeats_text_between_neighbours(embedder, documents_dir):
    splitter = Splitter(SplitterConfig(chunk_size=64, chunk_overlap=16), embedder.count_tokens, embedder.max_tokens)
    [doc] = load(documents_dir / "txt/unstructured_book-war-and-peace-1p.txt", LoaderConfig())
    # langchain overlaps whole splits: words (no sentence or paragraph breaks) show it best
    words = "".join(ch for ch in doc.text if ch.isalnum() or ch.isspace()).split()
    one_paragraph = Document(text=" ".join(words))
    pieces = list(splitter.split(one_paragraph))
    assert all(embedder.count_tokens(p.text) <= 64 for p in pieces)
    overlapping = sum(1 for a, b in itertools.pairwise(pieces) if b.start < a.end)
    assert overlapping >= len(pieces) // 2


def test_truncate_keeps_the_longest_prefix_that_fits(embedder, documents_dir):
    splitter = Splitter(SplitterConfig(chunk_size=0, truncate=True), embedder.count_tokens, embedder.max_tokens)
    [doc] = load(documents_dir / "txt/unstructured_norwich-city.txt", LoaderConfig())
    [piece] = list(splitter.split(doc))  # one piece per document, the rest dropped (as MTEB/BEIR embed)
    assert piece.start == doc.text.index(doc.text.strip()[0]) and piece.text == doc.text[piece.start : piece.end]
    assert embedder.count_tokens(piece.text) <= 254
    assert embedder.count_tokens(doc.text[piece.start : piece.end + 1]) > 254 or piece.end == len(doc.text)
    [short] = list(splitter.split(Document(text="  A short record.  ")))
    assert short.text == "A short record." and (short.start, short.end) == (2, 17)


def test_a_table_piece_knows_the_header_rows_it_continues(embedder):
    rows = "\n".join(f"Line item {n} | {n},{n:03d} | {n + 1},{n:03d}" for n in range(60))
    text = f"Notes to the accounts\n\n | 2019 | 2018\n{rows}\n\nAfter the table."
    cfg = SplitterConfig(chunk_size=64, chunk_overlap=0, table_header=True)
    pieces = list(Splitter(cfg, embedder.count_tokens, embedder.max_tokens).split(Document(text=text)))
    assert len(pieces) > 3
    continued = [p for p in pieces if p.text.startswith("Line item") and not p.text.startswith("Line item 0 ")]
    assert continued and all(p.table_header == "| 2019 | 2018" for p in continued)
    assert pieces[0].table_header == ""  # the piece holding the header itself needs none
    assert all(text[p.start : p.end] == p.text for p in pieces)  # the header is not copied into the text
    off = Splitter(SplitterConfig(chunk_size=64, chunk_overlap=0), embedder.count_tokens, embedder.max_tokens)
    assert all(p.table_header == "" for p in off.split(Document(text=text)))


def test_documents_tokenized_together_split_exactly_as_one_by_one(embedder, documents_dir):
    """The parse child tokenizes small documents in one batch call (ingest/sandbox.py): the same pieces as a call per
    section, Markdown sections included, and padding (a tokenizer that has it set) does not count as tokens."""
    import copy

    cfg = SplitterConfig(chunk_size=64, chunk_overlap=16)
    documents = [
        *load(documents_dir / "txt/unstructured_norwich-city.txt", LoaderConfig()),
        *load(documents_dir / "markdown/docling_wiki.md", LoaderConfig()),
        Document(text="A short one.", metadata={}),
        Document(text="   \n  ", metadata={}),
    ]
    one_by_one = Splitter.from_tokenizer(cfg, embedder.tokenizer(), embedder.max_tokens)
    expected = [list(one_by_one.split(document)) for document in documents]
    padded = copy.deepcopy(embedder.tokenizer())
    padded.enable_padding(length=None)  # pad to the longest text of the batch
    for tokenizer in (embedder.tokenizer(), padded):
        together = Splitter.from_tokenizer(cfg, tokenizer, embedder.max_tokens)

        def not_prefetched(text):
            raise AssertionError(f"tokenized alone: {text[:60]!r}")

        together.token_starts = not_prefetched  # only what prefetch made may be used
        together.count_tokens = one_by_one.count_tokens
        together.prefetch(documents)
        assert [list(together.split(document)) for document in documents] == expected
    assert sum(len(pieces) for pieces in expected) > 20 and any(p.section for p in expected[1])
