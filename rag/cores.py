"""How many cores this process may use: the default thread count of the local model and the ONNX embedder."""

from __future__ import annotations

import os


def allowed_cpus() -> int:
    """Logical CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def usable_cores() -> int:
    """Physical cores, capped by the CPU affinity mask (``taskset``, a container's cpuset, a test worker pinned to
    one core): threads beyond the cores a process may run on only wait for each other."""
    allowed = allowed_cpus()
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or allowed
    except ImportError:
        physical = allowed
    return max(1, min(physical, allowed))
