"""Every loader on the real shared documents, checked against the published expected outputs."""

import difflib
import re

import pytest

from ingest.loaders import load
from rag.config import LoaderConfig
from rag.errors import LoaderError

CFG = LoaderConfig()
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def docs(path, cfg=CFG, warnings=None):
    return list(load(path, cfg, warnings if warnings is not None else []))


def headings(markdown: str) -> list[str]:
    return [h.strip("* ").strip() for h in HEADING.findall(markdown)]


def test_pdf_text_matches_pypdf_expected_output(documents_dir):
    [page] = docs(documents_dir / "pdf/pypdf_crazyones.pdf")
    expected = (documents_dir / "expected/pypdf_crazyones.txt").read_text()
    assert page.metadata["page"] == 1
    assert difflib.SequenceMatcher(None, page.text.strip(), expected.strip()).ratio() > 0.98


def test_pdf_pages_are_numbered_from_one(documents_dir):
    pages = docs(documents_dir / "pdf/docling_multi_page.pdf")
    assert [p.metadata["page"] for p in pages] == [1, 2, 3, 4, 5]
    expected = (documents_dir / "expected/docling_multi_page.md").read_text()
    # Every heading of the docling ground truth appears in our text.
    text = "\n".join(p.text for p in pages)
    for heading in headings(expected):
        assert heading.split()[-1] in text, heading


def test_every_pdf_page_read_is_progress(documents_dir):
    """Text and table passes report each page (the sandbox's time budget counts from the last report: a 252-page
    10-K read without reports was stopped for "no progress")."""
    from ingest.loaders import page_progress

    reports: list[tuple[int, int]] = []
    with page_progress(lambda done, total: reports.append((done, total))):
        docs(documents_dir / "pdf/docling_redp5110_sampled.pdf")  # 18 pages
    assert reports[:36] == [(n, 18) for n in range(1, 19)] * 2  # pypdf's text, then pdfplumber's tables


def test_pdf_tables_are_kept_as_rows(documents_dir):
    [page] = docs(documents_dir / "pdf/pdfplumber_nics-background-checks-2015-11.pdf")
    rows = [line for line in page.text.splitlines() if line.count(" | ") >= 10]
    assert len(rows) >= 50  # one line per state, cells separated
    alabama = next(line for line in rows if line.startswith("Alabama"))
    assert alabama.split(" | ")[1].replace(",", "").isdigit()


def test_html_keeps_headings_and_drops_scripts_and_navigation(documents_dir):
    [doc] = docs(documents_dir / "html/docling_wiki_duck.html")
    assert doc.format == "markdown"
    assert doc.metadata["title"] == "Duck - Wikipedia"
    ours = set(headings(doc.text))
    expected = set(headings((documents_dir / "expected/docling_wiki_duck.html.md").read_text()))
    for section in ["Etymology", "Taxonomy", "Distribution and habitat", "Behaviour", "Relationship with humans"]:
        assert section in ours and section in expected
    assert "function(" not in doc.text and "mw.config" not in doc.text
    assert "Jump to content" not in doc.text
    assert "cosmopolitan distribution" in doc.text


def test_docx_headings_in_order_and_tables_as_rows(documents_dir):
    [doc] = docs(documents_dir / "docx/docling_unit_test_headers.docx")
    expected = (documents_dir / "expected/docling_unit_test_headers.docx.md").read_text()
    assert headings(doc.text) == headings(expected)
    [tables] = docs(documents_dir / "docx/docling_word_tables.docx")
    assert "| Header 0.0 | Header 0.1 | Header 0.2 |" in tables.text
    assert "| Cell 1.0 | Cell 1.1 | Cell 1.2 |" in tables.text
    assert tables.text.count("| Header 0.0 |") == 7  # all seven tables


def test_markdown_keeps_header_structure(documents_dir):
    [doc] = docs(documents_dir / "markdown/docling_nested.md")
    assert doc.format == "markdown"
    assert doc.text == (documents_dir / "markdown/docling_nested.md").read_text()


def test_text_encoding_is_detected_not_assumed(documents_dir):
    [doc] = docs(documents_dir / "txt/unstructured_fake-text-utf-16.txt")
    assert "\x00" not in doc.text
    assert doc.text.startswith("This is a test document to use for unit tests.")


