"""Small HTML views for notebooks and reports (every value escaped)."""

from __future__ import annotations

import html
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
