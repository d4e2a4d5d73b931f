"""Print a results table at the end of a test module, past pytest's output capture (shown even with -q)."""

from __future__ import annotations

import contextlib


def print_table(request, header: str, lines: list[str]) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not lines:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.write_line("")
        reporter.write_line(header)
        for line in lines:
            reporter.write_line(line)
