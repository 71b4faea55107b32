"""One chart slot of the explorer: an ``altair.JupyterChart`` (brush observable) or an ``Output``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import altair as alt
import ipywidgets as widgets

__all__ = ["ChartView", "spec_of"]

_ROWS = "obskit_rows"


def spec_of(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec of ``chart``, its inline rows moved to a named dataset untouched.

    ``to_dict`` walks every data row through altair's converters, most of a redraw's time;
    the rows of :func:`obskit.charts.lines_chart` are plain JSON values already. Other
    charts (no list of inline rows on the chart or its first layer) go through ``to_dict``.

    >>> import altair as alt
    >>> c = alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q")
    >>> spec = spec_of(c)
    >>> spec["data"], spec["datasets"]["obskit_rows"]
    ({'name': 'obskit_rows'}, [{'x': 1}])
    """
    holder = chart.layer[0] if isinstance(chart, alt.LayerChart) else chart
    data = getattr(holder, "data", None)
    values = getattr(data, "values", None) if isinstance(data, alt.Data) else None
    if not isinstance(holder, alt.Chart) or not isinstance(values, list):
        out: dict[str, Any] = chart.to_dict(validate=False)
        return out
    holder.data = alt.NamedData(name=_ROWS)
    try:
        spec: dict[str, Any] = chart.to_dict(validate=False)
    finally:
        holder.data = data
    spec.setdefault("datasets", {})[_ROWS] = values
    return spec


class ChartView:
    """One chart slot: an ``altair.JupyterChart`` (brush observable) or an ``Output`` widget."""

    def __init__(self, backend: str, on_brush: Callable[[Any], None]) -> None:
        self.backend = backend
        self._on_brush = on_brush
        self.chart: alt.TopLevelMixin | None = None
        self._jc: Any = None
        self._wired = False
        self.widget = widgets.VBox(layout=widgets.Layout(min_height="60px"))
        self.widget.add_class("obskit-explorer-chart")
        self._out: Any = None
        if backend == "output":
            self._out = widgets.Output()
            self.widget.children = (self._out,)

    def set(self, chart: Any) -> None:
        self.chart = chart
        if self.backend == "jupyterchart":
            params = getattr(chart, "params", None)
            brushed = isinstance(params, list) and any(getattr(p, "name", None) == "brush" for p in params)
            if self._jc is None:
                self._jc = alt.JupyterChart(chart, debounce_wait=400, max_wait=False)
                self.widget.children = (self._jc,)
            elif brushed and not self._wired:
                self._jc.chart = chart
            else:
                # Later charts only replace the spec, unvalidated: every chart of a view has the
                # same "brush" parameter, and altair's schema check walks every data row.
                self._jc.spec = spec_of(chart)
                return
            sel = getattr(self._jc, "selections", None)
            if sel is not None and "brush" in sel.trait_names():
                sel.observe(self._brushed, names=["brush"])
                self._wired = True
            return
        spec = spec_of(chart)
        # JupyterLab 4 renders Vega-Lite 5 natively; these v6 specs render there too.
        bundle = {"application/vnd.vegalite.v5+json": spec, "text/plain": "<obskit chart>"}
        self._out.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def _brushed(self, change: Mapping[str, Any]) -> None:
        value = getattr(change.get("new"), "value", None)
        if value:
            self._on_brush(value)
