"""A local Ray instance that misses Ray's fixed 30 s startup wait is started once more (ingest/ray_engine.py)."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")


def test_a_local_ray_start_that_times_out_is_tried_once_more(monkeypatch):
    from ingest.ray_engine import start_local_ray

    calls = []

    def init(**options):
        calls.append(options)
        if len(calls) == 1:
            raise Exception("The current node timed out during startup. This could happen because ...")

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append("shutdown"))
    start_local_ray(2)
    assert [c if c == "shutdown" else c["num_cpus"] for c in calls] == [2, "shutdown", 2]
    assert calls[0]["address"] == "local" and calls[0]["include_dashboard"] is False


def test_any_other_ray_start_error_is_raised_at_once(monkeypatch):
    from ingest.ray_engine import start_local_ray

    calls = []

    def init(**options):
        calls.append(options)
        raise ValueError("num_cpus must be positive")

    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(ValueError, match="num_cpus"):
        start_local_ray(0)
    assert len(calls) == 1
