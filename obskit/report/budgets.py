"""The error-budget table of the Latency section, from the rows or from a rollup alike.

>>> import polars as pl
>>> from obskit.report.section import Section
>>> sec = show_budgets(Section("Latency"), pl.DataFrame({"slo": ["p99 < 120 ms"], "budget_remaining": [-0.2]}))
>>> sec.status, sec.reason
('warning', 'error budget spent: p99 < 120 ms')
"""

from __future__ import annotations

import polars as pl

from obskit.report.section import Section

__all__ = ["show_budgets"]


def show_budgets(sec: Section, budgets: pl.DataFrame) -> Section:
    """The budgets table of the latency section, and a warning when one is spent."""
    sec.table(budgets, formats={"budget_remaining": "{:.1%}"}, caption="Error budget left at the end of the period",
              name="budgets")
    spent = budgets.filter(pl.col("budget_remaining") < 0)["slo"].to_list()
    if spent:
        sec.warn(f"error budget spent: {', '.join(spent)}")
    return sec
