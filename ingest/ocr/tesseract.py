"""Tesseract 5 (Apache-2.0) through its command line: Debian's ``tesseract-ocr`` with ``tesseract-ocr-<lang>``
for other languages. Words are grouped into the lines tesseract found (its TSV output)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from typing import TYPE_CHECKING

from ingest.ocr import OcrLine
from rag.cores import usable_cores
from rag.errors import LoaderError

if TYPE_CHECKING:
    from PIL.Image import Image

_CODES = {"en": "eng", "zh": "chi_sim", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por"}


class TesseractEngine:
    def __init__(self, language: str):
        self.binary = shutil.which("tesseract")
        if self.binary is None:
            raise LoaderError(
                "loaders.ocr.engine",
                "tesseract is not installed: apt-get install tesseract-ocr (or use loaders.ocr.engine: rapidocr)",
            )
        self.language = _CODES.get(language, language)
        installed = subprocess.run([self.binary, "--list-langs"], capture_output=True, text=True, check=False)
        if self.language not in installed.stdout.split():
            raise LoaderError(
                "loaders.ocr.language",
                f"tesseract has no {self.language!r} data: apt-get install tesseract-ocr-{self.language}",
            )

    def read(self, image: Image) -> list[OcrLine]:
        env = {**os.environ, "OMP_THREAD_LIMIT": str(usable_cores())}
        with tempfile.TemporaryDirectory(prefix="rag-ocr-") as folder:
            picture = os.path.join(folder, "page.png")
            image.save(picture)
            done = subprocess.run(
                [self.binary, picture, "stdout", "-l", self.language, "--psm", "3", "tsv"],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"tesseract failed: {done.stderr.strip()[-300:]}")
        return _lines(done.stdout)


def _lines(tsv: str) -> list[OcrLine]:
    grouped: dict[tuple[str, str, str, str], list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") == "5" and (row.get("text") or "").strip() and float(row.get("conf") or -1) >= 0:
            grouped.setdefault((row["page_num"], row["block_num"], row["par_num"], row["line_num"]), []).append(row)
    lines = []
    for words in grouped.values():
        left = min(int(w["left"]) for w in words)
        top = min(int(w["top"]) for w in words)
        right = max(int(w["left"]) + int(w["width"]) for w in words)
        bottom = max(int(w["top"]) + int(w["height"]) for w in words)
        confidence = sum(float(w["conf"]) for w in words) / len(words) / 100
        lines.append(OcrLine(" ".join(w["text"] for w in words), confidence, left, top, right, bottom))
    return lines
