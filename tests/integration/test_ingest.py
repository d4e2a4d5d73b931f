"""Ingest end to end with the real model and real stores: bad inputs, incremental runs, stable ids."""

from pathlib import Path

import pytest

from ingest.run import ingest
from rag.stores import build_store

BAD = {
    "documents/bad_inputs/docling_csv-inconsistent-header.csv": "ragged CSV",
    "documents/bad_inputs/docling_csv-too-many-columns.csv": "ragged CSV",
    "documents/bad_inputs/pdfplumber_empty.pdf": "empty file",
    "documents/bad_inputs/pdfplumber_password-example.pdf": "encrypted PDF",
    "documents/bad_inputs/pypdf_encrypted-file.pdf": "encrypted PDF",
    "documents/bad_inputs/unstructured_empty.txt": "empty file",
    "documents/bad_inputs/unstructured_fake-incomplete-json.txt": "invalid JSON",
    "documents/bad_inputs/unstructured_fake-text-all-whitespace.txt": "no extractable text",
    "documents/bad_inputs/unstructured_password.pdf": "encrypted PDF",
}
# The incremental suite runs on the default store and on a real Neo4j server (started once per session).
KINDS = pytest.mark.parametrize("kind", ["chroma", "neo4j"])
REQUIRED_METADATA = {"source", "title", "chunk_index", "start", "end", "file_hash", "chunk_hash", "ingested_at"}


def snapshot(settings, embedder) -> dict[str, tuple[str, dict]]:
    """Everything in the store except the ingest time: id -> (text, metadata)."""
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        return {
            row.id: (row.text, {k: v for k, v in row.metadata.items() if k != "ingested_at"}) for row in store.get()
        }
    finally:
        store.close()


ONNX_MINILM = {"provider": "onnx", "model": "all-minilm-l6-v2-q"}


@pytest.fixture(scope="module")
def onnx_embedder():
    """The int8 ONNX MiniLM: what these tests check is the ingest, not the model, and it embeds the shared
    documents in a third of the torch model's time on one core."""
    from rag.embeddings.onnx import OnnxEmbedder

    model = OnnxEmbedder("all-minilm-l6-v2-q")
    model.warm_up()
    return model


@pytest.fixture(scope="module")
def shared_ingest(tmp_path_factory, documents_dir, onnx_embedder):
    """All shared documents (good and bad) ingested once into a Chroma store."""
    from rag.config import Settings

    root = tmp_path_factory.mktemp("shared")
    settings = Settings(store={"path": str(root / "chroma"), "collection": "shared_docs"}, embedding=ONNX_MINILM)
    report = ingest([documents_dir], settings, embedder=onnx_embedder)
    return settings, report


def test_bad_inputs_are_reported_and_good_files_land(shared_ingest, documents_dir, onnx_embedder):
    settings, report = shared_ingest
    failed = {outcome.source: outcome.reason for outcome in report.failed}
    assert set(failed) == set(BAD)
    for source, reason in BAD.items():
        assert reason in failed[source]
    assert report.exit_code == 1
    good = {o.source for o in report.files if o.status == "new"}
    expected_good = {
        "documents/" + p.relative_to(documents_dir).as_posix()
        for p in documents_dir.rglob("*")
        if p.is_file() and p.suffix in {".pdf", ".html", ".md", ".txt", ".docx", ".json", ".ndjson", ".csv"}
    } - set(BAD)
    assert good == expected_good
    assert "SHA256SUMS" in report.unsupported
    warned = {o.source: o.warnings for o in report.files if o.warnings}
    assert "damaged PDF" in warned["documents/bad_inputs/pypdf_issue-297-broken-xref.pdf"][0]

    rows = snapshot(settings, onnx_embedder)
    assert len(rows) == report.chunks_written
    sources = {meta["source"] for _, meta in rows.values()}
    assert sources == good  # every good file has chunks, no failed file has any
    assert all(REQUIRED_METADATA - {"ingested_at"} <= set(meta) for _, meta in rows.values())
    store = build_store(settings.store, onnx_embedder.name, onnx_embedder.dimension)
    assert all(set(row.metadata) >= REQUIRED_METADATA for row in store.get())
    store.close()


