"""Long PDF reports with page-level gold: TAT-QA's real annual-report tables and paragraphs typeset into PDFs
of ~90 pages each (one context per page, tables drawn with ruled cells, as filings print them), and the
questions of those contexts with the page that holds the answer.

PDFs are what users bring, and what retrieval finds hardest: every page is a table of similar line items
and years, a chunk of table rows does not say which columns it holds, and the right page must be found
among hundreds. TAT-QA has no company names, so its questions ("What was the change in Wireless capital
expenditures from 2018 to 2019?") must be matched on line items and years, as inside one long 10-K.

``convert_pdfqa(source, out, split)`` writes ``corpus/report-N.pdf`` and ``pdfqa-<split>.jsonl`` (the QA
format of ``eval.datasets``, with ``context_ids`` = ``["report-N.pdf#page=P", ...]``). Needs reportlab (the
eval extra).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from eval.datasets import ConvertedDataset, QASample, write_qa
from rag.errors import ConfigError

CONTEXTS_PER_REPORT = 90


def page_id(source: str, page: int) -> str:
    return f"{source}#page={page}"


def convert_pdfqa(source: str | Path, out: str | Path, split: str = "test", reports: int = 3) -> ConvertedDataset:
    files = {"dev": "tatqa_dataset_dev.json", "test": "tatqa_dataset_test_gold.json"}
    if split not in files:
        raise ConfigError(f"pdfqa split {split!r}: choose dev or test (TAT-QA's)")
    contexts = json.loads((Path(source) / files[split]).read_text(encoding="utf-8"))
    random.Random(7).shuffle(contexts)  # reports mix topics, as a filing's notes do
    corpus = Path(out) / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    samples: list[QASample] = []
    for number in range(reports):
        part = contexts[number * CONTEXTS_PER_REPORT : (number + 1) * CONTEXTS_PER_REPORT]
        if not part:
            break
        name = f"report-{number + 1}.pdf"
        pages = _typeset(part, corpus / name, title=f"Annual report {number + 1}: notes and tables")
        for context, context_pages in zip(part, pages, strict=True):
            for question in context["questions"]:
                answer = question["answer"]
                reference = ", ".join(str(a) for a in answer) if isinstance(answer, list) else str(answer)
                if question.get("scale"):
                    reference = f"{reference} {question['scale']}"
                samples.append(
                    QASample(
                        id=question["uid"],
                        question=question["question"],
                        reference=reference,
                        context_ids=[page_id(name, page) for page in context_pages],
                        metadata={key: question.get(key) for key in ("answer_from", "answer_type")},
                    )
                )
    qa = Path(out) / f"pdfqa-{split}.jsonl"
    write_qa(samples, qa)
    return ConvertedDataset(corpus=corpus, qa=qa, samples=len(samples), documents=reports)


def _typeset(contexts: list[dict], path: Path, title: str) -> list[list[int]]:
    """Write the contexts one per page (longer ones run on); returns each context's pages."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    pages: list[list[int]] = [[] for _ in contexts]

    class Mark(Flowable):
        """Zero-size: records the page it lands on for context `index`."""

        def __init__(self, index: int):
            super().__init__()
            self.index = index

        def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
            return 0, 0

        def draw(self) -> None:
            page = self.canv.getPageNumber()
            if page not in pages[self.index]:
                pages[self.index].append(page)

    story: list = []
    for index, context in enumerate(contexts):
        paragraphs = [p["text"] for p in sorted(context["paragraphs"], key=lambda p: p["order"])]
        story.append(Mark(index))
        if paragraphs and len(paragraphs[0]) < 80:  # a short first paragraph is the note's heading
            story.append(Paragraph(_escape(paragraphs.pop(0)), styles["Heading2"]))
        rows = [[Paragraph(_escape(cell), styles["BodyText"]) for cell in row] for row in context["table"]["table"]]
        if rows:
            table = Table(rows, repeatRows=0)
            ruled = [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("FONTSIZE", (0, 0), (-1, -1), 7)]
            table.setStyle(TableStyle(ruled))
            story += [table, Spacer(1, 8), Mark(index)]
        for text in paragraphs:
            story += [Paragraph(_escape(text), styles["BodyText"]), Mark(index)]
        story.append(PageBreak())

    def header(canvas, document) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.drawString(40, 770, title)
        canvas.drawRightString(570, 20, f"page {document.page}")

    SimpleDocTemplate(str(path), pagesize=letter, title=title).build(story, onFirstPage=header, onLaterPages=header)
    return [sorted(found) for found in pages]


def _escape(text: str) -> str:
    return " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
