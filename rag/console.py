"""What every CLI of ours does first and on failure: offline env, quiet logs, one-line errors."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

# No telemetry, no hub downloads: the defaults run offline (a user may still override them).
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
}


def setup_environment(debug: bool = False) -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "pymilvus", "sentence_transformers", "transformers", "pypdf"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.ERROR)
    if not debug:
        import warnings

        warnings.filterwarnings("ignore")


def fail(console, exc: BaseException, debug: bool) -> NoReturn:
    """Print an expected error as one line (a traceback only with --debug) and exit."""
    if debug:
        console.print_exception()
    console.print(f"[red]error:[/] {exc}", soft_wrap=True)
    sys.exit(getattr(exc, "exit_code", 2))
