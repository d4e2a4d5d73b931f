"""The latest `python -m eval run` report: its metrics, gate, and the trend over the history."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st


def latest_results(runs: Path) -> dict | None:
    candidates = sorted(runs.glob("*/results.json")) if runs.is_dir() else []
    for path in reversed(candidates):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
    return None


def runs_folder() -> Path:
    from eval.config import load_eval_config
    from rag.errors import RagError

    try:
        return Path(load_eval_config().runs)
    except RagError:
        return Path("runs")


def render_tab(runs: Path | None = None) -> None:
    runs = runs or runs_folder()
    results = latest_results(runs)
    if results is None:
        st.info("No evaluation yet. Run `python -m eval run` (see docs/evaluation.md); its report shows up here.")
        return
    gate = results.get("gate") or {}
    verdict = "pass" if gate.get("passed", True) else "regression"
    st.subheader(f"{results['run_id']} · {results['status']} · gate: {verdict}")
    st.caption(
        f"{results['samples_done']} of {results['samples_planned']} samples · {results['dataset']} · "
        f"judge {results['judge'].get('model')} ({results['judge'].get('calls', 0)} calls)"
    )
    for failure in gate.get("failures", []):
        st.error(failure)
    st.dataframe(
        [{"metric": m, **{k: v for k, v in s.items() if k != "ci95"}} for m, s in results["summary"].items()],
        hide_index=True,
    )
    history_file = runs / "history.jsonl"
    if history_file.is_file():
        rows = [json.loads(line) for line in history_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if r.get("name") == results["name"] and r.get("status") == "complete"]
        if len(rows) > 1:
            st.markdown("**Trend**")
            st.line_chart({m: [r["summary"].get(m) for r in rows] for m in results["summary"]})
    report = Path(results["dir"]) / "report.html"
    if report.is_file():
        st.caption(f"Full report: `{report}`")