def test_chunk_metadata_locates_the_text(shared_ingest, documents_dir, onnx_embedder):
    settings, _ = shared_ingest
    rows = snapshot(settings, onnx_embedder)
    pdf = [meta for _, meta in rows.values() if meta["source"] == "documents/pdf/docling_multi_page.pdf"]
    assert sorted({meta["page"] for meta in pdf}) == [1, 2, 3, 4, 5]
    duck = [(text, meta) for text, meta in rows.values() if meta["source"] == "documents/html/docling_wiki_duck.html"]
    assert any(meta.get("section", "").endswith("Distribution and habitat") for _, meta in duck)
    for text, meta in rows.values():
        if meta["source"] == "documents/markdown/docling_wiki.md":
            original = (documents_dir / "markdown/docling_wiki.md").read_text()
            assert original[meta["start"] : meta["end"]] == text
    indexes = sorted(meta["chunk_index"] for _, meta in duck)
    assert indexes == list(range(len(duck)))


def test_rerun_with_nothing_changed_writes_nothing(shared_ingest, documents_dir, onnx_embedder):
    settings, first = shared_ingest
    before = snapshot(settings, onnx_embedder)
    again = ingest([documents_dir], settings, embedder=onnx_embedder)
    assert again.chunks_written == 0 and again.chunks_embedded == 0
    assert again.counts["unchanged"] == first.counts["new"]
    assert len(again.failed) == len(BAD)  # still reported on every run
    assert snapshot(settings, onnx_embedder) == before


def test_the_keyword_index_reads_the_parse_child_s_tokens_as_its_own(shared_ingest):
    """The parser child tokenizes each chunk for BM25 (on the other core); the windows built from those tokens are
    exactly the windows tokenized from the stored texts, over every loader's chunks."""
    from rag.stores import open_keyword_index
    from rag.stores.keyword import _window_tokens

    settings, _ = shared_ingest
    index = open_keyword_index(settings.store)
    try:
        rows = index._db.execute(
            "SELECT id, metadata, tokens, parent, text, span_start, span_end FROM chunks ORDER BY parent, position"
        ).fetchall()
        assert rows and all(row[2].count("\n") == 2 for row in rows)  # every chunk came with its terms
        made = []
        windows = _window_tokens(rows, index.context, lambda texts: made.extend(texts) or index.tokenize(texts))
        assert made == []
        from_texts = _window_tokens([(*row[:2], "", *row[3:]) for row in rows], index.context, index.tokenize)
        assert windows == from_texts
    finally:
        index.close()


def by_source(rows, source):
    return {id_: value for id_, value in rows.items() if value[1]["source"] == source}


@KINDS
def test_edit_replaces_only_that_files_chunks(kind, docs, settings_for, embedder):
    settings = settings_for(kind)
    ingest([docs], settings, embedder=embedder)
    before = snapshot(settings, embedder)
    manual = docs / "aurora-e-bike-manual.md"
    manual.write_text(manual.read_text().replace("540 Wh", "625 Wh"))

    report = ingest([docs], settings, embedder=embedder)
    after = snapshot(settings, embedder)
    assert report.counts == {"new": 0, "changed": 1, "unchanged": 8, "removed": 0, "failed": 0}
    old, new = by_source(before, "docs/aurora-e-bike-manual.md"), by_source(after, "docs/aurora-e-bike-manual.md")
    assert not any("540 Wh" in text for text, _ in new.values())
    assert any("625 Wh" in text for text, _ in new.values())
    assert len(after) == len(before) - len(set(old) - set(new)) + len(set(new) - set(old))
    for source in {meta["source"] for _, meta in before.values()} - {"docs/aurora-e-bike-manual.md"}:
        assert by_source(after, source) == by_source(before, source)  # untouched, ids and all
    # Only the edited section was embedded again; the other chunks' vectors were reused.
    assert report.chunks_embedded == len(set(new) - set(old)) == 1
    assert report.chunks_reused == len(new) - 1


