"""OCR engines side by side: character error rate and pages/s on pages this bench renders from known text.

    .venv/bin/python bench/ocr_bench.py [--pages 10] [--engines rapidocr,tesseract]

Pages: SciFact abstracts (real prose, ../shared/datasets/scifact) typeset as A4 pages in 11 pt, in five fonts
(DejaVu Sans and Serif, Liberation Sans, Serif and Mono), rendered in two conditions: clean at 300 DPI, and at
150 DPI turned by a seeded 0–2°. CER = edit distance / reference length, whitespace runs counted as one space.
Each page also goes through an image-only PDF and the PDF loader (render + OCR) for the end-to-end pages/s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCIFACT = REPO.parent / "shared" / "datasets" / "scifact" / "corpus.jsonl"
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
]
CONDITIONS = {"300 DPI clean": (300, False), "150 DPI skewed 0-2°": (150, True)}


def texts(count: int) -> list[str]:
    """Page texts: consecutive abstracts of ~1,200 characters (about 18 lines of 11 pt, a typical memo page)."""
    pages, current = [], ""
    with SCIFACT.open(encoding="utf-8") as handle:
        for line in handle:
            current += " " + json.loads(line)["text"]
            if len(current) > 1200:
                pages.append(" ".join(current.split())[:1200].rsplit(" ", 1)[0])
                current = ""
                if len(pages) == count:
                    return pages
    return pages


def render(text: str, font_path: str, dpi: int, angle: float):
    from PIL import Image, ImageDraw, ImageFont

    scale = dpi / 72
    width, height = int(595 * scale), int(842 * scale)
    font = ImageFont.truetype(font_path, int(11 * scale))
    chars = int((595 - 144) * scale / font.getlength("n"))  # 1 inch margins
    lines = textwrap.wrap(text, width=chars)
    while lines and max(font.getlength(line) for line in lines) > (595 - 144) * scale:
        chars -= 2
        lines = textwrap.wrap(text, width=chars)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    y = int(72 * scale)
    for line in lines:
        draw.text((int(72 * scale), y), line, fill="black", font=font)
        y += int(15 * scale)
    if angle:
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    return image, "\n".join(lines)


def cer(reference: str, hypothesis: str) -> float:
    from rapidfuzz.distance import Levenshtein

    reference, hypothesis = " ".join(reference.split()), " ".join(hypothesis.split())
    return Levenshtein.distance(reference, hypothesis) / max(len(reference), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10, help="pages per condition (fonts rotate)")
    parser.add_argument("--engines", default="rapidocr,tesseract")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from ingest.loaders.pdf import load_pdf
    from ingest.ocr import engine_for, read_page
    from rag.config import LoaderConfig, OcrConfig

    console = Console()
    rng = random.Random(7)
    page_texts = texts(args.pages)
    pages = {
        condition: [
            render(text, FONTS[index % len(FONTS)], dpi, rng.uniform(-2, 2) if skew else 0.0)
            for index, text in enumerate(page_texts)
        ]
        for condition, (dpi, skew) in CONDITIONS.items()
    }
    table = Table(title=f"OCR on {args.pages} rendered pages per condition ({len(FONTS)} fonts)")
    for column in ("engine", "condition", "CER mean", "CER worst", "pages/s (image)", "pages/s (PDF, 200 DPI)"):
        table.add_column(column)
    for engine in args.engines.split(","):
        cfg = OcrConfig(engine=engine)
        engine_for(cfg)  # models load before the clock starts
        for condition, rendered in pages.items():
            errors, started = [], time.perf_counter()
            for image, reference in rendered:
                errors.append(cer(reference, read_page(image, cfg).text))
            image_rate = len(rendered) / (time.perf_counter() - started)
            pdf_rate = "—"
            if condition.startswith("300"):  # the loader path: an image-only PDF rendered back by pypdfium2
                with tempfile.TemporaryDirectory() as folder:
                    pdf = Path(folder) / "scan.pdf"
                    images = [image for image, _ in rendered]
                    images[0].save(pdf, "PDF", resolution=300, save_all=True, append_images=images[1:])
                    started = time.perf_counter()
                    documents = list(load_pdf(pdf, LoaderConfig(ocr=cfg, pdf_tables=False), []))
                    pdf_rate = f"{len(documents) / (time.perf_counter() - started):.2f}"
            table.add_row(
                engine,
                condition,
                f"{100 * sum(errors) / len(errors):.2f} %",
                f"{100 * max(errors):.2f} %",
                f"{image_rate:.2f}",
                pdf_rate,
            )
            console.print(f"{engine} · {condition}: done")
    console.print(table)


if __name__ == "__main__":
    main()
