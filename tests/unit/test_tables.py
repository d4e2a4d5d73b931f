"""Financial rows read with their column years (rag/tables.label_columns): what the answer model sees."""

from __future__ import annotations

from rag.answer.context import passage_text
from rag.documents import Hit
from rag.tables import label_columns, year_figures

STATEMENT = """3M Company and Subsidiaries
Consolidated Statement of Cash Flows
(Millions) 2018 2017 2016
Net income including noncontrolling interest $ 5,363 $ 4,869 $ 5,058
Purchases of property, plant and equipment (PP&E) | (1,577) | (1,373) | (1,420)
Shares outstanding - 2018: 576,575,168
Gain on sale | — | 12 | 3
Proceeds from sale of businesses, net of cash sold
846 1,065 142"""


def test_each_figure_of_a_statement_row_names_its_year():
    lines = label_columns(STATEMENT).splitlines()
    assert lines[:3] == STATEMENT.splitlines()[:3]  # title and header kept as printed
    assert lines[3] == "Net income including noncontrolling interest | 5,363 in 2018 | 4,869 in 2017 | 5,058 in 2016"
    assert (
        lines[4]
        == "Purchases of property, plant and equipment (PP&E) | (1,577) in 2018 | (1,373) in 2017 | (1,420) in 2016"
    )
    assert lines[5] == "Shares outstanding - 2018: 576,575,168"  # one figure: not a row of the three years
    assert lines[6] == "Gain on sale | — in 2018 | 12 in 2017 | 3 in 2016"
    assert lines[8] == "846 1,065 142"  # no label: left alone


def test_a_new_header_takes_over_and_text_without_years_is_unchanged():
    text = (
        "December 31, December 31,\n(Dollars in millions) 2018 2017\nTotal assets $ 36,500 $ 37,987\n"
        "| 2019 | 2018 |\n| Revenue | 1,200 | 1,100 |"
    )
    assert label_columns(text).splitlines()[2:] == [
        "Total assets | 36,500 in 2018 | 37,987 in 2017",
        "| 2019 | 2018 |",
        "Revenue | 1,200 in 2019 | 1,100 in 2018",
    ]
    prose = "The battery lasts 60 to 110 km.\nEco | 50 % | 110 km\nRevenue grew 12% in 2019 and 8% in 2018."
    assert label_columns(prose) == prose  # "in 2019 and 8% in 2018" is no header: it holds other figures


def test_the_model_reads_labelled_rows():
    hit = Hit(id="a", text=STATEMENT, metadata={}, score=1.0)
    assert "(PP&E) | (1,577) in 2018 | (1,373) in 2017" in passage_text(hit)


def test_a_closing_bracket_in_a_cell_of_its_own_closes_its_figure():
    # pdfplumber puts the ")" of a negative figure in its own column on some filings (Activision's 2019 10-K)
    text = "2019 2018 2017\nCapital expenditures | (116 | ) | (131 | ) | (155 | )"
    assert label_columns(text).splitlines()[1] == "Capital expenditures | (116) in 2019 | (131) in 2018 | (155) in 2017"
    assert [(f.year, f.printed) for f in year_figures(text)] == [
        ("2019", "(116)"),
        ("2018", "(131)"),
        ("2017", "(155)"),
    ]
