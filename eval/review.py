"""A person's verdict on a generated question (eval/generate.py): accepted, edited or rejected, by whom and when;
`eval run` leaves rejected questions out (eval/datasets.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def review(path: Path, sample_id: str, state: str, who: str, reference: str | None = None) -> dict:
    """Record a person's verdict on one generated question: accepted, edited (a new reference) or rejected, by
    whom and when (the file is rewritten atomically); `eval run` leaves rejected questions out."""
    if state not in ("accepted", "edited", "rejected"):
        raise ValueError(f"unknown review state {state!r}")
    samples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    sample = next((s for s in samples if s["id"] == sample_id), None)
    if sample is None:
        raise KeyError(sample_id)
    if state == "edited":
        sample["reference"] = (reference or "").strip() or sample["reference"]
    sample.setdefault("metadata", {})["reviewed"] = {
        "state": state,
        "by": who.strip() or "anonymous",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    temporary = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
    temporary.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8")
    os.replace(temporary, path)
    return sample
