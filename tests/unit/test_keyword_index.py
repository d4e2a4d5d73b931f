"""The BM25 keyword index on its own: context windows, filters, persistence, generations."""

import json

from rag.documents import Chunk
from rag.stores.keyword import BM25Index, Tokenizer, _window_tokens, _windows, chunk_terms, tail_of


def chunk(i, text, start, source="a.md", **meta):
    return Chunk(
        id=f"{source}-{i}",
        text=text,
        metadata={"source": source, "chunk_index": i, "start": start, "end": start + len(text), **meta},
    )


def test_windows_stitch_neighbours_without_the_repeated_overlap():
    # Row layout as stored: (id, metadata, tokens, parent, text, start, end); "bravo " is repeated overlap.
    text = "alpha bravo charlie delta echo"
    rows = [
        ("1", "{}", "", "p", text[0:12], 0, 12),  # "alpha bravo "
        ("2", "{}", "", "p", text[6:20], 6, 20),  # "bravo charlie " (6 chars overlap)
        ("3", "{}", "", "p", text[20:], 20, 30),  # "delta echo"
        ("4", "{}", "", "q", "other parent", 0, 12),
    ]
    assert _windows(rows, 0) == [text[0:12], text[6:20], text[20:], "other parent"]
    windows = _windows(rows, 1)
    assert windows[0] == "alpha bravo  charlie "  # chunk 1 + chunk 2 minus its overlap
    assert windows[1].split() == text.split()  # the middle chunk sees its whole document
    assert windows[2].split() == ["bravo", "charlie", "delta", "echo"]
    assert windows[3] == "other parent"  # never across documents


def test_context_finds_a_chunk_by_its_neighbours_terms(tmp_path):
    chunks = [
        chunk(0, "Zorblax reactors were first built in 1961. ", 0),
        chunk(1, "They run on heavy water and need no enrichment. ", 44),
        chunk(2, "A completely different topic about gardening and roses. ", 0, source="b.md"),
    ]
    plain = BM25Index(tmp_path / "plain.sqlite", context=0)
    plain.upsert(chunks)
    assert {h.id for h in plain.search("heavy water", 5)} == {"a.md-1"}
    assert {h.id for h in plain.search("zorblax", 5)} == {"a.md-0"}
    windowed = BM25Index(tmp_path / "window.sqlite", context=1)
    windowed.upsert(chunks)
    assert {h.id for h in windowed.search("zorblax", 5)} == {"a.md-0", "a.md-1"}  # chunk 1 via its neighbour
    assert [h.id for h in windowed.search("roses", 5)] == ["b.md-2"]


def test_filters_deletes_and_persistence(tmp_path):
    index = BM25Index(tmp_path / "kw.sqlite", context=0)
    index.upsert([chunk(0, "solar panels on the roof", 0), chunk(1, "solar farms in the desert", 0, source="b.md")])
    assert {h.metadata["source"] for h in index.search("solar", 5)} == {"a.md", "b.md"}
    assert [h.metadata["source"] for h in index.search("solar", 5, {"source": "b.md"})] == ["b.md"]
    assert index.search("solar", 5, {"source": ["a.md", "b.md"]})[0].score > 0
    index.flush()
    (saved_dir,) = tmp_path.glob("kw.*.bm25s")  # one matrix per parameter set
    saved = json.loads((saved_dir / "generation.json").read_text())
    index.close()
    reopened = BM25Index(tmp_path / "kw.sqlite", context=0)
    assert reopened.count() == 2
    assert {h.id for h in reopened.search("desert", 5)} == {"b.md-1"}  # loaded from disk, same generation
    assert json.loads((saved_dir / "generation.json").read_text()) == saved
    reopened.delete(source="b.md")
    assert reopened.search("desert", 5) == []  # the matrix follows the change
    reopened.delete(ids=["a.md-0"])
    assert reopened.count() == 0 and reopened.search("solar", 5) == []


