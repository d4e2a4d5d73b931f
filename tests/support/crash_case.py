"""Run only by tests/unit/test_crash_summary.py (RAG_CRASH_CASE=1): one pass, then a native-style crash."""

import os
import signal

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("RAG_CRASH_CASE") != "1", reason="a deliberate crash")


def test_passes():
    assert True


def test_dies_in_native_code():
    os.kill(os.getpid(), signal.SIGSEGV)