def test_csv_rows_become_text_with_column_names(documents_dir):
    rows = docs(documents_dir / "csv/unstructured_stanley-cups.csv")
    assert [row.text for row in rows] == [
        "Team: Blues\nLocation: STL\nStanley Cups: 1",
        "Team: Flyers\nLocation: PHI\nStanley Cups: 2",
        "Team: Maple Leafs\nLocation: TOR\nStanley Cups: 13",
    ]
    assert rows[0].metadata["title"] == "Stanley Cups"  # the caption line above the header
    semicolons = docs(documents_dir / "csv/unstructured_semicolon-delimited.csv")
    assert all(";" not in row.text for row in semicolons)
    quoted = docs(documents_dir / "csv/docling_csv-comma-in-cell.csv")
    assert any("," in line.split(": ", 1)[1] for row in quoted for line in row.text.splitlines())


def test_json_and_jsonl_records_with_configured_fields(documents_dir):
    cfg = LoaderConfig(
        json={"text_fields": ["text"], "metadata_fields": ["type", "metadata.filename"], "id_field": "element_id"}
    )
    records = docs(documents_dir / "json/unstructured_simple.json", cfg)
    lines = docs(documents_dir / "json/unstructured_simple.ndjson", cfg)
    assert len(records) == len(lines) == 8
    assert records[0].text == "These are a few of my favorite things:"
    assert records[0].metadata == {
        "record": 0,
        "record_id": "a06d2d9e65212d4aa955c3ab32950ffa",
        "type": "Title",
        "metadata.filename": "simple.docx",
    }
    assert [r.text for r in records] == [r.text for r in lines]


def test_json_object_without_fields_is_flattened(documents_dir):
    [doc] = docs(documents_dir / "json/markitdown_test.json")
    assert "key1: string_value" in doc.text
    assert "key3: list_value1, list_value2" in doc.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pdfplumber_empty.pdf", "empty file (0 bytes)"),
        ("unstructured_empty.txt", "empty file (0 bytes)"),
        ("unstructured_fake-text-all-whitespace.txt", "no extractable text"),
        ("unstructured_fake-incomplete-json.txt", "invalid JSON: Expecting ',' delimiter at line 11"),
        ("pdfplumber_password-example.pdf", "encrypted PDF"),
        ("pypdf_encrypted-file.pdf", "encrypted PDF"),
        ("unstructured_password.pdf", "encrypted PDF"),
        ("docling_csv-inconsistent-header.csv", "ragged CSV: row 2 has 4 cells but the header has 3"),
        ("docling_csv-too-many-columns.csv", "ragged CSV: row 3 has 5 cells but the header has 4"),
    ],
)
def test_bad_inputs_fail_with_path_and_reason(documents_dir, name, reason):
    path = documents_dir / "bad_inputs" / name
    with pytest.raises(LoaderError) as raised:
        docs(path)
    assert raised.value.path == str(path)
    assert reason in raised.value.reason


def test_damaged_pdf_is_recovered_with_a_warning(documents_dir):
    warnings: list[str] = []
    [page] = docs(documents_dir / "bad_inputs/pypdf_issue-297-broken-xref.pdf", warnings=warnings)
    assert page.text.strip() == "test example"
    assert warnings and "damaged PDF (Broken xref table)" in warnings[0]


def test_unsupported_type_is_refused(tmp_path):
    path = tmp_path / "program.exe"
    path.write_bytes(b"MZ\x90\x00")
    with pytest.raises(LoaderError, match=r"unsupported file type '\.exe'"):
        docs(path)


def test_utf16_without_a_bom_is_read_as_text_not_nul_bytes(tmp_path):
    for encoding in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.txt"
        path.write_bytes("Battery range: 60–110 km on a full charge.\n".encode(encoding))
        [doc] = docs(path)
        assert doc.text == "Battery range: 60–110 km on a full charge.\n" and "\x00" not in doc.text


def test_invalid_utf8_in_json_is_a_warning_naming_the_byte_offset(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"text": "caf\xe9 au lait"}')
    warnings: list[str] = []
    [doc] = list(load(path, LoaderConfig(), warnings))
    assert doc.text == "text: caf\ufffd au lait"
    assert warnings == ["invalid UTF-8 at byte offset 13 (1 invalid byte sequence(s) shown as U+FFFD)"]


def test_a_bad_jsonl_line_is_skipped_with_a_warning_and_the_rest_kept(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"text": "first"}\n{"text": broken\n{"text": "third"}\n')
    warnings: list[str] = []
    texts = [doc.text for doc in load(path, LoaderConfig(), warnings)]
    assert texts == ["text: first", "text: third"]
    assert warnings == ["invalid JSON on line 2 (Expecting value): line skipped"]
    path.write_text("not json\nnor this\n")
    with pytest.raises(LoaderError, match=r"invalid JSON on every line \(line 1: Expecting value\)"):
        list(load(path, LoaderConfig(), []))
