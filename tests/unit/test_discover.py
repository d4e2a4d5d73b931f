from ingest.discover import discover
from rag.config import LoaderConfig


def make(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("text")


def test_walks_recursively_skips_hidden_and_lists_unknown_types(tmp_path):
    make(
        tmp_path,
        "a.md",
        "sub/b.pdf",
        "sub/deeper/c.txt",
        ".hidden.md",
        ".git/config.txt",
        "sub/.cache/x.txt",
        "photo.png",
        "sub/data.bin",
    )
    found = discover([tmp_path], LoaderConfig())
    assert [f.source for f in found.files] == ["a.md", "sub/b.pdf", "sub/deeper/c.txt"]
    assert sorted(found.unsupported) == ["photo.png", "sub/data.bin"]
    assert found.files[1].path == (tmp_path / "sub/b.pdf").resolve()


def test_include_and_exclude_globs(tmp_path):
    make(tmp_path, "docs/guide.md", "docs/drafts/wip.md", "notes.txt")
    cfg = LoaderConfig(include=["docs/*"], exclude=["*/drafts/*"])
    assert [f.source for f in discover([tmp_path], cfg).files] == ["docs/guide.md"]


def test_a_file_argument_is_relative_to_its_folder_and_missing_paths_are_reported(tmp_path):
    make(tmp_path, "one.md")
    found = discover([tmp_path / "one.md", tmp_path / "nope"], LoaderConfig())
    assert [f.source for f in found.files] == ["one.md"]
    assert found.missing == [str(tmp_path / "nope")]


def test_the_same_file_twice_is_ingested_once(tmp_path):
    make(tmp_path, "one.md")
    found = discover([tmp_path, tmp_path / "one.md"], LoaderConfig())
    assert [f.source for f in found.files] == ["one.md"]
