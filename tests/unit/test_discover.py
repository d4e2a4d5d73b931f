import os

import pytest

from ingest.discover import discover, safe_id
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
        "photo.xyz",
        "sub/data.bin",
    )
    found = discover([tmp_path], LoaderConfig())
    root = tmp_path.name
    assert [f.source for f in found.files] == [f"{root}/a.md", f"{root}/sub/b.pdf", f"{root}/sub/deeper/c.txt"]
    assert sorted(found.unsupported) == ["photo.xyz", "sub/data.bin"]
    assert found.files[1].path == (tmp_path / "sub/b.pdf").resolve()


def test_include_and_exclude_globs(tmp_path):
    make(tmp_path, "docs/guide.md", "docs/drafts/wip.md", "notes.txt")
    cfg = LoaderConfig(include=["docs/*"], exclude=["*/drafts/*"])
    assert [f.source for f in discover([tmp_path], cfg).files] == [f"{tmp_path.name}/docs/guide.md"]


def test_a_file_argument_is_relative_to_its_folder_and_missing_paths_are_reported(tmp_path):
    make(tmp_path, "one.md")
    found = discover([tmp_path / "one.md", tmp_path / "nope"], LoaderConfig())
    assert [f.source for f in found.files] == [f"{tmp_path.name}/one.md"]
    assert found.missing == [str(tmp_path / "nope")]


def test_the_same_file_twice_is_ingested_once(tmp_path):
    make(tmp_path, "one.md")
    found = discover([tmp_path, tmp_path / "one.md"], LoaderConfig())
    assert [f.source for f in found.files] == [f"{tmp_path.name}/one.md"]


def test_two_folders_with_the_same_relative_names_get_different_ids(tmp_path):
    make(tmp_path, "colA/README.md", "colB/README.md")
    found = discover([tmp_path / "colA", tmp_path / "colB"], LoaderConfig())
    assert [f.source for f in found.files] == ["colA/README.md", "colB/README.md"]


@pytest.fixture
def outside(tmp_path):
    """A folder to ingest holding links: to /etc/passwd, to a file and a folder outside it, to a file inside."""
    corpus = tmp_path / "corpus"
    make(corpus, "real.md", "inner/deep.md")
    make(tmp_path, "secret/notes.md", "secret.txt")
    os.symlink("/etc/passwd", corpus / "passwd_link.txt")
    os.symlink(tmp_path / "secret.txt", corpus / "outside_file.txt")
    os.symlink(tmp_path / "secret", corpus / "outside_folder")
    os.symlink(corpus / "real.md", corpus / "inside_link.md")
    os.symlink(corpus / "inner", corpus / "inside_folder")
    return corpus


def test_links_out_of_the_folder_are_never_followed_and_each_is_reported(outside):
    for follow in (False, True):
        found = discover([outside], LoaderConfig(follow_symlinks=follow))
        sources = [f.source for f in found.files]
        assert not any("passwd" in s or "outside" in s for s in sources), sources
        assert all(outside in f.path.parents for f in found.files)
        skipped = " ".join(found.skipped)
        for name in ("passwd_link.txt", "outside_file.txt", "outside_folder"):
            assert f"{name} (a symbolic link to " in skipped and "outside the ingest folder" in skipped


def test_links_inside_the_folder_are_followed_only_when_asked(outside):
    plain = discover([outside], LoaderConfig())
    assert [f.source for f in plain.files] == ["corpus/inner/deep.md", "corpus/real.md"]
    assert any(s.startswith("inside_link.md (a symbolic link; loaders.follow_symlinks") for s in plain.skipped)
    followed = discover([outside], LoaderConfig(follow_symlinks=True))
    assert [f.source for f in followed.files] == [
        "corpus/inner/deep.md",
        "corpus/inside_folder/deep.md",
        "corpus/inside_link.md",
        "corpus/real.md",
    ]


def test_control_and_bidi_characters_in_names_are_escaped_in_ids(tmp_path):
    make(tmp_path, "evil\u202etxt.md", "two\nlines.md")
    sources = sorted(f.source for f in discover([tmp_path], LoaderConfig()).files)
    assert sources == [f"{tmp_path.name}/evil\\u202etxt.md", f"{tmp_path.name}/two\\u000alines.md"]
    assert safe_id("plain name.md") == "plain name.md"
