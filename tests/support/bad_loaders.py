"""Loaders that misbehave on purpose, registered by tests/reliability/test_bad_inputs.py: a parser that spins, one
that swells past any memory, and a file removed by someone else while it is being read."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rag.config import LoaderConfig


def spin(path: Path, cfg: LoaderConfig, warnings: list[str]):
    while True:  # what a PDF with a cyclic object graph does to a naive parser
        time.sleep(0)


def swell(path: Path, cfg: LoaderConfig, warnings: list[str]):
    hoard = []
    while True:  # what a decompression bomb does: fill memory until something stops it
        hoard.append(b"\x01" * (64 * 1024 * 1024))  # written, so resident (a bare bytearray(n) is not)
        time.sleep(0.01)


def vanish(path: Path, cfg: LoaderConfig, warnings: list[str]):
    from ingest.loaders.text import load_text

    with path.open("rb") as handle:
        handle.read(16)
    os.remove(path)  # another process deletes the file between two reads
    yield from load_text(path, cfg, warnings)
