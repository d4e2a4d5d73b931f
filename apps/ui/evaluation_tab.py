"""The latest `python -m eval run` report (metrics, gate, trend), and the review of a generated test set: each
question with its reference and source passages, accepted, edited or rejected by a named reviewer."""

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


def runs_folder(key: str = "runs") -> Path:
    """The eval config's runs (or sets) folder (configs/eval.yaml; EVAL__RUNS / EVAL__SETS override it)."""
    from eval.config import load_eval_config
    from rag.errors import RagError

    try:
        return Path(getattr(load_eval_config(), key))
    except RagError:
        return Path(key)


def render_tab(runs: Path | None = None) -> None:
    render_report(runs)
    render_review()


def render_review(folder: Path | None = None) -> None:
    """The questions of a set `python -m eval generate` wrote under sets/, to accept, edit or reject."""
    from eval.generate import review

    folder = folder or runs_folder("sets")
    sets = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    st.subheader("Review a generated test set")
    if not sets:
        st.caption("No generated set yet: `python -m eval generate docs/ --out sets/mine.jsonl -n 50` writes one here.")
        return
    chosen = st.selectbox("Set", sets, format_func=lambda p: p.name, key="review_set")
    who = st.text_input("Reviewer", key="reviewer", placeholder="your name (recorded with each verdict)")
    samples = [json.loads(line) for line in chosen.read_text(encoding="utf-8").splitlines() if line.strip()]
    states = [((s.get("metadata") or {}).get("reviewed") or {}).get("state") for s in samples]
    st.caption(
        f"{len(samples)} questions · {states.count('accepted') + states.count('edited')} accepted · "
        f"{states.count('rejected')} rejected · {states.count(None)} to review"
    )
    for sample in samples:
        verdict = (sample.get("metadata") or {}).get("reviewed") or {}
        mark = {"accepted": "✓", "edited": "✎", "rejected": "✗"}.get(verdict.get("state"), "•")
        with st.expander(f"{mark} {sample['question']}", expanded=False):
            kind = (sample.get("metadata") or {}).get("kind", "")
            where = ", ".join(sample.get("context_ids", [])) or "not in the documents"
            by = f" · {verdict['state']} by {verdict['by']} at {verdict['at']}" if verdict else ""
            st.caption(f"{kind} · {where}{by}")
            reference = st.text_input("Reference answer", value=sample["reference"], key=f"ref-{sample['id']}")
            for text in sample.get("contexts", []):
                st.markdown(f"> {' '.join(text.split())[:1200]}")
            accept, reject = st.columns(2)
            if accept.button("Accept", key=f"accept-{sample['id']}", disabled=not who.strip()):
                state = "edited" if reference.strip() != sample["reference"] else "accepted"
                review(chosen, sample["id"], state, who, reference)
                st.rerun()
            if reject.button("Reject", key=f"reject-{sample['id']}", disabled=not who.strip()):
                review(chosen, sample["id"], "rejected", who)
                st.rerun()


def render_report(runs: Path | None = None) -> None:
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