def test_indexes_with_other_parameters_keep_their_own_matrix(tmp_path):
    path = tmp_path / "kw.sqlite"
    narrow = BM25Index(path, context=0)
    narrow.upsert([chunk(0, "alpha beta", 0), chunk(1, "gamma delta", 11)])
    wide = BM25Index(path, context=1, k1=0.9, b=0.4)
    assert {h.id for h in wide.search("alpha", 5)} == {"a.md-0", "a.md-1"}
    assert {h.id for h in narrow.search("alpha", 5)} == {"a.md-0"}
    assert len(list(tmp_path.glob("kw.*.bm25s"))) == 2


def test_window_tokens_are_the_tokens_of_the_stitched_windows():
    text = "Alpha bravo, charlie's delta-echo. Foxtrot golf hotel india juliett kilo lima mike."
    rows = [
        ("1", json.dumps({"context": "Phonetic alphabet"}), "", "p", text[0:20], 0, 20),
        ("2", json.dumps({"context": "Phonetic alphabet"}), "", "p", text[13:50], 13, 50),  # overlaps by 7
        ("3", "{}", "", "p", text[50:], 50, len(text)),
        ("4", json.dumps({"context": "Another"}), "", "q", "November oscar papa", 0, 19),
    ]
    tokenize = Tokenizer()
    for context in (1, 2):
        assert _window_tokens(rows, context, tokenize) == tokenize(_windows(rows, context))


def test_terms_made_where_chunks_are_split_give_the_same_windows_and_are_not_made_again():
    text = "Alpha bravo, charlie's delta-echo. Foxtrot golf hotel india juliett kilo lima mike."
    spans = [(0, 20), (13, 50), (50, len(text))]
    tails = [tail_of(text[a:b], end, a) for (a, b), end in zip(spans, [None, 20, 50], strict=True)]
    assert tails == [text[0:20], text[20:50], text[50:]]  # the second repeats 7 characters of the first
    tokenize = Tokenizer()
    terms = chunk_terms([text[a:b] for a, b in spans], tails, tokenize)
    assert terms[1].split("\n")[1] == "7" and terms[2].split("\n")[1] == "0"
    header = json.dumps({"context": "Phonetic alphabet"})
    plain = [(str(i), header, "", "p", text[a:b], a, b) for i, (a, b) in enumerate(spans)]
    termed = [(str(i), header, terms[i], "p", text[a:b], a, b) for i, (a, b) in enumerate(spans)]
    calls = []

    def counting(texts):
        calls.append(list(texts))
        return tokenize(texts)

    for context in (1, 2):
        calls.clear()
        assert _window_tokens(termed, context, counting) == _window_tokens(plain, context, tokenize)
        assert calls == [["Phonetic alphabet"]]  # only the header, which the child does not see


def test_an_index_reads_terms_made_elsewhere_and_tokenizes_what_they_lack(tmp_path):
    texts = ["solar panels on the roof", "wind farms in the desert"]
    made = chunk_terms(texts, texts, Tokenizer())
    chunks = [chunk(0, texts[0], 0), chunk(1, texts[1], 0, source="b.md", context="Deserts")]
    chunks[0].terms, chunks[1].terms = made
    plain = BM25Index(tmp_path / "plain.sqlite", context=0)
    plain.upsert(chunks)
    assert [h.id for h in plain.search("panel", 5)] == ["a.md-0"]
    assert [h.id for h in plain.search("deserts", 5)] == ["b.md-1"]  # a header's terms are made here
    windowed = BM25Index(tmp_path / "window.sqlite", context=1)
    windowed.upsert(chunks)
    assert [h.id for h in windowed.search("roof", 5)] == ["a.md-0"]


def test_chunks_written_with_a_window_are_found_by_their_own_terms_without_one(tmp_path):
    path = tmp_path / "kw.sqlite"
    wide = BM25Index(path, context=1)  # writes no per-chunk tokens: the window matrix never reads them
    wide.upsert([chunk(0, "alpha beta", 0), chunk(1, "gamma delta", 11, context="Greek letters")])
    narrow = BM25Index(path, context=0)  # made from the stored texts and headers when first searched
    assert [h.id for h in narrow.search("alpha", 5)] == ["a.md-0"]
    assert [h.id for h in narrow.search("greek", 5)] == ["a.md-1"]
    assert {h.id for h in wide.search("alpha", 5)} == {"a.md-0", "a.md-1"}


