"""Per-document access keys and a reader's restriction (rag/stores/restricted.py), and how ingest decides a file's
key (ingest/run.py access_of)."""

from pathlib import Path

import pytest

from ingest.discover import SourceFile
from ingest.manifest import SourceEntry
from ingest.run import access_of
from rag.config import AccessRule, Settings
from rag.errors import ConfigError
from rag.stores.restricted import PUBLIC, Restriction, access_key


def test_access_keys_are_sorted_unique_and_checked():
    assert access_key(["legal", "hr", "hr", " "]) == "hr,legal"
    assert access_key([]) == access_key(None) == PUBLIC
    for bad in ("hr,legal", "a b", "~none~", "x" * 65):
        with pytest.raises(ConfigError, match="group name"):
            access_key([bad])


def test_a_restriction_lists_what_a_reader_may_see_and_only_narrows_a_filter():
    known = ["hr", "eng", "eng,hr", "legal"]
    reader = Restriction.of({"eng"}, known, chunks={"hr": 50, "eng": 20, "eng,hr": 10, "legal": 10, "*": 10})
    assert reader.keys == ("*", "eng", "eng,hr") and reader.share == pytest.approx(0.4)
    assert reader.allows({"access": "eng,hr"}) and not reader.allows({"access": "hr"}) and not reader.allows({})
    assert reader.filter({"source": "a.md"}) == {"source": "a.md", "access": ["*", "eng", "eng,hr"]}
    assert reader.filter({"access": ["hr", "eng"]})["access"] == ["eng"]  # a caller cannot widen it
    assert reader.filter({"access": "hr"})["access"] == ["~none~"]  # nothing left: matches no chunk
    assert Restriction.of({"eng", "hr", "legal"}, known) is None  # sees every key: no filter at all
    assert Restriction.of(set(), known, admin=True) is None
    assert Restriction.of(set(), known).keys == ("*",)


def test_ingest_decides_a_file_s_key_given_then_rule_then_what_it_had():
    settings = Settings()
    settings.ingest.acl = [AccessRule(match="docs/hr/*", groups=["hr"]), AccessRule(match="docs/*", groups=["staff"])]
    hr, other, loose = (SourceFile(Path("x"), s) for s in ("docs/hr/pay.md", "docs/eng/a.md", "notes/b.md"))
    assert access_of(hr, settings, None, None) == "hr"  # the first matching rule
    assert access_of(other, settings, None, None) == "staff"
    assert access_of(hr, settings, ["legal", "hr"], None) == "hr,legal"  # groups given for this run come first
    assert access_of(hr, settings, ["*"], None) == PUBLIC
    had = SourceEntry("notes/b.md", "b.md", "abc:eng", [], "")
    assert access_of(loose, settings, None, had) == "eng"  # no rule: what it had (a re-run keeps an upload's groups)
    assert access_of(loose, settings, None, None) == PUBLIC