@KINDS
def test_deleted_file_is_pruned_unless_no_prune(kind, docs, settings_for, embedder):
    settings = settings_for(kind)
    ingest([docs], settings, embedder=embedder)
    (docs / "northwind-support-faq.txt").unlink()
    kept = ingest([docs], settings, embedder=embedder, prune=False)
    assert kept.counts["removed"] == 0
    assert by_source(snapshot(settings, embedder), "docs/northwind-support-faq.txt")
    pruned = ingest([docs], settings, embedder=embedder)
    assert pruned.counts["removed"] == 1
    rows = snapshot(settings, embedder)
    assert not by_source(rows, "docs/northwind-support-faq.txt")
    assert by_source(rows, "docs/aurora-e-bike-manual.md")


def test_ingesting_another_folder_does_not_prune_the_first(docs, tmp_path, settings_for, embedder):
    settings = settings_for()
    ingest([docs], settings, embedder=embedder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("A separate note about tandem bicycles.")
    report = ingest([other], settings, embedder=embedder)
    assert report.counts["removed"] == 0
    assert by_source(snapshot(settings, embedder), "docs/aurora-e-bike-manual.md")


def test_dry_run_reports_and_writes_nothing(docs, settings_for, embedder):
    settings = settings_for()
    ingest([docs], settings, embedder=embedder)
    before = snapshot(settings, embedder)
    (docs / "northwind-support-faq.txt").write_text("Completely different content.")
    (docs / "unstructured_stanley-cups.csv").unlink()
    (docs / "new.md").write_text("# New\nfresh text")
    report = ingest([docs], settings, dry_run=True)
    statuses = {o.source: o.status for o in report.files if o.status != "unchanged"}
    assert statuses == {
        "docs/northwind-support-faq.txt": "changed",
        "docs/unstructured_stanley-cups.csv": "removed",
        "docs/new.md": "new",
    }
    assert snapshot(settings, embedder) == before


def test_ids_are_stable_across_fresh_stores_and_store_kinds(docs, tmp_path, settings_for, embedder):
    chroma_a = settings_for(store={"path": str(tmp_path / "a")})
    chroma_b = settings_for(store={"path": str(tmp_path / "b")})
    milvus = settings_for(kind="milvus")
    graph = settings_for(kind="neo4j")
    for settings in (chroma_a, chroma_b, milvus, graph):
        ingest([docs], settings, embedder=embedder)
    a, b, m, g = (snapshot(s, embedder) for s in (chroma_a, chroma_b, milvus, graph))
    assert set(a) == set(b) == set(m) == set(g)
    assert {id_: text for id_, (text, _) in a.items()} == {id_: text for id_, (text, _) in m.items()}
    for id_ in g:
        if g[id_] != m[id_] and g[id_] == a[id_]:
            print("MILVUSDIFF", id_)
    assert g == a  # metadata round-trips exactly too


@KINDS
def test_a_file_that_breaks_loses_its_old_chunks(kind, docs, settings_for, embedder):
    settings = settings_for(kind)
    ingest([docs], settings, embedder=embedder)
    (docs / "unstructured_simple.jsonl").write_text('{"text": broken\n{"text": also broken\n')
    report = ingest([docs], settings, embedder=embedder)
    [failure] = report.failed
    assert failure.source == "docs/unstructured_simple.jsonl"
    assert "invalid JSON on every line (line 1: Expecting value)" in failure.reason
    assert not by_source(snapshot(settings, embedder), "docs/unstructured_simple.jsonl")


@pytest.mark.parametrize("kind", ["chroma", "milvus", pytest.param("milvus-server", marks=pytest.mark.slow)])
def test_new_files_are_inserted_but_a_store_whose_manifest_was_lost_is_upserted(
    kind, docs, tmp_path, settings_for, embedder, request
):
    """A new file's chunks go in with the store's plain insert (Milvus keeps duplicate keys); with the manifest
    gone and the store kept, the same files are new to the manifest but not to the store: upserted, no duplicates."""
    from ingest.manifest import manifest_file

    if kind == "milvus-server":
        server = {"uri": request.getfixturevalue("milvus_server"), "collection": "lost_manifest"}
        settings = settings_for("milvus", store=server, ingest={"manifest": str(tmp_path / "manifest.sqlite")})
    else:
        settings = settings_for(kind)
    first = ingest([docs], settings, embedder=embedder)
    rows = snapshot(settings, embedder)
    assert first.chunks_written == len(rows) > 0
    manifest_file(settings).unlink()
    again = ingest([docs], settings, embedder=embedder)
    assert again.counts["new"] == first.counts["new"] and again.chunks_written == first.chunks_written
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        assert store.count() == len(rows)  # not twice as many
    finally:
        store.close()
    assert snapshot(settings, embedder).keys() == rows.keys()


def test_missing_path_is_reported(tmp_path, settings_for, embedder):
    report = ingest([Path(tmp_path / "nowhere")], settings_for(), embedder=embedder)
    assert report.missing == [str(tmp_path / "nowhere")]
    assert report.exit_code == 1


@pytest.mark.slow
def test_incremental_ingest_against_a_real_milvus_server(docs, tmp_path, settings_for, embedder, milvus_server):
    settings = settings_for(
        kind="milvus",
        store={"uri": milvus_server, "collection": "ingest_server"},
        ingest={"manifest": str(tmp_path / "manifest.sqlite")},
    )
    first = ingest([docs], settings, embedder=embedder)
    assert first.exit_code == 0
    local = settings_for(store={"path": str(tmp_path / "local")})
    ingest([docs], local, embedder=embedder)
    assert set(snapshot(settings, embedder)) == set(snapshot(local, embedder))
    (docs / "northwind-support-faq.txt").unlink()
    second = ingest([docs], settings, embedder=embedder)
    assert second.counts["removed"] == 1 and second.chunks_written == 0
    assert not by_source(snapshot(settings, embedder), "docs/northwind-support-faq.txt")


def test_new_splitter_settings_redo_every_file(docs, settings_for, embedder):
    settings = settings_for()
    ingest([docs], settings, embedder=embedder)
    before = snapshot(settings, embedder)
    smaller = settings_for(splitter={"chunk_size": 48, "chunk_overlap": 0})
    report = ingest([docs], smaller, embedder=embedder)
    assert report.counts["changed"] == 9 and report.counts["unchanged"] == 0
    after = snapshot(smaller, embedder)
    assert len(after) > len(before)
    assert all(embedder.count_tokens(text) <= 48 for text, _ in after.values())
    assert ingest([docs], smaller, embedder=embedder).counts["unchanged"] == 9  # settled again


def test_two_folders_with_the_same_relative_names_keep_both(tmp_path, settings_for, embedder):
    """`ingest colA` then `ingest colB`, each with a README.md: both stay, and re-ingesting either changes nothing."""
    for name, fact in (("colA", "The Aurora frame is aluminium."), ("colB", "The Borealis frame is carbon.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "README.md").write_text(f"# {name}\n\n{fact}\n")
    settings = settings_for()
    first = ingest([tmp_path / "colA"], settings, embedder=embedder)
    second = ingest([tmp_path / "colB"], settings, embedder=embedder)
    assert first.counts["new"] == second.counts["new"] == 1 and second.counts["removed"] == 0
    rows = snapshot(settings, embedder)
    assert {meta["source"] for _, meta in rows.values()} == {"colA/README.md", "colB/README.md"}
    again = ingest([tmp_path / "colA"], settings, embedder=embedder)
    assert again.counts == {"new": 0, "changed": 0, "unchanged": 1, "removed": 0, "failed": 0}
    assert snapshot(settings, embedder) == rows
    # Another folder of the same name elsewhere gets its own label.
    (tmp_path / "elsewhere" / "colA").mkdir(parents=True)
    (tmp_path / "elsewhere" / "colA" / "README.md").write_text("# Other\n\nA third note.\n")
    third = ingest([tmp_path / "elsewhere" / "colA"], settings, embedder=embedder)
    assert [o.source for o in third.files] == ["colA-2/README.md"]


def test_links_out_of_the_folder_never_reach_the_store(tmp_path, settings_for, embedder):
    import os

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "note.md").write_text("# Note\n\nA note about bicycles.\n")
    (tmp_path / "private.txt").write_text("root:x:0:0 secret outside the corpus")
    os.symlink("/etc/passwd", folder / "passwd_link.txt")
    os.symlink(tmp_path / "private.txt", folder / "private_link.txt")
    settings = settings_for()
    report = ingest([folder], settings, embedder=embedder)
    assert [o.source for o in report.files] == ["corpus/note.md"]
    assert any(s.startswith("passwd_link.txt (a symbolic link to /etc/passwd") for s in report.skipped)
    assert any(s.startswith("private_link.txt (a symbolic link to ") for s in report.skipped)
    texts = " ".join(text for text, _ in snapshot(settings, embedder).values())
    assert "root:x" not in texts
    store = build_store(settings.store, embedder.name, embedder.dimension)
    try:
        assert store.keyword.search("root secret", k=5) == []  # nothing of the link in the BM25 index either
    finally:
        store.close()


def test_a_store_from_before_root_labels_moves_to_the_new_ids_without_embedding_again(
    docs, settings_for, embedder, monkeypatch
):
    """Stores built when source ids had no root label: the next ingest of the folder moves every file to its
    labelled id, reusing its vectors (nothing is embedded again), and leaves what a clean run leaves."""
    import ingest.run as run
    from ingest.discover import discover as labelled

    def legacy(paths, cfg, label=None):
        found = labelled(paths, cfg)
        for file in found.files:
            file.source = file.source.partition("/")[2]
        return found

    settings = settings_for()
    monkeypatch.setattr(run, "discover", legacy)
    ingest([docs], settings, embedder=embedder)
    assert "aurora-e-bike-manual.md" in {meta["source"] for _, meta in snapshot(settings, embedder).values()}
    monkeypatch.setattr(run, "discover", labelled)
    report = ingest([docs], settings, embedder=embedder, prune=False)  # moves happen even without pruning
    assert report.counts["new"] == 9 and report.counts["removed"] == 9
    assert report.chunks_embedded == 0
    clean = settings_for(store={"path": str(docs.parent / "clean")})
    ingest([docs], clean, embedder=embedder)
    assert snapshot(settings, embedder) == snapshot(clean, embedder)


def test_files_are_parsed_while_the_store_opens_and_a_store_that_fails_stops_them(
    docs, settings_for, embedder, monkeypatch
):
    """The loader starts before the store opens (a Milvus server takes ~3 s to create a collection): the store here
    opens only once a file's chunks are waiting. A store that cannot open stops the loader; nothing is written."""
    import threading

    import ingest.run as run
    from ingest.chunking import ChunkMaker
    from rag.errors import StoreError

    parsed = threading.Event()
    chunks = ChunkMaker.chunks

    def parsing(self, job):
        yield from chunks(self, job)
        parsed.set()

    monkeypatch.setattr(ChunkMaker, "chunks", parsing)
    opened = run.build_store

    def slow_store(*args):
        assert parsed.wait(30), "no file was parsed while the store opened"
        return opened(*args)

    settings = settings_for()
    monkeypatch.setattr(run, "build_store", slow_store)
    report = ingest([docs], settings, embedder=embedder)
    assert not report.failed and report.chunks_written == len(snapshot(settings, embedder)) > 0

    def down(*args):
        raise StoreError("could not open the store: down")

    parsed.clear()
    (docs / "new.md").write_text("# New\n\nA file the failed run must not write.\n")
    monkeypatch.setattr(run, "build_store", down)
    with pytest.raises(StoreError, match="down"):
        ingest([docs], settings, embedder=embedder)
    assert threading.active_count() < 20 and not any(t.name == "ingest-loader" for t in threading.enumerate())
    assert not by_source(snapshot(settings, embedder), "docs/new.md")


def test_the_ingest_command_ends_without_a_warning(tmp_path):
    """`python -m ingest` of the examples: the parse child is let go at the end, not killed (killed, it left a
    semaphore that Python's resource tracker reported at exit: "There appear to be 1 leaked semaphore objects")."""
    import os
    import subprocess
    import sys

    from tests.conftest import EXAMPLES, REPO

    config = tmp_path / "ingest.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'store'}\n  collection: quiet\n")
    done = subprocess.run(
        [sys.executable, "-m", "ingest", str(EXAMPLES), "--config", str(config), "-q"],
        env=os.environ | {"PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaked" not in done.stderr and "Warning" not in done.stderr, done.stderr[-2000:]