def test_an_index_of_another_version_is_emptied(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE chunks (id TEXT PRIMARY KEY, source TEXT, metadata TEXT, tokens TEXT);"
        "CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO chunks VALUES ('x', 'a.md', '{}', 'old');"
    )
    db.commit()
    db.close()
    index = BM25Index(path)
    assert index.count() == 0  # refilled from the store by the retriever (sync_keyword_index)
    index.upsert([chunk(0, "fresh text", 0)])
    assert [h.id for h in index.search("fresh", 3)] == ["a.md-0"]


def test_retrieved_neighbours_read_as_one_segment_at_the_better_rank(tmp_path):
    from rag.answer.context import segments
    from rag.documents import Hit
    from rag.stores.keyword import KeywordIndexedStore

    text = "Consolidated Statement of Cash Flows 2018 2017\nNet income 5,363 4,869\nPurchases of PP&E (1,577) (1,373)\n"
    pieces = [text[0:47], text[47:71], text[71:]]
    chunks = [chunk(i, piece, text.index(piece), page=60) for i, piece in enumerate(pieces)]
    chunks.append(chunk(9, "Risk factors: competition.", 0, source="b.md"))
    index = BM25Index(tmp_path / "kw.sqlite", context=0)
    index.upsert(chunks)
    store = KeywordIndexedStore(store=type("Store", (), {"location": "test"})(), keyword=index)
    hits = [Hit(id=c.id, text=c.text, metadata=c.metadata, score=1.0 - n / 10) for n, c in enumerate(chunks)]
    ranked = [hits[2], hits[3], hits[0]]  # the PP&E row first, then another file, then the statement's title
    joined = segments(ranked, store)
    assert [hit.id for hit in joined] == ["a.md-2", "b.md-9", "a.md-0"]  # not neighbours: a.md-1 was not retrieved
    assert joined[0].text == pieces[2] and "segment" not in joined[0].metadata
    joined = segments([hits[2], hits[3], hits[1], hits[0]], store)
    assert [hit.id for hit in joined] == ["a.md-2", "b.md-9"]  # all three: one passage at the PP&E row's rank
    assert joined[0].text == text and joined[0].metadata["segment"] == 3
    assert (joined[0].metadata["start"], joined[0].metadata["end"]) == (0, len(text))


def test_a_write_is_one_transaction_all_or_nothing(tmp_path):
    # The index's connection is in autocommit mode, where `with db:` begins nothing: each row of a batch used to be
    # its own transaction (and its own fsync), so a batch failing half-way left its first rows behind.
    index = BM25Index(tmp_path / "k.sqlite", context=2)  # tokens made at the build, so the bad row reaches SQLite
    index.upsert([chunk(0, "kept from before", 0)])
    generation = index._generation()
    broken = Chunk(id="bad", text=None, metadata={"source": "a.md", "chunk_index": 2})  # text NOT NULL
    batch = [chunk(1, "first row of the failing batch", 20), broken]
    try:
        index.upsert(batch)
    except Exception as exc:
        assert "NOT NULL" in str(exc)
    else:
        raise AssertionError("a row violating NOT NULL was accepted")
    assert index.ids() == {"a.md-0"}  # the batch's first row rolled back with the rest
    assert index._generation() == generation
    index.upsert(batch[:1])  # the connection is usable again (no transaction left open)
    assert index.ids() == {"a.md-0", "a.md-1"}


def test_a_chunks_neighbours_are_found_through_an_index_not_a_scan(tmp_path):
    index = BM25Index(tmp_path / "kw.sqlite")
    index.upsert([chunk(i, f"text number {i}", i) for i in range(5)])
    plan = " ".join(
        str(row)
        for row in index._db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM chunks WHERE parent = ? AND position BETWEEN ? AND ? ORDER BY position",
            ("a.md", 0, 4),
        )
    )
    assert "chunks_parent" in plan and "SCAN" not in plan.replace("SCAN chunks USING INDEX", "")
    assert [row["id"] for row in index.window("a.md-2", 1)] == ["a.md-1", "a.md-2", "a.md-3"]
