"""Report history: ``reports/index.html`` lists every run with trends of the key figures.

Each run of ``obskit report`` leaves ``<reports>/<day>/summary.json``. :func:`write_index`
reads them all and writes one static page (no JavaScript, inline SVG sparklines) with, per
day: status, key figures, the change against the previous day ("p99 +18% vs previous"),
and a link to the report. Every string that comes from a summary is escaped.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obskit.session import atomic_write_text

__all__ = ["FIGURES", "Run", "load_runs", "sparkline", "trend", "write_index"]

# (key in summary["figures"], label, format, "higher is worse")
FIGURES: tuple[tuple[str, str, str, bool], ...] = (
    ("requests", "Requests", "{:,.0f}", False),
    ("error_rate", "Error rate", "{:.2%}", True),
    ("p50_ms", "p50 ms", "{:.1f}", True),
    ("p99_ms", "p99 ms", "{:.1f}", True),
    ("correction_rate", "Correction rate", "{:.2%}", True),
    ("alerts_fired", "Alerts", "{:.0f}", True),
)


@dataclass(frozen=True)
class Run:
    """One day's report runs: the main summary (the health report's when there is one) and every page."""

    day: str
    folder: Path
    summary: dict[str, Any]
    pages: tuple[tuple[str, str], ...] = ()

    @property
    def figures(self) -> dict[str, Any]:
        f = self.summary.get("figures") or {}
        return f if isinstance(f, dict) else {}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return summary if isinstance(summary, dict) else None


def load_runs(root: str | Path) -> list[Run]:
    """Every day under ``root`` with a readable summary, oldest first.

    A day's folder holds ``summary.json`` (the health report) and ``<name>.summary.json``
    (the other reports, shipped or the user's own); hidden folders (a run in progress) are
    not days.
    """
    runs = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if Path(root).is_dir() else []:
        summaries = [(f, s) for f in [folder / "summary.json", *sorted(folder.glob("*.summary.json"))]
                     if f.is_file() and (s := _read(f)) is not None]
        if not summaries:
            continue
        main = summaries[0][1]
        pages = tuple((str(s.get("notebook") or f.name.removesuffix(".summary.json")), str(s["html"]))
                      for f, s in summaries if isinstance(s.get("html"), str))
        runs.append(Run(str(main.get("day") or folder.name), folder, main, pages))
    return sorted(runs, key=lambda r: r.day)


def trend(current: float | None, previous: float | None) -> str:
    """Relative change as text: ``"+18%"``, ``"-3%"``, ``"new"`` or ``""``.

    >>> trend(118.0, 100.0)
    '+18%'
    >>> trend(5.0, None)
    ''
    """
    if current is None or previous is None:
        return ""
    if previous == 0:
        return "new" if current else "0%"
    return f"{(current - previous) / abs(previous):+.0%}"


def sparkline(values: list[float | None], *, width: int = 120, height: int = 24) -> str:
    """A tiny inline SVG polyline of ``values`` (gaps for missing values).

    >>> sparkline([1.0, 2.0, 3.0]).startswith("<svg")
    True
    """
    pts = [(i, v) for i, v in enumerate(values) if isinstance(v, (int, float))]
    if not pts:
        return ""
    lo = min(v for _, v in pts)
    hi = max(v for _, v in pts)
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)
    coords = " ".join(f"{i / n * (width - 4) + 2:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}"
                      for i, v in pts)
    last_x, last_y = coords.split(" ")[-1].split(",")
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f'<polyline fill="none" stroke="#2563a6" stroke-width="1.5" points="{coords}"/>'
            f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="#2563a6"/></svg>')


def _cell(value: Any, fmt: str) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    return html.escape(fmt.format(value))


def render_index(runs: list[Run], *, title: str = "obskit reports") -> str:
    """The index page for ``runs`` (oldest first; shown newest first)."""
    series = {key: [r.figures.get(key) for r in runs] for key, *_ in FIGURES}
    spark_row = "".join(f"<td>{sparkline(series[k])}</td>" for k, *_ in FIGURES)
    rows = []
    for i in range(len(runs) - 1, -1, -1):
        run = runs[i]
        prev = runs[i - 1] if i > 0 else None
        cells = []
        for key, _label, fmt, worse_up in FIGURES:
            cur = run.figures.get(key)
            old = prev.figures.get(key) if prev else None
            t = trend(cur, old) if isinstance(cur, (int, float)) and isinstance(old, (int, float)) else ""
            cls = ""
            if t.startswith("+") and t != "+0%":
                cls = "bad" if worse_up else "good"
            elif t.startswith("-") and t != "-0%":
                cls = "good" if worse_up else "bad"
            note = f' <span class="{cls}">{html.escape(t)} vs previous</span>' if t else ""
            cells.append(f"<td>{_cell(cur, fmt)}{note}</td>")
        status = html.escape(str(run.summary.get("status", "ok")))
        link = html.escape(f"{run.folder.name}/{run.summary.get('html', 'health.html')}", quote=True)
        others = " ".join(
            f'<a href="{html.escape(f"{run.folder.name}/{page}", quote=True)}">{html.escape(name)}</a>'
            for name, page in run.pages if page != run.summary.get("html"))
        rows.append(f'<tr><td><a href="{link}">{html.escape(run.day)}</a></td>'
                    f'<td class="st-{status}">{status.replace("_", " ")}</td>{"".join(cells)}<td>{others}</td></tr>')
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _, _ in FIGURES)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #e3e3e3; padding: 6px 12px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} .bad {{ color: #a12a1f; font-size: 0.85em; }}
.good {{ color: #1e7b3a; font-size: 0.85em; }}
.st-degraded, .st-alerting, .st-slo_breached {{ color: #a12a1f; font-weight: 600; }}
.st-no_data, .st-unknown {{ color: #7a5200; font-weight: 600; }}
tr.trend td {{ border-bottom: 2px solid #ccc; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(runs)} run{"s" if len(runs) != 1 else ""}; newest first. Trends over all runs:</p>
<table><thead><tr><th>Day</th><th>Status</th>{head}<th>Reports</th></tr></thead>
<tbody><tr class="trend"><td>trend</td><td></td>{spark_row}<td></td></tr>
{"".join(rows)}
</tbody></table></body></html>
"""


def write_index(root: str | Path, *, title: str = "obskit reports") -> Path:
    """(Re)write ``<root>/index.html`` from every run's summary; returns its path."""
    runs = load_runs(root)
    path = Path(root) / "index.html"
    atomic_write_text(path, render_index(runs, title=title))
    return path
