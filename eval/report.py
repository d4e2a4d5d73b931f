"""Run reports: results.json (everything), report.md (the summary), report.html (plots, sortable table,
trend over past runs), and the history (runs/history.jsonl, one line per run) they are compared with."""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from typing import Any

from eval.compare import bootstrap_ci

HISTORY_FILE = "history.jsonl"


def summarise(samples: list[dict[str, Any]], metrics: list[str]) -> dict[str, dict[str, Any]]:
    """{metric: {mean, ci95, n (scored), nan (asked, no score)}}; NaN is counted, never averaged in."""
    summary: dict[str, dict[str, Any]] = {}
    for metric in metrics:
        asked = [s["scores"][metric] for s in samples if metric in s["scores"]]
        values = [v for v in asked if v is not None and not math.isnan(v)]
        if not asked:
            continue
        low, high = bootstrap_ci(values)
        summary[metric] = {
            "mean": round(sum(values) / len(values), 4) if values else None,
            "ci95": [round(low, 4), round(high, 4)] if values else None,
            "n": len(values),
            "nan": len(asked) - len(values),
        }
    return summary


# -- history ----------------------------------------------------------------------------------------


def read_history(runs: Path) -> list[dict[str, Any]]:
    path = runs / HISTORY_FILE
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def append_history(runs: Path, results: dict[str, Any]) -> None:
    entry = {
        key: results.get(key)
        for key in ("run_id", "name", "dataset", "started", "finished", "status", "duration_s", "samples_done")
    }
    entry["dir"] = results["dir"]
    entry["summary"] = {m: s["mean"] for m, s in results["summary"].items()}
    entry["gate"] = results.get("gate")
    with (runs / HISTORY_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def find_baseline(runs: Path, name: str, wanted: str, exclude: str) -> dict[str, Any] | None:
    """The baseline run's results: `previous` = the latest complete run of this name; `none`; or a run id."""
    if wanted == "none":
        return None
    entries = [e for e in read_history(runs) if e.get("run_id") != exclude]
    if wanted != "previous":
        entries = [e for e in entries if e.get("run_id") == wanted]
        if not entries:
            from rag.errors import ConfigError

            raise ConfigError(f"gate.baseline {wanted!r} is not a run in {runs / HISTORY_FILE}")
    else:
        entries = [e for e in entries if e.get("name") == name and e.get("status") == "complete"]
    if not entries:
        return None
    path = Path(entries[-1]["dir"]) / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# -- files ------------------------------------------------------------------------------------------


def write_reports(results: dict[str, Any], run_dir: Path, history: list[dict[str, Any]]) -> None:
    (run_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    (run_dir / "report.md").write_text(markdown_report(results), encoding="utf-8")
    (run_dir / "report.html").write_text(html_report(results, history), encoding="utf-8")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def markdown_report(results: dict[str, Any]) -> str:
    judge = results.get("judge", {})
    gate = results.get("gate") or {}
    baseline = results.get("baseline_summary") or {}
    lines = [
        f"# Evaluation {results['run_id']}",
        "",
        f"- status: **{results['status']}**, {results['samples_done']} of {results['samples_planned']} samples, "
        f"{results['duration_s']:.0f} s",
        f"- dataset: {results['dataset']} · pipeline: {results['pipeline']['llm']} over "
        f"{results['pipeline']['retriever']} (k={results['pipeline']['k']})",
        f"- judge: {judge.get('model')} — {judge.get('calls', 0)} calls, {judge.get('cached', 0)} from cache, "
        f"{judge.get('parse_failures', 0)} unparseable, {judge.get('errors', 0)} errors "
        f"(expected {results.get('expected_judge_calls')})",
        f"- gate: **{'pass' if gate.get('passed', True) else 'REGRESSION'}**"
        + (f" against {gate['baseline']}" if gate.get("baseline") else " (no baseline)"),
        "",
        "| metric | mean | 95% CI | scored | NaN | baseline | Δ |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric, stats in results["summary"].items():
        ci = stats.get("ci95")
        base = baseline.get(metric, {}).get("mean") if baseline else None
        delta = f"{stats['mean'] - base:+.4f}" if base is not None and stats["mean"] is not None else "—"
        lines.append(
            f"| {metric} | {_fmt(stats['mean'])} | {f'[{ci[0]:.3f}, {ci[1]:.3f}]' if ci else '—'} | "
            f"{stats['n']} | {stats['nan']} | {_fmt(base)} | {delta} |"
        )
    for failure in gate.get("failures", []):
        lines.append(f"\n- ✗ {failure}")
    worst = _worst(results)
    if worst:
        lines += ["", "## Lowest-scoring questions", ""]
        for sample, score in worst:
            lines.append(f"- `{sample['id']}` ({score:.2f}) {sample['question'][:110]}")
    timings = results.get("timings", {})
    if timings:
        lines += ["", "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())]
    return "\n".join(lines) + "\n"


def _worst(results: dict[str, Any], count: int = 5) -> list[tuple[dict[str, Any], float]]:
    scored = []
    for sample in results["samples"]:
        values = [v for v in sample["scores"].values() if v is not None]
        if values:
            scored.append((sample, sum(values) / len(values)))
    return sorted(scored, key=lambda item: item[1])[:count]


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    text = buffer.getvalue()
    return text[text.find("<svg") :]


def distribution_plot(results: dict[str, Any]) -> str:
    """One histogram per metric (scores in [0, 1])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m, s in results["summary"].items() if s["n"]]
    if not metrics:
        return ""
    columns = min(4, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        values = [s["scores"][metric] for s in results["samples"] if s["scores"].get(metric) is not None]
        ax.hist(values, bins=10, range=(0, 1), color="#4477aa", edgecolor="white")
        ax.set_title(f"{metric} (mean {results['summary'][metric]['mean']:.2f})", fontsize=9)
        ax.set_xlim(0, 1)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    figure.suptitle("Score distributions", fontsize=10)
    return _svg(figure)


def trend_plot(results: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """Mean per metric over the past complete runs of this name, this run last."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [e for e in history if e.get("name") == results["name"] and e.get("run_id") != results["run_id"]]
    runs = [e for e in runs if e.get("status") == "complete"][-29:]
    points = [*(e["summary"] for e in runs), {m: s["mean"] for m, s in results["summary"].items()}]
    labels = [*(e["run_id"][:15] for e in runs), results["run_id"][:15]]
    figure, ax = plt.subplots(figsize=(8, 3))
    for metric in results["summary"]:
        ys = [p.get(metric) for p in points]
        ax.plot(range(len(points)), [float("nan") if y is None else y for y in ys], marker="o", label=metric)
    ax.set_xticks(range(len(points)), labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Trend over {len(points)} run(s)", fontsize=10)
    ax.legend(fontsize=7, loc="lower left", ncol=3)
    return _svg(figure)


_SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const rows = Array.from(body.rows);
  const dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
  const key = r => { const t = r.cells[col].dataset.v ?? r.cells[col].textContent; const n = parseFloat(t);
                     return isNaN(n) ? t : n; };
  rows.sort((a, b) => { const x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * dir; });
  rows.forEach(r => body.appendChild(r));
}));
"""


def html_report(results: dict[str, Any], history: list[dict[str, Any]]) -> str:
    esc = html.escape
    metrics = list(results["summary"])
    summary_rows = "".join(
        f"<tr><td>{esc(m)}</td><td>{_fmt(s['mean'])}</td><td>{s['n']}</td><td>{s['nan']}</td></tr>"
        for m, s in results["summary"].items()
    )
    sample_rows = []
    for sample in results["samples"]:
        cells = "".join(
            f"<td data-v='{'' if sample['scores'].get(m) is None else sample['scores'][m]}'>"
            f"{_fmt(sample['scores'].get(m))}</td>"
            for m in metrics
        )
        sources = ", ".join(sorted({c["source"] for c in sample["contexts"]}))
        sample_rows.append(
            f"<tr><td>{esc(sample['id'])}</td><td>{esc(sample['question'])}</td>"
            f"<td>{esc(sample['answer'][:400])}</td><td>{esc(sources)}</td>{cells}</tr>"
        )
    gate = results.get("gate") or {}
    failures = "".join(f"<li>{esc(f)}</li>" for f in gate.get("failures", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation {esc(results["run_id"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 1200px; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }} td, th {{ border: 1px solid #ccc; padding: 4px 6px; }}
th {{ background: #f0f0f0; cursor: pointer; }} .fail {{ color: #b00; }} .pass {{ color: #070; }}
</style></head><body>
<h1>Evaluation {esc(results["run_id"])}</h1>
<p>Status <b>{esc(results["status"])}</b> · {results["samples_done"]} of {results["samples_planned"]} samples ·
{results["duration_s"]:.0f} s · dataset {esc(results["dataset"])} · judge {esc(str(results["judge"].get("model")))}
({results["judge"].get("calls", 0)} calls, {results["judge"].get("cached", 0)} cached)</p>
<p class="{"pass" if gate.get("passed", True) else "fail"}">Gate:
<b>{"pass" if gate.get("passed", True) else "regression"}</b></p><ul class="fail">{failures}</ul>
<h2>Metrics</h2>
<table><thead><tr><th>metric</th><th>mean</th><th>scored</th><th>NaN</th></tr></thead>
<tbody>{summary_rows}</tbody></table>
<h2>Distributions</h2><div class="plot" id="distributions">{distribution_plot(results)}</div>
<h2>Trend</h2><div class="plot" id="trend">{trend_plot(results, history)}</div>
<h2>Questions</h2><p>Click a column header to sort.</p>
<table class="sortable" id="samples"><thead><tr><th>id</th><th>question</th><th>answer</th><th>sources</th>
{"".join(f"<th>{esc(m)}</th>" for m in metrics)}</tr></thead>
<tbody>{"".join(sample_rows)}</tbody></table>
<script>{_SORT_SCRIPT}</script>
</body></html>
"""
