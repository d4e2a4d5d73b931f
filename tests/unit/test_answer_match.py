"""Judge-free answer correctness for short references (TAT-QA numbers and spans), against hand-checked cases."""

import pytest

from eval.answer_match import answer_match, numbers, reference_items


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        ("Revenue was $4,621 million in 2019 [1].", "4,621 million", 1.0),
        ("It fell by 4.1% [2].", "-4.08 percent", 1.0),  # rounded to the answer's precision, sign in words
        ("It fell by about 4% [2].", "-4.08 percent", 0.0),  # "4" does not state 4.08
        ("Capital expenditure was 1,577 [1].", "$1577.00", 1.0),  # FinanceBench writes whole figures with .00
        ("The change is 1 [1].", "0.96", 0.0),  # a citation number is never an answer
        ("Costs were (1,234) in 2019 [1].", "-1234", 1.0),  # brackets are negative, as in the tables
        (
            "Cash and cash equivalents and short-term investments [1].",
            "Cash and cash equivalents, Short-term investments",
            1.0,
        ),
        ("Only cash and cash equivalents [1].", "Cash and cash equivalents, Short-term investments", 0.5),
        ("2019 and 2018 [1]", "2019, 2018", 1.0),
        ("I could not find the answer to that in your documents.", "12.5", 0.0),
        ("", "12.5", 0.0),
    ],
)
def test_answer_match(answer, reference, expected):
    assert answer_match(answer, reference) == pytest.approx(expected)


def test_numbers_and_items_are_parsed_like_financial_tables():
    assert numbers("a gain of $1,200.50 and a loss of (300)") == [(1200.5, 2), (-300.0, 0)]
    assert reference_items("4,621 million") == ["4,621"]
    assert reference_items("2019, 2018") == ["2019", "2018"]
    assert reference_items("the Company, its subsidiaries") == ["the Company", "its subsidiaries"]
