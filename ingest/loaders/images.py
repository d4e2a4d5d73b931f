"""Images — PNG, JPEG, TIFF (every page), BMP, WebP — read by OCR (ingest/ocr): one Document per page.

The size is checked from the header before any pixel is decoded (a 30,000 × 30,000 image is refused, not
unpacked); a phone photo is turned upright by its EXIF orientation, and a page turned by 90° is found by
reading. Pages are decoded one at a time, so a 500-page TIFF never sits in memory whole.
"""

from __future__ import annotations

import warnings as python_warnings
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders import report_pages
from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError


def load_image(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ingest.ocr import page_numbers, read_page

    if cfg.ocr.mode == "off":
        raise LoaderError(str(path), "an image's text is read by OCR, and loaders.ocr is off: set it to auto")
    limit = int(cfg.ocr.max_megapixels * 1e6)
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except UnidentifiedImageError:
            raise LoaderError(str(path), "not an image Pillow can identify: renamed, truncated or corrupt?") from None
        except Image.DecompressionBombError as exc:
            raise LoaderError(str(path), f"{exc} (a decompression bomb?); over loaders.ocr.max_megapixels") from None
    with image:
        pages = getattr(image, "n_frames", 1)
        if pages > cfg.ocr.max_pages:
            warnings.append(f"{pages} pages: read the first {cfg.ocr.max_pages} (loaders.ocr.max_pages)")
        total = min(pages, cfg.ocr.max_pages)
        blank: list[int] = []
        for index in range(total):
            image.seek(index)
            _check_size(path, image.size, limit, index, pages)
            try:
                frame = ImageOps.exif_transpose(image) if index == 0 else image.copy()
                page = read_page(frame, cfg.ocr)
            except (OSError, ValueError, SyntaxError) as exc:  # a truncated or damaged page: the others still count
                warnings.append(f"page {index + 1}: could not be read ({exc.__class__.__name__}: {exc})")
                continue
            finally:
                report_pages(index + 1, total)
            if not page.text:
                blank.append(index + 1)
                continue
            metadata = {"page": index + 1, "ocr": True, "ocr_confidence": round(page.confidence, 3)}
            yield Document(text=page.text, metadata=metadata)
        if blank and pages > 1:
            warnings.append(f"OCR found no text on {len(blank)} of {total} pages ({page_numbers(blank)})")


def _check_size(path: Path, size: tuple[int, int], limit: int, index: int, pages: int) -> None:
    width, height = size
    if width * height > limit:
        where = f"page {index + 1} is" if pages > 1 else "it is"
        raise LoaderError(
            str(path),
            f"{where} {width} × {height} pixels ({width * height / 1e6:.0f} megapixels), over "
            f"loaders.ocr.max_megapixels={limit / 1e6:g} (a decompression bomb?)",
        )
