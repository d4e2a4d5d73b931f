"""scripts/test.sh still ends with a summary line when the test interpreter itself is killed."""

import os
import re
import subprocess
import sys

from tests.conftest import REPO


def run_suite(**env_extra: str) -> subprocess.CompletedProcess:
    # The venv running this test (set up already, so scripts/setup.sh returns at once).
    env = {**os.environ, "RAG_CRASH_CASE": "1", "RAG_VENV": os.path.dirname(os.path.dirname(sys.executable))}
    return subprocess.run(
        ["bash", "scripts/test.sh", "tests/support/crash_case.py", "-p", "no:cacheprovider", "-q"],
        cwd=REPO,
        env=env | env_extra,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_crashed_worker_is_one_failed_test_in_the_summary():
    """With workers (the default), pytest-xdist replaces a worker that dies (re-running its test at most twice) and
    the run ends with pytest's own summary line."""
    result = run_suite()
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "worker 'gw" in result.stdout and "crashed while running" in result.stdout
    assert "crash_case.py::test_dies_in_native_code" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[1-3] failed, 1 passed in [0-9.]+s", last), last


def test_a_crashed_pytest_still_ends_with_a_summary_line():
    """In one process (RAG_TEST_WORKERS=0) the interpreter itself dies; scripts/test.sh prints the summary."""
    env = {**os.environ, "RAG_CRASH_CASE": "1", "RAG_VENV": os.path.dirname(os.path.dirname(sys.executable))}
    env["RAG_TEST_WORKERS"] = "0"
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
