"""Upload names and the chat's rendering helpers (pure functions)."""

from __future__ import annotations

import pytest

from apps.ui import render
from service.library import UploadRejected, safe_name


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "a/b.md", "..\\evil.md", "C:\\x.pdf", "C:x.pdf", "..", ".", "", "x\x00.md", "/abs.md"],
)
def test_names_with_a_path_are_refused(name):
    with pytest.raises(UploadRejected):
        safe_name(name)


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("report.pdf", "report.pdf"),
        ("Q3 results (final).docx", "Q3 results (final).docx"),
        ("naïve<script>.md", "naïve_script_.md"),
        ("ﬁle.txt", "file.txt"),  # NFKC folds the ligature
        (" spaced .md", "spaced .md"),
        ("x" * 200 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_other_names_are_cleaned(name, stored):
    assert safe_name(name) == stored


def test_hidden_names_are_refused():
    with pytest.raises(UploadRejected, match="not a usable file name"):
        safe_name("...")


def test_citations_link_only_to_known_sources():
    text = "It lasts 60 km [1]. Charging takes 4 h [2][3]."
    assert render.link_citations(text, {1, 3}) == (
        "It lasts 60 km [[1]](#source-1). Charging takes 4 h [2][[3]](#source-3)."
    )


def test_the_supporting_sentence_is_highlighted_and_the_passage_escaped():
    passage = "Welcome to <Aurora>. The battery lasts 60 to 110 km per charge. Keep it dry."
    sentence = render.supporting_sentence(passage, ["The battery lasts up to 110 km [1]."])
    assert sentence == "The battery lasts 60 to 110 km per charge."
    html = render.highlighted(passage, sentence)
    assert html == ("Welcome to &lt;Aurora&gt;. <mark>The battery lasts 60 to 110 km per charge.</mark> Keep it dry.")
    assert render.supporting_sentence(passage, ["zzz qqq"]) is None
    assert (
        render.highlighted(passage, None)
        == "Welcome to &lt;Aurora&gt;. The battery lasts 60 to 110 km per charge. Keep it dry."
    )


def test_timings_caption_orders_stages_and_skips_empty_ones():
    caption = render.timings_caption({"generate": 2.5, "retrieve": 0.02, "condense": 0.0, "first_token": 0.4})
    assert caption == "retrieve 0.02 s · first token 0.40 s · generate 2.50 s"


def test_retrieval_notes_say_what_the_strategy_did():
    trace = {"strategy": "hyde", "hyde_passage": "The battery\n charges in 4.5 hours.", "rewrites": ["a", "b c"]}
    assert render.retrieval_notes(trace) == [
        "Searched for: “a” · “b c”",
        "Hypothetical passage (HyDE): The battery charges in 4.5 hours.",
    ]
    assert render.retrieval_notes({"strategy": "hybrid", "stages": []}) == []
