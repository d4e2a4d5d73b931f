"""The latest `python -m eval run` report (metrics, gate, trend); for an administrator, a test set generated from
the documents they may read (`python -m eval generate` in the background, its progress here), and its review: each
question with its reference and source passages, accepted, edited or rejected by a named reviewer. Sets hold
passages of the documents they came from, so only administrators see them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import streamlit as st

REPO = Path(__file__).resolve().parents[2]


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
    from apps.ui import state

    render_report(runs)
    who = state.principal()
    if who is None or not who.admin:
        st.caption("Generated test sets hold passages of the documents: an administrator generates and reviews them.")
        return
    folder = runs_folder("sets")
    render_generate(folder, [d.path for d in state.service().library.documents(state.restriction())])
    render_review(folder)


def render_generate(folder: Path, paths: list[str]) -> None:
    """Start `python -m eval generate` over `paths` (the documents this user may read) in a process of its own,
    writing `<sets>/<name>.jsonl`; each job's progress is its journal's lines out of the questions planned."""
    st.subheader("Generate a test set")
    paths = [path for path in paths if Path(path).is_file()]
    name = st.text_input("Set name", value="mine", key="generate_name", help="letters, digits, - and _")
    count = st.number_input("Questions planned", min_value=2, max_value=1000, value=50, key="generate_count")
    if st.button("Generate", key="generate", disabled=not paths, help=None if paths else "no documents yet"):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            st.error(f"{name!r} is not a set name: use letters, digits, - and _ (at most 64)")
        else:
            start_generation(folder, name, int(count), paths)
    for job_file in sorted(folder.glob("*.jsonl.job")) if folder.is_dir() else []:
        job = json.loads(job_file.read_text(encoding="utf-8"))
        journal = Path(job["out"] + ".journal")
        done = (
            sum(1 for line in journal.read_text(encoding="utf-8").splitlines() if line.strip())
            if journal.is_file()
            else 0
        )
        running = _alive(job["pid"])
        label = f"{Path(job['out']).name}: {done} of {job['planned']} planned questions written and checked"
        st.progress(min(done / job["planned"], 1.0), text=label + ("" if running else " · finished"))
        if not running and done < job["planned"]:
            st.caption(f"It stopped early; its log: `{job['log']}`. Generate again with the same name to resume.")


def start_generation(folder: Path, name: str, count: int, paths: list[str]) -> subprocess.Popen:
    """The generate command in its own session (it outlives this page's reruns), with the app's config."""
    folder.mkdir(parents=True, exist_ok=True)
    out, log = folder / f"{name}.jsonl", folder / f"{name}.log"
    command = [sys.executable, "-m", "eval", "generate", *paths, "--out", str(out), "-n", str(count)]
    command += ["--work", str(folder / ".work" / name)]
    if os.environ.get("RAG_CONFIG"):
        command += ["--config", os.environ["RAG_CONFIG"]]
    with log.open("ab") as handle:
        process = subprocess.Popen(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    job = {"pid": process.pid, "out": str(out), "planned": count, "log": str(log), "started": time.time()}
    (folder / f"{name}.jsonl.job").write_text(json.dumps(job), encoding="utf-8")
    return process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a child of this process that has exited and not been waited for is a zombie: finished
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def render_review(folder: Path | None = None) -> None:
    """The questions of a set `python -m eval generate` wrote under sets/, to accept, edit or reject."""
    from eval.review import review

    folder = folder or runs_folder("sets")
    sets = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    sets = [path for path in sets if path.stat().st_size]  # one still being written has no questions yet
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
