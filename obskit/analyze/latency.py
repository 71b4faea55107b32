"""Latency per time window: exact percentiles from requests, Triton summaries, queue vs compute.

Three sources, three functions, one output shape (``window_start`` + labels + values):

:func:`latency_percentiles`
    Exact order-statistic percentiles of the ``requests`` frame per window, with linear
    interpolation (``numpy.quantile(..., method="linear")``), like
    :func:`obskit.analyze.serving.window_stats` but only the latency columns.
:func:`summary_quantiles`
    The quantiles Triton already computed (``nv_inference_*_summary_us``), one row per
    scrape, in milliseconds.
:func:`triton_latency_breakdown`
    Average request, queue and compute time per request over a sliding window, from
    Triton's cumulative ``nv_inference_*_duration_us`` counters divided by the request
    count (success + failure), with PromQL ``increase`` semantics (counter resets handled).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> df = pl.DataFrame({
...     "timestamp": [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in range(5)],
...     "latency_ms": [10.0, 20.0, 30.0, 40.0, 50.0],
... })
>>> latency_percentiles(df, every="1m", by=(), quantiles=(0.5, 0.9)).row(0)[1:]
(5, 30.0, 30.0, 46.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from obskit.analyze._frames import every_us, require, window_expr
from obskit.analyze.promql import increase
from obskit.analyze.serving import quantile_column
from obskit.errors import AnalysisError

__all__ = [
    "LATENCY_QUANTILES",
    "latency_percentiles",
    "summary_quantiles",
    "triton_latency_breakdown",
]

LATENCY_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)

_NOT_LABELS = {"timestamp", "metric", "value", "family", "quantile", "le", "__name__"}


def latency_percentiles(
    requests: pl.DataFrame | pl.LazyFrame,
    every: str = "5m",
    by: Sequence[str] = ("model", "model_version"),
    quantiles: Sequence[float] = LATENCY_QUANTILES,
    *,
    status: str | None = None,
) -> pl.DataFrame:
    """Exact latency percentiles per window (and per ``by`` group).

    Parameters
    ----------
    requests
        A ``requests`` frame (needs ``timestamp``, ``latency_ms`` and the ``by`` columns).
    every
        Window length (``"1m"``, ``"5m"``, ``"1h"``); windows start on multiples of it
        since the epoch (UTC).
    by
        Grouping columns; ``()`` for one series.
    quantiles
        Quantiles in (0, 1); columns are named by :func:`~obskit.analyze.serving.quantile_column`
        (``0.99`` -> ``p99_ms``, ``0.999`` -> ``p99.9_ms``).
    status
        ``"ok"`` or ``"error"`` to keep only those requests (needs ``status``); ``None``
        (default) uses every request, as ``window_stats`` does.

    Returns
    -------
    polars.DataFrame
        ``window_start``, the ``by`` columns, ``requests``, ``mean_ms`` and one column per
        quantile, sorted by window then group. Windows without requests are absent.

    Raises
    ------
    AnalysisError
        A column is missing, a quantile is outside (0, 1), or ``every`` is invalid.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> df = pl.DataFrame({"timestamp": [t] * 4, "model_version": ["a", "a", "a", "b"],
    ...                    "latency_ms": [1.0, 2.0, 4.0, 8.0]})
    >>> latency_percentiles(df, by=("model_version",), quantiles=(0.5,))["p50_ms"].to_list()
    [2.0, 8.0]
    """
    for q in quantiles:
        if not 0 < q < 1:
            raise AnalysisError(f"quantile must be in (0, 1), got {q}")
    lf = requests.lazy()
    need = ["timestamp", "latency_ms", *by] + (["status"] if status is not None else [])
    require(lf, need, "latency_percentiles")
    if status is not None:
        lf = lf.filter(pl.col("status").cast(pl.String) == status)
    lat = pl.col("latency_ms")
    out = (
        lf.select(window_expr(every), *by, lat)
        .group_by(["window_start", *by])
        .agg(
            pl.len().cast(pl.Int64).alias("requests"),
            lat.mean().alias("mean_ms"),
            *[lat.quantile(q, interpolation="linear").alias(quantile_column(q)) for q in quantiles],
        )
        .sort(["window_start", *by])
        .collect()
    )
    return out


def _labels(frame: pl.DataFrame) -> list[str]:
    """Label columns that carry at least one value in ``frame``."""
    return [c for c in frame.columns if c not in _NOT_LABELS and frame.get_column(c).null_count() < frame.height]


def summary_quantiles(metrics: pl.DataFrame, *, phase: str | None = None) -> pl.DataFrame:
    """Triton's own latency quantiles (``nv_inference_<phase>_summary_us``) in milliseconds.

    Triton exposes summaries (``--metrics-config summary_latencies=true``) whose quantiles
    cover a sliding time window; ``_count`` and ``_sum`` are cumulative counters.

    Parameters
    ----------
    metrics
        A metrics frame holding summary samples: the quantile rows (``metric`` =
        ``nv_inference_request_summary_us`` with a ``quantile`` label) and optionally the
        ``_count``/``_sum`` rows, e.g. from ``load_prometheus_text``.
    phase
        Keep one phase (``"request"``, ``"queue"``, ``"compute_infer"``, ...); default all.

    Returns
    -------
    polars.DataFrame
        ``window_start`` (the sample time), ``phase``, the label columns (``model``,
        ``version``, ...), ``count`` and ``mean_ms`` (cumulative ``_sum / _count``, null
        without them) and one ``pXX_ms`` column per quantile found. Empty summaries
        (NaN quantiles) stay NaN.

    Raises
    ------
    AnalysisError
        A required column is missing or there are no summary samples.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> m = pl.DataFrame({"timestamp": [t] * 4,
    ...     "metric": ["nv_inference_queue_summary_us"] * 2 + ["nv_inference_queue_summary_us_" + s
    ...                                                       for s in ("count", "sum")],
    ...     "value": [120.0, 900.0, 10.0, 3000.0], "quantile": ["0.5", "0.99", None, None],
    ...     "model": ["m"] * 4})
    >>> summary_quantiles(m).row(0)[1:]
    ('queue', 'm', 10, 0.3, 0.12, 0.9)
    """
    require(metrics, ["timestamp", "metric", "value"], "summary_quantiles")
    pattern = r"^nv_inference_(.+)_summary_us(_count|_sum)?$"
    df = metrics.filter(pl.col("metric").str.contains(pattern)).with_columns(
        pl.col("metric").str.extract(pattern, 1).alias("phase"),
        pl.col("metric").str.extract(pattern, 2).fill_null("").alias("_part"),
    )
    if phase is not None:
        df = df.filter(pl.col("phase") == phase)
    if df.is_empty():
        raise AnalysisError("summary_quantiles: no nv_inference_*_summary_us samples in the metrics frame")
    labels = [c for c in _labels(df) if c not in ("phase", "_part")]
    keys = ["timestamp", "phase", *labels]
    if "quantile" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("quantile"))
    qrows = df.filter((pl.col("_part") == "") & pl.col("quantile").is_not_null())
    qvalues = sorted({float(q) for q in qrows.get_column("quantile").unique().to_list()})
    wide = qrows.with_columns(pl.col("quantile").cast(pl.Float64).alias("_q")).group_by(keys).agg(
        *[
            (pl.col("value").filter(pl.col("_q") == q).first() / 1000.0).alias(quantile_column(q))
            for q in qvalues
        ]
    )
    extra = df.filter(pl.col("_part") != "").group_by(keys).agg(
        pl.col("value").filter(pl.col("_part") == "_count").first().alias("_count"),
        pl.col("value").filter(pl.col("_part") == "_sum").first().alias("_sum"),
    )
    out = wide.join(extra, on=keys, how="full", coalesce=True, nulls_equal=True).with_columns(
        pl.col("_count").cast(pl.Int64, strict=False).alias("count"),
        pl.when(pl.col("_count") > 0).then(pl.col("_sum") / pl.col("_count") / 1000.0).alias("mean_ms"),
    )
    cols = ["timestamp", "phase", *labels, "count", "mean_ms", *[quantile_column(q) for q in qvalues]]
    return out.select(cols).rename({"timestamp": "window_start"}).sort(["window_start", "phase", *labels])


_PHASES = {
    "request": "nv_inference_request_duration_us",
    "queue": "nv_inference_queue_duration_us",
    "compute_input": "nv_inference_compute_input_duration_us",
    "compute_infer": "nv_inference_compute_infer_duration_us",
    "compute_output": "nv_inference_compute_output_duration_us",
}
_COUNTS = ("nv_inference_request_success", "nv_inference_request_failure")


def triton_latency_breakdown(
    metrics: pl.DataFrame,
    window: str = "5m",
    step: str = "1m",
    *,
    by: Sequence[str] = ("model", "version"),
) -> pl.DataFrame:
    """Average request, queue and compute time per request from Triton's cumulative counters.

    For each evaluation time ``T`` on a ``step`` grid, ``increase(x[window])`` of every
    ``nv_inference_*_duration_us`` counter is divided by the increase of the request count
    (``nv_inference_request_success`` + ``nv_inference_request_failure``, all reasons),
    summed by ``by``. Counter resets (a Triton restart) are handled as PromQL does.

    Parameters
    ----------
    metrics
        Raw counter samples in a metrics frame (e.g. a saved ``query_range`` response).
    window, step
        Range of the ``increase`` and spacing of the evaluation grid.
    by
        Label columns to keep (those absent from the frame are ignored).

    Returns
    -------
    polars.DataFrame
        ``window_start`` (``T - window``), ``window_end`` (``T``), the ``by`` columns,
        ``requests`` (increase of the count), ``request_ms``, ``queue_ms``,
        ``compute_ms`` (input + infer + output, whichever are present), ``other_ms``
        (request - queue - compute: network, (de)serialisation, scheduling) and
        ``queue_share`` (queue / request). Averages are null where no request finished.

    Raises
    ------
    AnalysisError
        The frame lacks the request-duration counter or the success counter.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> ts = [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in range(0, 6)]
    >>> def counter(name, per_min):
    ...     return pl.DataFrame({"timestamp": ts, "metric": name, "value": [per_min * i for i in range(6)]})
    >>> m = pl.concat([counter("nv_inference_request_success", 10.0),
    ...                counter("nv_inference_request_duration_us", 200_000.0),
    ...                counter("nv_inference_queue_duration_us", 50_000.0),
    ...                counter("nv_inference_compute_infer_duration_us", 120_000.0)])
    >>> triton_latency_breakdown(m, window="5m", step="5m", by=()).select(
    ...     "requests", "request_ms", "queue_ms", "compute_ms", "other_ms").row(0)
    (50.0, 20.0, 5.0, 12.0, 3.0)
    """
    require(metrics, ["timestamp", "metric", "value"], "triton_latency_breakdown")
    present = set(metrics.get_column("metric").unique().to_list())
    for needed in (_PHASES["request"], _COUNTS[0]):
        if needed not in present:
            raise AnalysisError(f"triton_latency_breakdown: no {needed} samples in the metrics frame")
    keys = [c for c in by if c in metrics.columns]
    wanted = [m for m in (*_PHASES.values(), *_COUNTS) if m in present]
    src = metrics.filter(pl.col("metric").is_in(wanted))
    inc = increase(src, window=window, step=step, by=["metric", *keys])
    wide = inc.group_by(["timestamp", *keys]).agg(
        *[pl.col("value").filter(pl.col("metric") == m).sum().alias(m) for m in wanted]
    )
    n = pl.col(_COUNTS[0]) + (pl.col(_COUNTS[1]) if _COUNTS[1] in wanted else pl.lit(0.0))

    def per_request(cols: list[str]) -> pl.Expr:
        cols = [c for c in cols if c in wanted]
        if not cols:
            return pl.lit(None, dtype=pl.Float64)
        total = pl.sum_horizontal([pl.col(c) for c in cols])
        return pl.when(n > 0).then(total / n / 1000.0).otherwise(None)

    compute = [_PHASES["compute_input"], _PHASES["compute_infer"], _PHASES["compute_output"]]
    win = every_us(window)
    out = wide.select(
        (pl.col("timestamp") - pl.duration(microseconds=win)).alias("window_start"),
        pl.col("timestamp").alias("window_end"),
        *keys,
        n.alias("requests"),
        per_request([_PHASES["request"]]).alias("request_ms"),
        per_request([_PHASES["queue"]]).alias("queue_ms"),
        per_request(compute).alias("compute_ms"),
    ).with_columns(
        (pl.col("request_ms") - pl.col("queue_ms").fill_null(0.0) - pl.col("compute_ms").fill_null(0.0)).alias(
            "other_ms"
        ),
        pl.when(pl.col("request_ms") > 0).then(pl.col("queue_ms") / pl.col("request_ms")).alias("queue_share"),
    )
    return out.sort(["window_start", *keys])
