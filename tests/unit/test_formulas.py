"""Standard metrics computed from statement rows (rag/answer/formulas.py): which questions, which rows, which
years, the arithmetic, and a line item looked up when the passages lack it."""

import pytest

from rag.answer.formulas import Formulas
from rag.errors import ConfigError

INCOME = """Consolidated Statements of Operations (in millions)
For the Years Ended December 31, 2019 2018 2017
Total net revenues | 6,489 | 7,500 | 7,017
Cost of revenues | 2,094 | 2,517 | 2,501
Operating income | 1,607 | 1,988 | 1,309"""
BALANCE = """Consolidated Balance Sheets (in millions)
At December 31, 2019 At December 31, 2018
Inventories, net (Notes 1 and 3) | 32 | 43
Property and equipment, net | 253 | 282
Total current assets | 7,292 | 6,106
Total current liabilities | 2,915 | 2,642"""
CASH = """Consolidated Statements of Cash Flows (in millions)
2019 2018 2017
Depreciation and amortization | 328 | 426 | 813
Capital expenditures | (116) | (131) | (155)"""


@pytest.fixture(scope="module")
def finance():
    return Formulas.load("finance")


@pytest.mark.parametrize(
    ("question", "formula"),
    [
        ("What is the FY2019 fixed asset turnover ratio for Globex?", "revenue[Y] / ((ppe[Y] + ppe[Y-1]) / 2)"),
        ("Calculate the FY2019 unadjusted EBITDA % margin.", "(operating_income[Y] + depreciation_amortization[Y])"),
        ("What is the FY2022 unadjusted EBITDA less capex?", "operating_income[Y] + depreciation_amortization[Y] -"),
        ("What was the year-over-year change in revenue from FY2018 to FY2019?", "(revenue[Y] - revenue[Y-1])"),
        ("Does Globex have an improving operating margin profile?", "operating_income[Y] / revenue[Y]"),  # direction
        ("Does Globex have positive working capital based on FY2022 data?", "current_assets[Y] - current_liabil"),
        ("Does Globex have a healthy operating margin?", None),  # a judgement: neither direction nor sign
        ("Is Globex a capital-intensive business based on FY2022 data?", None),
        ("What was the organic sales growth in FY2019, excluding FX?", None),  # adjusted: not in the statements
        ("What is the Adjusted EBITDA margin for FY2023?", None),
        ("Who is the CEO?", None),
    ],
)
def test_which_questions_name_a_metric(finance, question, formula):
    metric = finance.metric_for(question)
    assert metric.formula.startswith(formula) if formula else metric is None, metric


def test_a_metric_is_computed_from_the_rows_of_its_years_with_each_input_cited(finance):
    question = "What is the FY2019 fixed asset turnover ratio? Round to two decimals."
    calculation = finance.calculate(question, [BALANCE, INCOME])
    assert round(calculation.result, 2) == 24.26  # 6,489 / ((253 + 282) / 2): FinanceBench's own reference
    assert calculation.answer(question) == (
        "Property and equipment, net, 2019 (in millions): 253 [1]. Property and equipment, net, 2018 (in millions): "
        "282 [1]. Total net revenues, 2019 (in millions): 6,489 [2]. Calculated: 6,489 / ((253 + 282) / 2) = 24.26 "
        "times [1], [2]."
    )
    margin = finance.calculate("What is the FY2019 unadjusted EBITDA % margin?", [INCOME, CASH])
    assert round(margin.result, 2) == round((1607 + 328) / 6489 * 100, 2) and margin.unit == "%"
    # magnitudes as printed: capex "(116)" is subtracted as 116; the unit is the statements' own
    less = finance.calculate("What is the FY2019 unadjusted EBITDA less capex?", [INCOME, CASH])
    assert (less.result, less.result_text()) == (1607 + 328 - 116, "1,819 in millions")
    # a footnote mark in the label does not hide the row
    quick = finance.calculate("What is the FY2019 quick ratio?", [BALANCE])
    assert round(quick.result, 4) == round((7292 - 32) / 2915, 4)


def test_an_n_year_average_averages_the_metric_of_each_year(finance):
    question = "What is the FY2017 - FY2019 3 year average of capex as a % of revenue?"
    calculation = finance.calculate(question, [INCOME, CASH])
    expected = (116 / 6489 + 131 / 7500 + 155 / 7017) / 3 * 100
    assert round(calculation.result, 4) == round(expected, 4) and len(calculation.inputs) == 6


def test_a_missing_line_item_is_looked_up_in_its_statement_else_no_calculation(finance):
    question = "What is the FY2019 fixed asset turnover ratio?"
    asked = []

    def lookup(query):
        asked.append(query)
        return [INCOME]

    calculation = finance.calculate(question, [BALANCE], lookup)
    assert asked == ["income statement revenue total net revenues of interest expense sales and operating 2019"]
    assert round(calculation.result, 2) == 24.26 and calculation.inputs[-1].passage == 2  # numbered after [1]
    assert finance.calculate(question, [BALANCE]) is None  # no lookup: no guess
    assert finance.calculate(question, [BALANCE], lambda query: []) is None


