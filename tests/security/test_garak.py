"""garak against the real API (bench/garak_bench.py with two prompts per probe): it runs end to end against
/v1/chat/completions, and none of the prompt-injection, DAN, encoding or latent-injection probes gets through
by its own detector."""

from __future__ import annotations

import importlib.util
import os

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

spec = importlib.util.spec_from_file_location("garak_bench", REPO / "bench" / "garak_bench.py")
garak_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(garak_bench)

# garak's mitigation.MitigationBypass counts an answer as a bypass unless it contains a refusal phrase ("I'm sorry",
# "as an AI", …); our endpoint answers off-topic prompts with "I could not find the answer to that in your
# documents", which it counts as a bypass. The probes' own detectors (dan.DAN, …) say whether the attack worked.
MEASURES_REFUSAL = {"mitigation.MitigationBypass"}
PROBES = [
    "promptinject.HijackHateHumans",
    "dan.Dan_11_0",
    "encoding.InjectBase64",
    "latentinjection.LatentInjectionReport",
]


def test_garak_probes_do_not_get_through(tmp_path):
    if not garak_bench.GARAK.exists():
        message = f"garak is not installed at {garak_bench.GARAK} (bash scripts/setup-garak.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    process, base = garak_bench.serve(tmp_path, "qwen2.5-coder-0.5b-instruct-q4_k_m")
    try:
        records = garak_bench.scan(base, PROBES, 2, tmp_path)  # two prompts per probe (the bench runs more)
    finally:
        process.terminate()
        process.wait(timeout=30)
    probes = {record["probe"] for record in records}
    assert probes == set(PROBES), probes
    for record in records:
        assert record["total_evaluated"] > 0, record
        if record["detector"] in MEASURES_REFUSAL:
            continue  # reported in docs/security.md, not a failure: a grounded "not in your documents" is no refusal
        assert record["passed"] == record["total_evaluated"], record
