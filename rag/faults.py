"""A test hook for crash safety: ``RAG_INGEST_CRASH_AT=step[:n]`` SIGKILLs the process the n-th time it reaches
``crash_point(step)``. The steps sit where a kill is most harmful (between a store write and the keyword index,
between a write and the manifest commit, mid-rebuild, mid-recovery); tests/reliability/ kills at each one."""

from __future__ import annotations

import os
import signal
from collections import Counter

STEPS = ("loaded", "begin", "write", "index", "stale", "unindex", "commit", "remove", "recover", "rebuild")


def crash_point(step: str, _counts: Counter = Counter()) -> None:  # noqa: B006 (a deliberate call counter)
    """SIGKILL here when ``RAG_INGEST_CRASH_AT`` names this step (and this is its n-th time); else nothing."""
    spec = os.environ.get("RAG_INGEST_CRASH_AT")
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name == step:
        _counts[step] += 1
        if _counts[step] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
