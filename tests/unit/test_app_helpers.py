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


def test_citations_link_only_to_known_sources_of_their_own_answer():
    text = "It lasts 60 km [1]. Charging takes 4 h [2][3]."
    assert render.link_citations(text, {1, 3}, answer=5) == (
        "It lasts 60 km [[1]](#source-5-1). Charging takes 4 h [2][[3]](#source-5-3)."
    )


def test_the_supporting_sentence_is_highlighted_and_the_passage_escaped():
    passage = "Welcome to <Aurora>. The battery lasts 60 to 110 km per charge. Keep it dry."
    sentence = render.supporting_sentence(passage, ["The battery lasts up to 110 km [1]."])
    assert sentence == "The battery lasts 60 to 110 km per charge."
    html = render.passage_html(passage, sentence)
    assert html == (
        "<p>Welcome to &lt;Aurora&gt;. <mark>The battery lasts 60 to 110 km per charge.</mark> Keep it dry.</p>"
    )
    assert render.supporting_sentence(passage, ["zzz qqq"]) is None
    assert render.passage_html(passage, None) == (
        "<p>Welcome to &lt;Aurora&gt;. The battery lasts 60 to 110 km per charge. Keep it dry.</p>"
    )


def test_a_hard_wrapped_sentence_is_highlighted_whole_and_markdown_is_rendered():
    passage = (
        "## Battery and charging\n\nThe Aurora uses a 540 Wh battery. A full charge\ntakes about 4.5 hours with "
        "the supplied charger.\n\n<script>alert(1)</script>\n\n| Mode | Range |\n|---|---|\n| Eco | 110 km |"
    )
    sentence = render.supporting_sentence(passage, ["A full charge takes about 4.5 hours [1]."])
    assert sentence == "A full charge takes about 4.5 hours with the supplied charger."  # not cut at the line end
    html = render.passage_html(passage, sentence)
    assert "<p><b>Battery and charging</b></p>" in html  # a heading, not "## Battery" and not a big title
    assert "<mark>A full charge</mark>\n<mark>takes about 4.5 hours with the supplied charger.</mark>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<td>Eco</td>" in html and "<th>Range</th>" in html  # a table as a table
    row = render.passage_html(passage, render.supporting_sentence(passage, ["Eco mode reaches 110 km [1]."]))
    assert "<td><mark>Eco</mark></td>" in row and "<td><mark>110 km</mark></td>" in row  # a row cell by cell


def test_loader_rows_render_as_a_table():
    html = render.passage_html("Cash flows\nItem | 2018 | 2017\nCapex | (1,577) | (1,373)\nafter", None)
    assert "<p>Cash flows</p>" in html and "<th>2018</th>" in html and "<td>(1,577)</td>" in html
    assert "<p>after</p>" in html


def test_timings_caption_adds_up_to_the_wait():
    timings = {"condense": 4.0, "retrieve": 0.3, "context": 0.1, "first_token": 7.6, "generate": 10.0}
    caption = render.timings_caption({**timings, "citations": 0.2, "waited": 14.9})
    assert caption == (
        "14.9 s in all, first words after 12.0 s: condense 4.00 s + search 0.30 s + passages 0.10 s + "
        "writing 10.00 s + check 0.20 s + other 0.30 s"
    )
    measured = render.timings_caption({**timings, "waited": 14.45, "first_words": 12.2})
    assert measured.startswith("14.4 s in all, first words after 12.2 s: condense 4.00 s")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(5, "just now"), (300, "5 min ago"), (3 * 3600, "3 h ago"), (30 * 3600, "yesterday"), (10 * 86400, "26 Nov 2026")],
)
def test_times_are_said_as_people_say_them(seconds, said):
    now = 1_796_515_200.0  # 2026-12-06 00:00 UTC
    assert render.ago(now - seconds, now=now) == said
    assert render.ago(None) == "never"


def test_retrieval_notes_say_what_the_strategy_did():
    trace = {"strategy": "hyde", "hyde_passage": "The battery\n charges in 4.5 hours.", "rewrites": ["a", "b c"]}
    assert render.retrieval_notes(trace) == [
        "Searched for: “a” · “b c”",
        "Hypothetical passage (HyDE): The battery charges in 4.5 hours.",
    ]
    assert render.retrieval_notes({"strategy": "hybrid", "stages": []}) == []