def test_a_formula_set_of_ones_own_and_clear_errors(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "items:\n  arr: ['^annual recurring revenue$']\n"
        "metrics:\n  - when: ARR growth\n    formula: (arr[Y] - arr[Y-1]) / arr[Y-1] * 100\n    unit: '%'\n"
    )
    rows = "(in thousands) 2024 2023\nAnnual recurring revenue | 1,200 | 1,000"
    assert Formulas.load(str(mine)).calculate("What was the ARR growth in 2024?", [rows]).result == 20.0
    with pytest.raises(ConfigError, match="neither a packaged set \\(finance\\) nor a YAML file"):
        Formulas.load("medicine")
    (tmp_path / "bad.yaml").write_text("items:\n  a: ['^a$']\nmetrics:\n  - when: x\n    formula: b[Y] / a[Y]\n")
    with pytest.raises(ConfigError, match="names unknown items \\['b'\\]"):
        Formulas.load(str(tmp_path / "bad.yaml"))


def test_one_line_item_is_given_in_the_units_the_question_asks_for(finance):
    thousands = "(in thousands) December 31, 2017 December 31, 2016\nTotal current liabilities | 5,466,312 | 4,586,657"
    question = "What is the year end FY2017 total current liabilities (in USD millions)?"
    calculation = finance.calculate(question, [thousands])
    assert (round(calculation.result, 3), calculation.unit) == (5466.312, "in millions")
    assert calculation.answer(question) == (
        "Total current liabilities, 2017 (in thousands): 5,466,312 [1]. Calculated: (5,466,312) / 1000 = 5,466 in "
        "millions [1]."
    )
    ppe = finance.calculate("What is the year end FY2019 net PPNE? Answer in USD billions.", [BALANCE])
    assert (round(ppe.result, 3), ppe.unit) == (0.253, "in billions")
    as_printed = finance.calculate("What was the FY2019 capital expenditure?", [CASH])
    assert as_printed.answer("") == "Capital expenditures, 2019 (in millions): 116 [1]."  # nothing to calculate


def test_the_result_is_rounded_as_the_question_asks(finance):
    question = "What is the FY2017 - FY2019 3 year average of capex as a % of revenue? Round to one decimal place."
    assert finance.calculate(question, [INCOME, CASH]).result_text() == "1.9 %"
    assert finance.calculate(question.replace("one", "two"), [INCOME, CASH]).result_text() == "1.91 %"
    assert finance.calculate(question.split(" Round")[0], [INCOME, CASH]).result_text() == "1.91 %"  # default


def test_figures_of_two_scales_are_put_in_one(finance):
    revenue = "(in thousands) 2019 2018\nTotal net revenues | 6,489,000 | 7,500,000"
    calculation = finance.calculate("What is the FY2019 fixed asset turnover ratio?", [BALANCE, revenue])
    assert round(calculation.result, 2) == 24.26  # 6,489,000 thousand is 6,489 million


def test_a_yes_no_about_a_metrics_direction_compares_it_with_the_year_before(finance):
    question = "Does Globex have an improving operating margin profile as of FY2019?"
    comparison = finance.calculate(question, [INCOME])
    assert (round(comparison.earlier.result, 2), round(comparison.later.result, 2)) == (26.51, 24.76)
    text = comparison.answer(question)
    assert text.startswith("No: operating margin fell from 26.51 % in 2018 to 24.76 % in 2019 [1]. ")
    assert "Calculated: 1,988 / 7,500 * 100 = 26.51 % [1]." in text and "1,607 / 6,489 * 100 = 24.76 %" in text
    declining = finance.calculate("Is Globex's operating margin declining as of FY2019?", [INCOME])
    assert declining.verdict().startswith("Yes: operating margin fell")
    assert comparison.to_dict()["shown"] == "26.51 % 24.76 %"  # what the citation check takes as given


def test_two_digit_fiscal_years_and_a_sign_question(finance):
    grew = finance.calculate("Did Globex grow its PPNE between FY18 and FY19?", [BALANCE])
    assert grew.verdict() == "No: PPNE fell from 282 in millions in 2018 to 253 in millions in 2019"
    positive = finance.calculate("Does Globex have positive working capital based on FY2019 data?", [BALANCE])
    assert positive.verdict() == "Yes: working capital was 4,377 in millions in 2019, positive"
    negative = finance.calculate("Does Globex have negative working capital based on FY2019 data?", [BALANCE])
    assert negative.verdict().startswith("No: working capital was 4,377")
    assert finance.calculate("Did Globex grow its PPNE between FY18 and FY19?", [INCOME]) is None  # no PP&E row


TAXES = """NOTE 20 INCOME TAXES
A reconciliation of the U.S. federal statutory rate of 21 percent to our actual income tax rate was as follows:
2022 2021 2020
U.S. statutory federal income tax rate | 21.0 | 21.0 | 21.0
State and local income taxes, net of federal benefit | 3.1 | 3.0 | 3.7
Actual tax rates | 21.6 | 24.6 | 27.0"""


def test_the_change_of_the_effective_tax_rate_is_read_off_the_reconciliation(finance):
    question = "How much has the effective tax rate of Globex changed between FY2021 and FY2022?"
    calculation = finance.calculate(question, [TAXES])
    assert round(calculation.result, 2) == -3.0  # 21.6 - 24.6, not 27.0 (the 2020 column) nor the statutory 21.0
    assert calculation.answer(question) == (
        "Actual tax rates, 2022: 21.6 [1]. Actual tax rates, 2021: 24.6 [1]. "
        "Calculated: 21.6 - 24.6 = -3.00 percentage points [1]."
    )
    rate = finance.calculate("What was the effective tax rate of Globex in FY2020?", [TAXES])
    assert rate.result == 27.0 and rate.result_text() == "27.00 %"
