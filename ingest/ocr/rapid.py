"""RapidOCR: PaddleOCR's PP-OCRv4 detection and recognition models as ONNX, carried inside the
``rapidocr-onnxruntime`` wheel (Apache-2.0), run on onnxruntime. Reads English and Chinese."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ingest.ocr import OcrLine
from rag.cores import usable_cores
from rag.errors import LoaderError

if TYPE_CHECKING:
    from PIL.Image import Image

LANGUAGES = ("en", "zh", "eng", "chi_sim")


class RapidOcrEngine:
    def __init__(self, language: str):
        if language not in LANGUAGES:
            raise LoaderError(
                "loaders.ocr.language",
                f"rapidocr's packaged model reads English and Chinese, not {language!r}; "
                "use loaders.ocr.engine: tesseract with that language's tessdata (apt-get install tesseract-ocr-LANG)",
            )
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise LoaderError(
                "loaders.ocr.engine",
                "rapidocr is not installed: pip install --no-deps rapidocr-onnxruntime==1.4.4 (scripts/setup.sh does)",
            ) from None
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        threads = usable_cores()
        # No per-line 180° classifier: it makes a page turned by 90° read as well as one turned by 270° (each line
        # flipped upright, in reverse order); read_page turns the whole page instead.
        self._ocr = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, use_cls=False)

    def read(self, image: Image) -> list[OcrLine]:
        result, _ = self._ocr(image)
        lines = []
        for box, text, score in result or []:
            xs = [point[0] for point in box]
            ys = [point[1] for point in box]
            (x0, y0), (x1, y1) = box[0], box[1]  # the top edge, left to right
            slope = (y1 - y0) / (x1 - x0) if x1 - x0 > abs(y1 - y0) else 0.0
            lines.append(OcrLine(str(text), float(score), min(xs), min(ys), max(xs), max(ys), slope))
        return lines
