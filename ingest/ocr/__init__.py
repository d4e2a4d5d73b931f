"""OCR: the text of an image or a scanned page, offline.

An engine reads lines (text, confidence, box) from a PIL image; this module orders them into reading lines and
retries a page that reads as if turned on its side. Engines are chosen by name (``loaders.ocr.engine``) from
:data:`ENGINES`: rapidocr (PP-OCRv4 detection and recognition as ONNX models inside the PyPI wheel, on the
onnxruntime we already ship) and tesseract (Debian's ``tesseract-ocr``). docs/benchmarks.md#ocr compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rag.errors import LoaderError
from rag.registry import Registry

if TYPE_CHECKING:
    from PIL.Image import Image

    from rag.config import OcrConfig


@dataclass(frozen=True)
class OcrLine:
    """One run of text the engine read, with its confidence (0–1) and box (pixels: left, top, right, bottom)."""

    text: str
    confidence: float
    left: float
    top: float
    right: float
    bottom: float
    slope: float = 0.0  # of the baseline (dy/dx), where the engine gives a turned box

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def upright(self) -> bool:
        """Wider than tall, as a line of a few characters written across the page is."""
        return (self.right - self.left) >= self.height or len(self.text.strip()) < 3


@dataclass(frozen=True)
class OcrPage:
    text: str
    confidence: float  # mean over the kept lines, weighted by their length; 0 when nothing was read
    rotated: int = 0  # degrees the page was turned to be read


class OcrEngine(Protocol):
    def read(self, image: Image) -> list[OcrLine]: ...


ENGINES = Registry(
    "OCR engine",
    {
        "rapidocr": "ingest.ocr.rapid:RapidOcrEngine",
        "tesseract": "ingest.ocr.tesseract:TesseractEngine",
    },
)

_ENGINES: dict[tuple[str, str], OcrEngine] = {}


def engine_for(cfg: OcrConfig) -> OcrEngine:
    """This process's engine for ``cfg`` (models load once). ``auto``: tesseract where it is installed with the
    language (more accurate and twice as fast on printed pages, docs/benchmarks.md#ocr), else rapidocr, which
    every install has."""
    key = (cfg.engine, cfg.language)
    if key not in _ENGINES:
        if cfg.engine == "auto":
            try:
                _ENGINES[key] = ENGINES.load("tesseract")(cfg.language)
            except LoaderError:
                _ENGINES[key] = ENGINES.load("rapidocr")(cfg.language)
            return _ENGINES[key]
        try:
            factory = ENGINES.load(cfg.engine)
        except ValueError as exc:
            raise LoaderError("loaders.ocr.engine", str(exc)) from None
        _ENGINES[key] = factory(cfg.language)
    return _ENGINES[key]


def read_page(image: Image, cfg: OcrConfig) -> OcrPage:
    """The text of one page image. A page that reads poorly and whose lines stand taller than wide (a photo
    or scan turned by 90°) is read again turned both ways, and the better reading is kept."""
    engine = engine_for(cfg)
    image = _plain(image)
    if _blank(image):  # a blank page costs a thumbnail, not a detection pass (a 500-page TIFF of them: seconds)
        return OcrPage("", 0.0)
    lines = engine.read(image)
    if not lines:  # nothing that looks like text, whichever way up: a blank page, a photo without writing
        return OcrPage("", 0.0)
    best, score = _reading(lines, cfg.min_confidence, 0), _score(lines, cfg.min_confidence)
    if best.confidence >= 0.8 and _upright_share(lines) > 0.5:
        return best
    for degrees in (90, 270, 180):
        turned_lines = engine.read(image.rotate(degrees, expand=True))
        turned = _score(turned_lines, cfg.min_confidence)
        if turned > score * 1.2:
            best, score = _reading(turned_lines, cfg.min_confidence, degrees), turned
    return best


def page_numbers(numbers: list[int], shown: int = 10) -> str:
    """ "pages 1, 4, 9" for a warning, the first `shown` of them and "…" after."""
    more = " …" if len(numbers) > shown else ""
    return "pages " + ", ".join(str(n) for n in numbers[:shown]) + more


def _blank(image: Image) -> bool:
    """No ink: fewer than 0.02 % of the pixels of a 1,024-pixel thumbnail stand out from the page's median shade
    (a line of small print is several times that; scanner noise and a faint border are not)."""
    gray = image.convert("L")
    gray.thumbnail((1024, 1024))
    histogram = gray.histogram()
    total = sum(histogram)
    running, median = 0, 0
    for value, count in enumerate(histogram):
        running += count
        if running * 2 >= total:
            median = value
            break
    ink = sum(count for value, count in enumerate(histogram) if abs(value - median) > 64)
    return ink < 0.0002 * total


def _upright_share(lines: list[OcrLine]) -> float:
    return sum(line.upright for line in lines) / len(lines) if lines else 0.0


def _score(lines: list[OcrLine], min_confidence: float) -> float:
    """Characters read, weighted by confidence, counting only lines that run across the page."""
    return sum(
        line.confidence * len(line.text.replace(" ", ""))
        for line in lines
        if line.upright and line.confidence >= min_confidence
    )


def _plain(image: Image) -> Image:
    """8-bit RGB or grayscale (16-bit TIFFs, CMYK, palettes and alpha read badly or not at all)."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        from PIL import Image as PILImage

        rgba = image.convert("RGBA")
        background = PILImage.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def _reading(lines: list[OcrLine], min_confidence: float, rotated: int) -> OcrPage:
    kept = [line for line in lines if line.text.strip() and line.confidence >= min_confidence]
    if not kept:
        return OcrPage("", 0.0, rotated)
    weight = sum(len(line.text) for line in kept)
    confidence = sum(line.confidence * len(line.text) for line in kept) / weight
    return OcrPage(_reading_order(kept), confidence, rotated)


def _reading_order(lines: list[OcrLine]) -> str:
    """Lines top to bottom; runs whose vertical centres lie within half a line height of a row's join it, left
    to right (a receipt's item and price, a table's cells). Centres are measured across the page's skew (the
    median baseline slope), so the far end of a tilted row still joins it."""
    slopes = sorted(line.slope for line in lines)
    skew = slopes[len(slopes) // 2]

    def centre(item: OcrLine) -> float:
        return (item.top + item.bottom) / 2 - skew * (item.left + item.right) / 2

    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=centre):
        if rows:
            row = rows[-1]
            row_centre = sum(centre(item) for item in row) / len(row)
            height = max(sum(item.height for item in row) / len(row), line.height)
            if abs(centre(line) - row_centre) <= height / 2:
                row.append(line)
                continue
        rows.append([line])
    return "\n".join(" ".join(item.text.strip() for item in sorted(row, key=lambda i: i.left)) for row in rows)
