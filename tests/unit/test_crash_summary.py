"""scripts/test.sh still ends with a summary line when the test interpreter itself is killed."""

import os
import subprocess
import sys

from tests.conftest import REPO


def test_a_crashed_pytest_still_ends_with_a_summary_line():
    # The venv running this test (set up already, so scripts/setup.sh returns at once).
    env = {**os.environ, "RAG_CRASH_CASE": "1", "RAG_VENV": os.path.dirname(os.path.dirname(sys.executable))}
    result = subprocess.run(
        ["bash", "scripts/test.sh", "tests/support/crash_case.py", "-p", "no:cacheprovider", "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 128 + 11, result.stdout[-2000:] + result.stderr[-2000:]
    assert (
        "the test interpreter died (SIGSEGV) while running tests/support/crash_case.py::test_dies_in_native_code"
        in (result.stdout)
    )
    assert lines[-1] == "1 passed, 1 failed, 0 skipped"
