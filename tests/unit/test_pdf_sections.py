"""Section paths of PDF pages (ingest/loaders/pdf_sections.py): a filing's items, statements and notes from its
printed headings, or the file's outline; and the loader's statement rows read in place, spacer columns dropped."""

from __future__ import annotations

import logging

import pytest

from ingest.loaders import load
from ingest.loaders.pdf import _filled_columns
from ingest.loaders.pdf_sections import page_sections, section_starts
from ingest.splitters import Splitter
from rag.config import LoaderConfig, SplitterConfig
from rag.documents import Document

CONTENTS = "\n".join(f"Item {n}. Something {n} 12" for n in ("1", "1A", "2", "3", "7", "8"))
PAGES = [
    "FORM 10-K\nACME Corp",
    "Table of Contents\n" + CONTENTS,  # a table of contents names every item: no heading
    "Item 7.\nManagement's Discussion and Analysis of Financial Condition and Results of Operations\nSales rose.",
    "Liquidity fell.\nItem 7A, as described below, covers market risk.",  # a reference, not a heading
    "Item 8. Financial Statements and Supplementary Data This section holds the statements.",
    "Table of Contents\nACME CORP.\nCONSOLIDATED STATEME\nNTS OF CASH FLOWS(in millions)\nNet income 5",
    "ACME Corp\nConsolidated Balance Shee\nt\nTotal assets 9",
    "Notes to Consolidated Financial Statements\nNOTE 1. Significant Accounting Policies\nSee Note 12 for details.",
    "More policies.",
    "NOTE 2 — Income Taxes\nThe effective tax rate was 21%.",
]


def test_items_statements_and_notes_make_each_pages_path():
    sections = page_sections(PAGES)
    item7 = "Item 7. Management's Discussion and Analysis of Financial Condition and Results of Operations"
    item8 = "Item 8. Financial Statements and Supplementary Data"
    assert sections[:2] == ["", ""]  # before any item; a contents page starts none
    assert sections[2] == sections[3] == item7  # the title on the line below; a reference changes nothing
    assert sections[4] == item8  # cut after the known title, not run into its first sentence
    assert sections[5] == f"{item8} > Consolidated Statements of Cash Flows"  # a title broken over two lines
    assert sections[6] == f"{item8} > Consolidated Balance Sheet"  # and a stray last letter
    assert sections[7] == sections[8] == f"{item8} > Note 1. Significant Accounting Policies"  # not "Note 12 for"
    assert sections[9] == f"{item8} > Note 2. Income Taxes"


PROPERTIES = "Our principal office is in Purchase, New York, and we own our plants in Plano, Texas. " * 4
LEGAL = "We are party to litigation; management believes the outcome will not have a material adverse effect. " * 4


def test_a_heading_below_the_top_of_a_page_starts_a_part_there():
    page = (
        f"Table of Contents\nItem 2. Properties.\n{PROPERTIES}\nItem 3. Legal Proceedings.\n{LEGAL}\n"
        "Item 4. Mine Safety Disclosures. Not applicable.\n24"
    )
    [starts] = section_starts([page])
    legal = page.index("Item 3.")
    # the running header goes with the first heading; the short part at the foot stays with the one above it
    assert starts == [(0, "Item 2. Properties"), (legal, "Item 3. Legal Proceedings")]
    assert page_sections([page, "More."]) == ["Item 4. Mine Safety Disclosures"] * 2  # in force where it ends

    document = Document(page, {"page": 26, "section": starts[0][1]}, sections=starts)
    splitter = Splitter(SplitterConfig(chunk_size=400, chunk_overlap=0), lambda text: len(text.split()), 512)
    pieces = list(splitter.split(document))
    assert [piece.section for piece in pieces] == ["Item 2. Properties", "Item 3. Legal Proceedings"]
    assert pieces[1].text.startswith("Item 3. Legal Proceedings.") and "Plano" not in pieces[1].text
    assert all(page[piece.start : piece.end] == piece.text for piece in pieces)


def test_the_outline_is_used_where_the_file_has_one():
    outline = [(0, "Cover"), (2, "Part II > Item 7. MD&A"), (4, "Part II > Item 8. Financial Statements")]
    assert page_sections(["a"] * 6, outline) == [
        "Cover",
        "Cover",
        "Part II > Item 7. MD&A",
        "Part II > Item 7. MD&A",
        "Part II > Item 8. Financial Statements",
        "Part II > Item 8. Financial Statements",
    ]


def test_a_real_10q_pages_carry_their_statement_and_note(financebench_dir):
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = pypdf.PdfReader(financebench_dir / "pdfs" / "AMCOR_2023Q2_10Q.pdf")
    sections = page_sections([page.extract_text() or "" for page in reader.pages])
    assert sections[7] == "Item 1. Financial Statements > Condensed Consolidated Statements of Cash Flows"
    assert sections[23] == "Item 1. Financial Statements > Note 11. Income Taxes"
    assert sections[32].startswith("Item 2. Management's Discussion and Analysis")


def test_the_loader_puts_the_outline_path_on_each_page(documents_dir, tmp_path):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=documents_dir / "pdf/docling_multi_page.pdf")
    part = writer.add_outline_item("Part One", 0)
    writer.add_outline_item("Details", 2, parent=part)
    writer.add_outline_item("Part Two", 4)
    path = tmp_path / "outlined.pdf"
    writer.write(path)
    pages = list(load(path, LoaderConfig(), []))
    assert [page.metadata.get("section") for page in pages] == [
        "Part One",
        "Part One",
        "Part One > Details",
        "Part One > Details",
        "Part Two",
    ]


@pytest.mark.parametrize(
    ("rows", "kept"),
    [
        (  # a statement's grid: spacer columns and a column of "$" signs go
            [["Net income", "$", "", "5,363", "", "$", "4,869"], ["Inventories", "", "", "(509)", "", "", "(387)"]],
            [["Net income", "5,363", "4,869"], ["Inventories", "(509)", "(387)"]],
        ),
        ([["a", "", "b"], ["c", "", ""]], [["a", "b"], ["c", ""]]),  # an empty cell of a kept column stays
    ],
)
def test_spacer_columns_of_a_table_are_dropped(rows, kept):
    assert _filled_columns(rows) == kept
