"""Error rate, throughput and batch size per window, and the "above X for more than D" helper.

:func:`sustained` is the general piece: given any result frame with a ``window_start``
column, it returns the *episodes* where a column stayed beyond a threshold for at least
a duration, the way an alert rule with a ``for:`` clause would fire.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> f = pl.DataFrame({"window_start": [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in range(5)],
...                   "error_rate": [0.0, 0.02, 0.05, 0.03, 0.0]})
>>> sustained(f, "error_rate", ">", 0.01, for_="1m", every="1m").select("windows", "peak").row(0)
(3, 0.05)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import polars as pl

from obskit.analyze._frames import every_us, require, runs, window_expr
from obskit.analyze.promql import increase
from obskit.errors import AnalysisError

__all__ = ["batch_size", "error_rate", "sustained", "throughput", "top_errors"]

_OPS: dict[str, Callable[[pl.Expr, float], pl.Expr]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _counts(lf: pl.LazyFrame, every: str, by: Sequence[str]) -> pl.LazyFrame:
    is_err = pl.col("status").cast(pl.String) == "error"
    return (
        lf.select(window_expr(every), *by, is_err.alias("_err"))
        .group_by(["window_start", *by])
        .agg(pl.len().cast(pl.Int64).alias("requests"), pl.col("_err").sum().cast(pl.Int64).alias("errors"))
    )


def error_rate(
    requests: pl.DataFrame | pl.LazyFrame,
    every: str = "1m",
    *,
    window: str | None = None,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Share of failed requests per window, optionally over a sliding trailing window.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``, ``status``).
    every
        Step of the output (and window length when ``window`` is None).
    window
        ``None``: tumbling windows of ``every``. A duration (a multiple of ``every``):
        each row's rate covers the trailing ``window`` that ends at ``window_end``, like
        ``sum(rate(errors[5m])) / sum(rate(requests[5m]))`` evaluated every ``every``;
        small windows at low traffic make single errors look like bursts, a trailing
        window smooths them.
    by
        Grouping columns.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``window_end`` (the step), the ``by`` columns, ``requests`` and
        ``errors`` (in the rate's window), ``error_rate``. Steps without requests in the
        rate's window are absent.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> ts = [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (0, 0, 1, 1)]
    >>> r = pl.DataFrame({"timestamp": ts, "status": ["ok", "error", "ok", "ok"]})
    >>> error_rate(r)["error_rate"].to_list()
    [0.5, 0.0]
    >>> error_rate(r, window="2m")["error_rate"].to_list()
    [0.5, 0.25, 0.0]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", "status", *by], "error_rate")
    step = every_us(every)
    counts = _counts(lf, every, by).sort([*by, "window_start"]).collect()
    if window is not None:
        size = every_us(window)
        if size % step:
            raise AnalysisError(f"window {window!r} must be a multiple of every {every!r}")
        if size > step:
            # Every step that some trailing window covers gets a row.
            grid = (
                counts.select(
                    *by,
                    pl.int_ranges(0, size // step).alias("_k"),
                    pl.col("window_start"),
                )
                .explode("_k")
                .select(
                    *by,
                    (pl.col("window_start") + pl.duration(microseconds=pl.col("_k") * step)).alias("window_start"),
                )
                .unique()
            )
            counts = (
                grid.join(counts, on=["window_start", *by], how="left", nulls_equal=True)
                .with_columns(pl.col("requests", "errors").fill_null(0))
                .sort([*by, "window_start"])
            )
            roll = f"{size}us"

            def rolled(c: str) -> pl.Expr:
                e = pl.col(c).rolling_sum_by("window_start", roll)
                return e.over(list(by)) if by else e

            counts = counts.with_columns(rolled("requests"), rolled("errors")).filter(pl.col("requests") > 0)
    return (
        counts.with_columns(
            (pl.col("window_start") + pl.duration(microseconds=step)).alias("window_end"),
            (pl.col("errors") / pl.col("requests")).alias("error_rate"),
        )
        .select("window_start", "window_end", *by, "requests", "errors", "error_rate")
        .sort(["window_start", *by])
    )


def throughput(
    requests: pl.DataFrame | pl.LazyFrame,
    every: str = "1m",
    *,
    by: Sequence[str] = (),
    status: str | None = None,
) -> pl.DataFrame:
    """Requests per second per window.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``).
    every
        Window length.
    by
        Grouping columns.
    status
        ``"ok"`` for goodput (successful requests only), ``None`` for all.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``by`` columns, ``requests``, ``rps``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in range(30)]})
    >>> throughput(r, "1m").select("requests", "rps").row(0)
    (30, 0.5)
    """
    lf = requests.lazy()
    require(lf, ["timestamp", *by] + ([] if status is None else ["status"]), "throughput")
    if status is not None:
        lf = lf.filter(pl.col("status").cast(pl.String) == status)
    seconds = every_us(every) / 1e6
    return (
        lf.select(window_expr(every), *by)
        .group_by(["window_start", *by])
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .with_columns((pl.col("requests") / seconds).alias("rps"))
        .sort(["window_start", *by])
        .collect()
    )


def sustained(
    frame: pl.DataFrame,
    column: str,
    op: str,
    threshold: float,
    *,
    for_: str = "1m",
    every: str = "1m",
    by: Sequence[str] = (),
    time: str = "window_start",
) -> pl.DataFrame:
    """Episodes where ``column op threshold`` held for at least ``for_``, like an alert's ``for:``.

    Rows are evaluations at ``time`` (every ``every``). A run is a sequence of consecutive
    rows (no gap larger than ``every``) where the condition holds; null values and missing
    rows break it. A run counts when its evaluations span at least ``for_``: ``(rows - 1)
    * every >= for_``, i.e. the condition was true at the first evaluation and still true
    ``for_`` later, as Prometheus moves an alert from *pending* to *firing*.

    Parameters
    ----------
    frame
        Any result frame with ``time``, ``column`` and the ``by`` columns.
    column
        The value to test.
    op
        ``">"``, ``">="``, ``"<"`` or ``"<="``.
    threshold
        The bound.
    for_
        Minimum duration (``"0s"`` is not allowed; use ``every`` granularity).
    every
        Spacing of the rows.
    by
        Groups evaluated separately (e.g. ``("model_version",)``).
    time
        The time column.

    Returns
    -------
    polars.DataFrame
        One row per episode: the ``by`` columns, ``start`` (first row), ``end`` (last row
        + ``every``), ``fired_at`` (when the alert would fire: start + ``for_`` rounded up
        to a row), ``windows`` (rows in the run), ``duration_s``, ``peak`` (the most
        extreme value: max for ``>``/``>=``, min for ``<``/``<=``) and ``peak_at``.

    Raises
    ------
    AnalysisError
        Unknown ``op`` or missing columns.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"window_start": [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in range(6)],
    ...                   "x": [5.0, 0.0, 5.0, 6.0, 0.0, 9.0]})
    >>> ep = sustained(f, "x", ">", 1.0, for_="1m")
    >>> ep.select(pl.col("start").dt.minute(), pl.col("end").dt.minute(), "windows", "peak").rows()
    [(2, 4, 2, 6.0)]
    """
    if op not in _OPS:
        raise AnalysisError(f"unknown op {op!r}; use one of {', '.join(_OPS)}")
    require(frame, [time, column, *by], "sustained")
    step = every_us(every)
    need = math.ceil(every_us(for_) / step)
    cond = _OPS[op](pl.col(column), threshold)
    df = runs(frame, cond, time=time, by=by, max_gap_us=step).filter(pl.col("_run").is_not_null())
    peak = pl.col(column).max() if op in (">", ">=") else pl.col(column).min()
    peak_at = (
        pl.col(time).sort_by(column, descending=op in (">", ">=")).first()
    )
    out = (
        df.group_by([*by, "_run"])
        .agg(
            pl.col(time).min().alias("start"),
            pl.col(time).max().alias("_last"),
            pl.len().cast(pl.Int64).alias("windows"),
            peak.alias("peak"),
            peak_at.alias("peak_at"),
        )
        .filter(pl.col("windows") - 1 >= need)
        .with_columns(
            (pl.col("_last") + pl.duration(microseconds=step)).alias("end"),
            (pl.col("start") + pl.duration(microseconds=need * step)).alias("fired_at"),
            (pl.col("windows") * (step / 1e6)).alias("duration_s"),
        )
        .sort(["start", *by])
    )
    return out.select(*by, "start", "end", "fired_at", "windows", "duration_s", "peak", "peak_at")


def batch_size(
    metrics: pl.DataFrame,
    window: str = "5m",
    step: str = "1m",
    *,
    by: Sequence[str] = ("model", "version"),
) -> pl.DataFrame:
    """Average batch size executed by Triton: ``increase(nv_inference_count) / increase(nv_inference_exec_count)``.

    Parameters
    ----------
    metrics
        Raw counter samples (``nv_inference_count`` and ``nv_inference_exec_count``).
    window, step
        Range of the ``increase`` and spacing of the evaluation grid.
    by
        Label columns to keep (absent ones are ignored).

    Returns
    -------
    polars.DataFrame
        ``window_start`` (``T - window``), ``window_end`` (``T``), the ``by`` columns,
        ``inferences``, ``executions`` and ``batch_size`` (null without executions).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> ts = [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in range(6)]
    >>> m = pl.concat([pl.DataFrame({"timestamp": ts, "metric": "nv_inference_count",
    ...                              "value": [30.0 * i for i in range(6)]}),
    ...                pl.DataFrame({"timestamp": ts, "metric": "nv_inference_exec_count",
    ...                              "value": [10.0 * i for i in range(6)]})])
    >>> batch_size(m, window="5m", step="5m", by=())["batch_size"].to_list()
    [3.0]
    """
    require(metrics, ["timestamp", "metric", "value"], "batch_size")
    names = ("nv_inference_count", "nv_inference_exec_count")
    present = set(metrics.get_column("metric").unique().to_list())
    for n in names:
        if n not in present:
            raise AnalysisError(f"batch_size: no {n} samples in the metrics frame")
    keys = [c for c in by if c in metrics.columns]
    inc = increase(metrics.filter(pl.col("metric").is_in(names)), window=window, step=step, by=["metric", *keys])
    win = every_us(window)
    return (
        inc.group_by(["timestamp", *keys])
        .agg(
            pl.col("value").filter(pl.col("metric") == names[0]).sum().alias("inferences"),
            pl.col("value").filter(pl.col("metric") == names[1]).sum().alias("executions"),
        )
        .select(
            (pl.col("timestamp") - pl.duration(microseconds=win)).alias("window_start"),
            pl.col("timestamp").alias("window_end"),
            *keys,
            "inferences",
            "executions",
            pl.when(pl.col("executions") > 0).then(pl.col("inferences") / pl.col("executions")).alias("batch_size"),
        )
        .sort(["window_start", *keys])
    )


def top_errors(requests: pl.DataFrame | pl.LazyFrame, *, limit: int | None = None) -> pl.DataFrame:
    """The failed requests grouped by error message and status code, most frequent first.

    Parameters
    ----------
    requests
        A ``requests`` frame (``status``; ``error`` and ``status_code`` when present).
    limit
        Keep the first ``limit`` rows; None keeps all.

    Returns
    -------
    polars.DataFrame
        ``error``, ``status_code``, ``requests`` and ``share`` (of all failed requests).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"status": ["error", "ok", "error", "error"], "status_code": [503, 200, 503, 500],
    ...                    "error": ["restarting", None, "restarting", "OOM"]})
    >>> top_errors(df).rows()
    [('restarting', 503, 2, 0.6666666666666666), ('OOM', 500, 1, 0.3333333333333333)]
    """
    lf = requests.lazy()
    names = lf.collect_schema().names()
    keys = [pl.col(c) if c in names else pl.lit(None, dtype=pl.String).alias(c) for c in ("error", "status_code")]
    out = (
        lf.filter(pl.col("status").cast(pl.String) == "error")
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .with_columns((pl.col("requests") / pl.col("requests").sum()).alias("share"))
        .sort(["requests", "error"], descending=[True, False], nulls_last=True)
        .collect(engine="streaming")
    )
    return out.head(limit) if limit is not None else out
