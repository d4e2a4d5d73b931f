"""How many cores this process may use: the default thread count of the local model and the ONNX embedder."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Physical cores, capped by the CPU affinity mask (``taskset``, a container's cpuset, a test worker pinned to
    one core): threads beyond the cores a process may run on only wait for each other."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        allowed = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or allowed
    except ImportError:
        physical = allowed
    return max(1, min(physical, allowed))
