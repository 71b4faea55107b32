"""Small HTML views for notebooks and reports (every value escaped)."""

from __future__ import annotations

import html
import json
from datetime import date, datetime
from typing import Any

import polars as pl

__all__ = ["key_figures", "kpi_html", "note"]


def key_figures(requests: pl.DataFrame, *, slo_ms: float, slo_quantile: float = 0.99) -> dict[str, Any]:
    """Headline numbers of a ``requests`` frame for the summary and the KPI strip.

    >>> import polars as pl
    >>> df = pl.DataFrame({"latency_ms": [10.0, 30.0], "status": ["ok", "error"]})
    >>> key_figures(df, slo_ms=20.0)["error_rate"]
    0.5
    """
    n = requests.height
    if n == 0:
        return {"requests": 0}
    lat = requests["latency_ms"]

    def q(p: float) -> float:
        v = lat.quantile(p, "linear")
        return float(v) if isinstance(v, (int, float)) else 0.0

    errors = int((requests["status"].cast(pl.String) == "error").sum())
    return {
        "requests": n,
        "errors": errors,
        "error_rate": errors / n,
        "p50_ms": q(0.5),
        "p99_ms": q(0.99),
        f"slo_p{slo_quantile * 100:g}_ms": slo_ms,
        "slo_latency_met_share": int((lat <= slo_ms).sum()) / n,
    }


def kpi_html(figures: dict[str, Any]) -> str:
    """A one-line strip of headline numbers."""
    if not figures.get("requests"):
        return "<p>No requests in this period.</p>"
    cells = [
        ("Requests", f"{figures['requests']:,}"),
        ("Error rate", f"{figures['error_rate']:.2%}"),
        ("p50", f"{figures['p50_ms']:.1f} ms"),
        ("p99", f"{figures['p99_ms']:.1f} ms"),
    ]
    tds = "".join(f"<td><div style='font-size:0.8em;color:#666'>{html.escape(k)}</div>"
                  f"<div style='font-size:1.4em;font-weight:600'>{html.escape(v)}</div></td>" for k, v in cells)
    return f"<table class='obskit-table'><tr>{tds}</tr></table>"


def note(text: str, *, kind: str = "info") -> str:
    """An escaped note box (``kind``: info, warning, error)."""
    colors = {"info": "#eef4fb", "warning": "#fff6e0", "error": "#fdecea"}
    bg = colors.get(kind, colors["info"])
    return f"<div style='background:{bg};padding:8px 12px;border-radius:4px'>{html.escape(text)}</div>"


#: The most characters of one table cell a page shows (the rest is counted, not shown).
CELL_CHARS = 500


def table_html(frame: pl.DataFrame, *, formats: dict[str, str] | None = None, max_rows: int = 50,
               caption: str = "") -> str:
    """A small frame as an escaped HTML table; ``formats`` maps column -> ``str.format`` spec.

    >>> import polars as pl
    >>> out = table_html(pl.DataFrame({"a": ["<b>"], "x": [0.123]}), formats={"x": "{:.1%}"})
    >>> out[out.index("<tbody>"):]
    '<tbody><tr><td>&lt;b&gt;</td><td>12.3%</td></tr></tbody></table></div>'
    >>> "… (10,000 characters)" in table_html(pl.DataFrame({"error": ["E" * 10_000]}))
    True
    """
    fmts = formats or {}

    def cell(col: str, v: Any) -> str:
        if v is None:
            return "–"
        if col in fmts:
            try:
                return html.escape(fmts[col].format(v))
            except (ValueError, TypeError):
                return html.escape(str(v))
        if isinstance(v, float):
            return html.escape(f"{v:.4g}")
        if isinstance(v, date) and not isinstance(v, datetime):
            return html.escape(v.isoformat())
        if hasattr(v, "strftime"):
            return html.escape(v.strftime("%Y-%m-%d %H:%M"))
        text = str(v)
        if len(text) > CELL_CHARS:  # a 50 MB error message must not become a 50 MB page
            text = f"{text[:CELL_CHARS]}… ({len(text):,} characters)"
        return html.escape(text).replace("\n", "<br>")  # escaped first: a line break is all it adds

    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(c, v)}</td>" for c, v in zip(frame.columns, row, strict=True)) + "</tr>"
        for row in frame.head(max_rows).iter_rows()
    )
    more = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    extra = f"<p>… {frame.height - max_rows} more rows</p>" if frame.height > max_rows else ""
    return (f"<div class='obskit-table-wrap' style='overflow-x:auto;max-width:100%'><table class='obskit-table'>"
            f"{more}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{extra}")


def _subject_cell(subject: str | None) -> str:
    """``name=value`` pairs of an alert's subject (JSON object text)."""
    try:
        found = json.loads(subject or "{}")
    except ValueError:
        return ""
    return ", ".join(f"{k}={v}" for k, v in found.items()) if isinstance(found, dict) else ""


def _where_cell(hints: str | None, explained: str | None) -> str:
    """The top segments of an alert, one per line, or why there are none."""
    try:
        found = json.loads(hints or "[]")
    except ValueError:
        found = []
    lines = [str(h.get("text", "")) for h in found if isinstance(h, dict)]
    return "\n".join(lines) if lines else (explained or "")


def alerts_html(run: Any) -> str:
    """What fired, when, how bad — the alert summary at the top of a report."""
    if run is None:
        return note("Alerts were not evaluated: the request logs could not be loaded.", kind="warning")
    fired = run.fired
    n_rules = len(run.rules)
    skipped = "".join(f"<li>{html.escape(s['rule'])}: {html.escape(s['reason'])}</li>" for s in run.skipped)
    skipped_html = f"<p>Not evaluated:</p><ul>{skipped}</ul>" if skipped else ""
    if fired.height == 0:
        return note(f"No alert fired in this period ({n_rules} rules backtested).") + skipped_html
    cols = ["severity", "rule", "labels", "subject", "hints", "explained", "firing_at", "complete_at", "resolved_at",
            "peak_value", "summary"]
    rows = fired.sort("firing_at").select([c for c in cols if c in fired.columns])
    if "subject" in rows.columns:  # what it is about, and the segments that explain it (alerts.explain)
        rows = rows.with_columns(
            pl.Series("subject", [_subject_cell(v) for v in rows["subject"].to_list()], pl.String),
            pl.Series("where", [_where_cell(h, e) for h, e in zip(rows["hints"].to_list(),
                                                                   rows["explained"].to_list(), strict=True)],
                      pl.String),
        ).drop("labels", "hints", "explained")
    rows = rows.with_columns(
        pl.col("firing_at").dt.strftime("%Y-%m-%d %H:%M"),
        *([pl.col("complete_at").dt.strftime("%H:%M").alias("data complete")] if "complete_at" in rows.columns
          else []),
        pl.col("resolved_at").dt.strftime("%Y-%m-%d %H:%M").fill_null("still firing"),
        *([pl.when(pl.col("labels") == "{}").then(pl.lit("")).otherwise(pl.col("labels")).alias("labels")]
          if "labels" in rows.columns else []),
    )
    rows = rows.drop("complete_at", strict=False)
    order = ["severity", "rule", "labels", "subject", "where", "firing_at", "data complete", "resolved_at",
             "peak_value", "summary"]
    rows = rows.select([c for c in order if c in rows.columns] + [c for c in rows.columns if c not in order])
    head = note(f"{fired.height} alert(s) fired in this period ({n_rules} rules backtested). 'data complete' is "
                "when the data behind an alert existed: the earliest a live system could have raised it.",
                kind="error")
    return head + table_html(rows, formats={"peak_value": "{:.4g}"}) + skipped_html
