"""The document router's two steps (rag/retrievers/routing.py) on profiles named like real filings: who (the file
name's words, initials, two names run together), then when (the latest year named, a quarter)."""

from __future__ import annotations

from rag.retrievers.routing import DocumentPeriod, DocumentRouter

PROFILES = {
    "pdfs/3M_2018_10K.pdf": "3M Company annual report. For the fiscal year ended December 31, 2018.",
    "pdfs/3M_2022_10K.pdf": "3M Company annual report. For the fiscal year ended December 31, 2022.",
    "pdfs/AMERICANEXPRESS_2022_10K.pdf": "American Express Company. Fiscal year ended December 31, 2022.",
    "pdfs/CORNING_2022_10K.pdf": "Corning Incorporated. Our customers include American Express cardholders.",
    "pdfs/JOHNSON_JOHNSON_2022_10K.pdf": "Johnson & Johnson annual report 2022.",
    "pdfs/JOHNSON_JOHNSON_2022Q4_EARNINGS.pdf": "Johnson & Johnson reports Q4 and full-year 2022 results.",
    "pdfs/AMCOR_2023Q2_10Q.pdf": "Amcor plc quarterly report for the quarter ended December 31, 2022.",
    "pdfs/AMCOR_2023Q4_EARNINGS.pdf": "Amcor reports fiscal 2023 fourth quarter results.",
    "pdfs/NETFLIX_2015_10K.pdf": "Netflix, Inc. annual report. EBITDA is not reported.",
    "pdfs/PEPSICO_2022_10K.pdf": "PepsiCo, Inc. EBITDA, D&A and other measures for 2022.",
    "reports/board-minutes.md": "Minutes of the board. The fiscal year ended June 30, 2021 closed with a loss.",
}


def route(question: str) -> list[str]:
    return sorted(DocumentRouter(PROFILES).route(question))


def test_the_company_is_found_by_its_file_name_not_by_the_question_s_other_capitalised_words():
    assert route("We need to calculate EBITDA for Netflix in FY2015: D&A plus operating income") == [
        "pdfs/NETFLIX_2015_10K.pdf"
    ]
    assert route("What was American Express's total revenue in 2022?") == ["pdfs/AMERICANEXPRESS_2022_10K.pdf"]


def test_initials_name_a_company_of_two_words():
    assert route("Are JnJ's FY2022 margins higher?") == [
        "pdfs/JOHNSON_JOHNSON_2022Q4_EARNINGS.pdf",
        "pdfs/JOHNSON_JOHNSON_2022_10K.pdf",
    ]
    assert route("What did J&J earn?") == route("Are JnJ's FY2022 margins higher?")


def test_a_name_with_a_digit_is_a_title_word():
    assert DocumentRouter(PROFILES)._title_scores(["3M"])["pdfs/3M_2018_10K.pdf"] > 0


def test_the_latest_named_year_a_filing_covers_wins_and_a_quarter_narrows():
    assert route("Has 3M's FY2022 capex grown over FY2021?") == ["pdfs/3M_2022_10K.pdf"]
    assert route("What was 3M's revenue in 2018?") == ["pdfs/3M_2018_10K.pdf"]
    assert route("How did 3M's revenue change?") == ["pdfs/3M_2018_10K.pdf", "pdfs/3M_2022_10K.pdf"]
    assert route("What were AMCOR's sales in Q2 of FY2023?") == ["pdfs/AMCOR_2023Q2_10Q.pdf"]
    assert route("What were AMCOR's sales in FY2023?") == [
        "pdfs/AMCOR_2023Q2_10Q.pdf",
        "pdfs/AMCOR_2023Q4_EARNINGS.pdf",
    ]
    assert route("What was 3M's revenue in 2015?") == ["pdfs/3M_2018_10K.pdf", "pdfs/3M_2022_10K.pdf"]  # no 2015 filing


def test_the_period_of_a_file_without_a_year_in_its_name_comes_from_its_first_pages():
    period = DocumentPeriod.of("reports/board-minutes.md", PROFILES["reports/board-minutes.md"])
    assert (period.year, period.quarter) == (2021, None)
    amcor = DocumentPeriod.of("pdfs/AMCOR_2023Q2_10Q.pdf", "")
    assert (amcor.year, amcor.quarter) == (2023, 2)


def test_a_question_that_names_no_document_gets_no_route():
    assert route("What does the word income mean here?") == []
