"""Escaped HTML pieces of the explorer: drill-down tables and notes.

Examples
--------
>>> import polars as pl
>>> "&lt;script&gt;" in table_html(pl.DataFrame({"error": ["<script>x</script>"]}))
True
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import polars as pl

__all__ = ["cell_text", "note_html", "table_html"]


def cell_text(value: Any) -> str:
    """A table cell's text: times to the second, floats to 4 significant digits, None empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "NaN"
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def table_html(frame: pl.DataFrame, *, title: str = "", max_rows: int = 20, total: int | None = None,
               empty: str = "Nothing in the selected range.") -> str:
    """A small HTML table of ``frame``; every header, cell and title is HTML-escaped.

    Parameters
    ----------
    frame
        The rows to show (only the first ``max_rows``).
    title
        Caption above the table.
    max_rows
        Most rows shown.
    total
        Rows behind the table (default ``frame.height``), shown in the caption when larger.
    empty
        Text shown instead of an empty table.

    Returns
    -------
    str
        An HTML fragment (a table that scrolls sideways when wide).
    """
    n = frame.height if total is None else total
    cap = html.escape(title)
    if n > min(max_rows, frame.height):
        cap += html.escape(f" (first {min(max_rows, frame.height):,} of {n:,})")
    head = f"<div class='obskit-drill-title' style='font-weight:600;margin:6px 0 2px'>{cap}</div>" if cap else ""
    if frame.is_empty():
        return f'<div class="obskit-drill">{head}<p style="color:#666">{html.escape(empty)}</p></div>'
    style = "border-collapse:collapse;font-size:12px;font-family:monospace"
    th = "".join(f"<th style='text-align:left;border-bottom:1px solid #999;padding:2px 8px'>{html.escape(c)}</th>"
                 for c in frame.columns)
    body = []
    for row in frame.head(max_rows).iter_rows():
        tds = "".join(f"<td style='padding:1px 8px;border-bottom:1px solid #eee'>{html.escape(cell_text(v))}</td>"
                      for v in row)
        body.append(f"<tr>{tds}</tr>")
    return (f'<div class="obskit-drill" style="overflow-x:auto;max-width:100%">{head}'
            f'<table class="obskit-table" style="{style}">'
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def note_html(text: str, kind: str = "info") -> str:
    """An escaped note box (``kind``: info, warning, error)."""
    colors = {"info": "#eef4fb", "warning": "#fff6e0", "error": "#fdecea"}
    return (f"<div style='background:{colors.get(kind, colors['info'])};padding:6px 10px;border-radius:4px;"
            f"margin:4px 0'>{html.escape(text)}</div>")
