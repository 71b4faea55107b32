"""Interactive investigation in JupyterLab: one ipywidgets app over the obskit analyses.

:func:`explore` opens an :class:`Explorer`: a time-range slider, model and version filters,
and one tab per question (traffic & latency, errors, GPU, drift, business & corrections,
the one timeline), each with drill-down tables of the requests behind the numbers.

Three layers, each testable on its own:

:mod:`obskit.explorer.data`
    :class:`ExplorerData`, the one data layer for a frame or a lazy scan of any size (a
    100M-request day): counts and latency state per window and ``(model, version)``
    built once at load, the selection (range, model, versions) and the drill-down rows
    (:mod:`obskit.explorer.drill`). Plain polars, no widgets.
:mod:`obskit.explorer.tabs`
    One pure function per tab: the data's selection to frames, charts (those of
    :mod:`obskit.charts`: gaps for missing windows, a 24-hour UTC axis, named GPU lines)
    and escaped HTML tables.
:mod:`obskit.explorer.app`
    The widget app: puts the tabs on screen and wires slider, filters, brushing and the
    flywheel action.

The explorer follows the reports' rules: any optional source may be absent (the tab says
what is missing and how to add it), every number comes from :mod:`obskit.analyze`.

Examples
--------
>>> ex = explore("data/samples/obskit.toml")  # doctest: +SKIP
>>> ex.set_range("2026-11-22T19:00:00Z", "2026-11-22T20:00:00Z")  # doctest: +SKIP
>>> ex.frames["traffic"]["stats"].select("window_start", "p99_ms")  # doctest: +SKIP
"""

from obskit.explorer.app import Explorer, has_jupyter_chart
from obskit.explorer.data import ExplorerData
from obskit.explorer.entry import explore
from obskit.explorer.tables import table_html
from obskit.explorer.tabs import TABS, TabOptions, TabResult, build

__all__ = ["TABS", "Explorer", "ExplorerData", "TabOptions", "TabResult", "build", "explore",
           "has_jupyter_chart", "table_html"]
