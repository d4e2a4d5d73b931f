"""Images and scanned pages through OCR (the real PP-OCRv4 models of the rapidocr wheel; tesseract where
installed): text, page numbers, the ``ocr`` flag, turned and skewed pages, and a mixed PDF keeping its text layer."""

from __future__ import annotations

import os
import shutil

import pytest

from ingest.loaders import load
from ingest.sandbox import ParseSandbox
from rag.config import LoaderConfig
from rag.errors import LoaderError
from tests.support import office_files as files

pytestmark = pytest.mark.slow

CFG = LoaderConfig(ocr={"engine": "rapidocr"})  # the engine every install has (auto picks tesseract where installed)


def docs(path, cfg=CFG, warnings=None):
    return list(load(path, cfg, warnings if warnings is not None else []))


def reads(text: str, expected: str) -> bool:
    """`expected` is in `text`, character for character, whatever the spacing (OCR may drop a space)."""
    return "".join(expected.lower().split()) in "".join(text.lower().split())


def test_a_scanned_pdf_is_read_page_by_page(tmp_path):
    first, second = docs(files.memo_pdf(tmp_path / "memo.pdf"))
    assert [first.metadata["page"], second.metadata["page"]] == [1, 2]
    assert first.metadata["ocr"] is True and first.metadata["ocr_confidence"] > 0.8
    assert reads(first.text, "The canteen moves to the ground floor.")
    assert reads(second.text, files.FACTS["memo.pdf"])
    with pytest.raises(LoaderError, match=r"loaders\.ocr is off: set it to auto"):
        docs(tmp_path / "memo.pdf", LoaderConfig(ocr="off"))
    assert LoaderConfig.model_validate({"ocr": False}).ocr.mode == "off"  # YAML's bare `off`


def test_a_mixed_pdf_keeps_its_text_pages_and_reads_the_scanned_one(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    scan = files.page_image(["Appendix", "The spare parts budget is 7,400 euros."])
    path = tmp_path / "mixed.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawString(72, 770, "Chapter one has a real text layer about the harbour.")
    pdf.showPage()
    pdf.drawImage(ImageReader(scan), 0, 0, *A4)
    pdf.showPage()
    pdf.drawString(72, 770, "Chapter three is typed text again.")
    pdf.save()
    pages = docs(path)
    assert [p.metadata["page"] for p in pages] == [1, 2, 3]  # in order, the scan among them
    assert [p.metadata.get("ocr", False) for p in pages] == [False, True, False]
    assert pages[0].text.strip() == "Chapter one has a real text layer about the harbour."
    assert reads(pages[1].text, "The spare parts budget is 7,400 euros.")
    always = docs(path, LoaderConfig(ocr={"mode": "always", "engine": "rapidocr"}))
    assert all(p.metadata["ocr"] for p in always) and reads(always[0].text, "real text layer about the harbour")


def test_images_photos_turned_and_multi_page_tiffs(tmp_path):
    from PIL import Image

    [board] = docs(files.whiteboard_png(tmp_path / "whiteboard.png"))  # skewed 1.5°
    assert board.metadata["ocr"] is True and board.metadata["page"] == 1
    assert reads(board.text, files.FACTS["whiteboard.png"])
    [receipt] = docs(files.receipt_jpg(tmp_path / "receipt.jpg"))
    assert "TOTAL 47.80" in receipt.text.splitlines()  # item and amount on one line, as printed
    # A phone photo stored sideways with an EXIF orientation, and a scan turned by 90° with none.
    page = files.page_image(["Inspection passed on 3 May", "Signed by the site manager"], size=(1200, 500))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    page.rotate(90, expand=True).save(tmp_path / "photo.jpg", exif=exif)
    page.rotate(-90, expand=True).save(tmp_path / "turned.png")
    for name in ("photo.jpg", "turned.png"):
        [turned] = docs(tmp_path / name)
        assert reads(turned.text.splitlines()[0], "Inspection passed on 3 May"), (name, turned.text)
    pages = [files.page_image([f"Form {n} of 3", f"Reference code QX-{n}{n}{n}"], size=(900, 400)) for n in (1, 2, 3)]
    pages[0].save(tmp_path / "forms.tiff", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    forms = docs(tmp_path / "forms.tiff")
    assert [f.metadata["page"] for f in forms] == [1, 2, 3]
    assert reads(forms[2].text, "Reference code QX-333")


def test_ocr_pages_report_progress_through_the_sandbox(tmp_path):
    pages = [files.page_image([f"Page {n} says hello"], size=(900, 300)) for n in (1, 2, 3)]
    path = tmp_path / "scan.pdf"
    pages[0].save(path, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    sandbox = ParseSandbox(timeout_s=60, memory_mb=2048)
    progress: list[tuple[int, int]] = []
    try:
        pages = list(sandbox.load(path, CFG, [], lambda done, total: progress.append((done, total))))
    finally:
        sandbox.close()
    assert progress[-3:] == [(1, 3), (2, 3), (3, 3)]  # the OCR pass, after the text and table passes
    assert progress[:6] == [(1, 3), (2, 3), (3, 3)] * 2
    assert [p.metadata["page"] for p in pages] == [1, 2, 3] and reads(pages[2].text, "Page 3 says hello")


def test_tesseract_is_the_other_engine(tmp_path):
    if shutil.which("tesseract") is None:
        message = "tesseract is not installed (apt-get install tesseract-ocr; scripts/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cfg = LoaderConfig(ocr={"engine": "tesseract"})
    [receipt] = docs(files.receipt_jpg(tmp_path / "receipt.jpg"), cfg)
    assert "TOTAL 47.80" in receipt.text.splitlines()
    [board] = docs(files.whiteboard_png(tmp_path / "whiteboard.png"), cfg)
    assert reads(board.text, files.FACTS["whiteboard.png"])
    _, second = docs(files.memo_pdf(tmp_path / "memo.pdf"), cfg)
    assert second.metadata["page"] == 2 and reads(second.text, files.FACTS["memo.pdf"])
    turned = files.page_image(["Inspection passed on 3 May", "Signed by the site manager"], size=(1200, 500))
    turned.rotate(90, expand=True).save(tmp_path / "turned.png")
    [page] = docs(tmp_path / "turned.png", cfg)
    assert reads(page.text.splitlines()[0], "Inspection passed on 3 May"), page.text
    with pytest.raises(LoaderError, match="tesseract has no 'klingon' data: apt-get install tesseract-ocr-klingon"):
        docs(tmp_path / "receipt.jpg", LoaderConfig(ocr={"engine": "tesseract", "language": "klingon"}))
    # auto, for a language tesseract has no data for here: rapidocr, which says what to install
    with pytest.raises(LoaderError, match="rapidocr's packaged model reads English and Chinese"):
        docs(tmp_path / "receipt.jpg", LoaderConfig(ocr={"language": "de"}))
