"""Service level objectives: compliance per window, error budget, multi-window burn-rate alerts.

An SLO here is a *ratio* objective: the share of good events must stay at or above
``objective``. Two SLIs come from the ``requests`` frame:

latency
    good = the request finished within ``threshold_ms`` (objective: the latency quantile,
    e.g. 0.99 for "p99 <= 120 ms").
availability
    good = the request succeeded (``status == "ok"``).

Both give the same frame: ``window_start``, group columns, ``sli``, ``total``, ``good``,
``bad``, ``good_share``, ``objective``, ``met`` and ``burn_rate`` (bad share divided by the
allowed bad share ``1 - objective``: 1 spends the budget exactly over the SLO period).

:func:`burn_rate_alerts` evaluates the multi-window, multi-burn-rate rules of the Google
SRE workbook ("Alerting on SLOs"): an alert fires when the burn rate is at least
``factor`` over *both* a long and a short trailing window. Defaults: page at 14.4x over
1 h and 5 min, ticket at 6x over 6 h and 30 min (for a 30-day SLO period, 2 % and 5 % of
the budget).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = pl.DataFrame({"timestamp": [t] * 4, "latency_ms": [50.0, 80.0, 150.0, 90.0],
...                   "status": ["ok", "ok", "ok", "error"]})
>>> latency_slo(r, threshold_ms=100, objective=0.9).select("good_share", "met", pl.col("burn_rate").round(6)).row(0)
(0.75, False, 2.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from obskit.analyze._frames import every_us, require, window_expr
from obskit.errors import AnalysisError

__all__ = [
    "DEFAULT_BURN_RULES",
    "BurnRateRule",
    "availability_slo",
    "burn_rate_alerts",
    "error_budget",
    "latency_slo",
    "period_budgets",
    "slo_from_counts",
]


@dataclass(frozen=True)
class BurnRateRule:
    """One multi-window burn-rate alert: fire when burn >= ``factor`` over both windows.

    >>> BurnRateRule("1h", "5m", 14.4, "page").name
    'page_1h_5m'
    """

    long: str
    short: str
    factor: float
    severity: str

    @property
    def name(self) -> str:
        """Column name of the rule's boolean in :func:`burn_rate_alerts` output."""
        return f"{self.severity}_{self.long}_{self.short}"


DEFAULT_BURN_RULES: tuple[BurnRateRule, ...] = (
    BurnRateRule("1h", "5m", 14.4, "page"),
    BurnRateRule("6h", "30m", 6.0, "ticket"),
)


def _ratio_slo(
    lf: pl.LazyFrame, good: pl.Expr, *, sli: str, objective: float, every: str, by: Sequence[str]
) -> pl.DataFrame:
    if not 0 < objective < 1:
        raise AnalysisError(f"objective must be in (0, 1), got {objective}")
    counts = (
        lf.select(window_expr(every), *by, good.fill_null(False).alias("_good"))
        .group_by(["window_start", *by])
        .agg(pl.len().cast(pl.Int64).alias("total"), pl.col("_good").sum().cast(pl.Int64).alias("good"))
        .collect(engine="streaming")
    )
    return slo_from_counts(counts, sli=sli, objective=objective, by=by)


def slo_from_counts(counts: pl.DataFrame, *, sli: str, objective: float, by: Sequence[str] = ()) -> pl.DataFrame:
    """An SLO frame (see the module docstring) from ``total`` and ``good`` requests per window.

    The one place compliance and burn rate are decided: :func:`latency_slo` and
    :func:`availability_slo` count rows into it, a report reads a window state's counts
    (requests within the SLO, successful requests) into it.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame({"window_start": [datetime(2026, 1, 1, tzinfo=UTC)], "total": [200], "good": [197]})
    >>> slo_from_counts(c, sli="availability", objective=0.99).select("met", pl.col("burn_rate").round(6)).row(0)
    (False, 1.5)
    """
    if not 0 < objective < 1:
        raise AnalysisError(f"objective must be in (0, 1), got {objective}")
    out = (
        counts.with_columns(pl.col("total").cast(pl.Int64), pl.col("good").cast(pl.Int64))
        .with_columns((pl.col("total") - pl.col("good")).alias("bad"))
        .with_columns(
            pl.lit(sli).alias("sli"),
            (pl.col("good") / pl.col("total")).alias("good_share"),
            pl.lit(objective).alias("objective"),
        )
        .with_columns(
            (pl.col("good_share") >= objective).alias("met"),
            ((1.0 - pl.col("good_share")) / (1.0 - objective)).alias("burn_rate"),
        )
        .sort(["window_start", *by])
    )
    return out.select(
        "window_start", *by, "sli", "total", "good", "bad", "good_share", "objective", "met", "burn_rate"
    )


def latency_slo(
    requests: pl.DataFrame | pl.LazyFrame,
    threshold_ms: float,
    objective: float = 0.99,
    *,
    every: str = "5m",
    by: Sequence[str] = (),
    include_errors: bool = True,
) -> pl.DataFrame:
    """Latency SLO compliance per window: share of requests with ``latency_ms <= threshold_ms``.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``, ``latency_ms``; ``status`` if
        ``include_errors`` is False).
    threshold_ms
        The latency objective, e.g. 120.
    objective
        Required good share, normally the SLO quantile (0.99 for a p99 objective).
    every
        Window length.
    by
        Grouping columns.
    include_errors
        Count failed requests too (default, as the p99 of ``window_stats`` does);
        False judges only successful requests.

    Returns
    -------
    polars.DataFrame
        See the module docstring; ``sli`` is ``"latency"``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "latency_ms": [1.0, 500.0]})
    >>> latency_slo(r, 100.0)["bad"].to_list()
    [1]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", "latency_ms", *by] + ([] if include_errors else ["status"]), "latency_slo")
    if not include_errors:
        lf = lf.filter(pl.col("status").cast(pl.String) == "ok")
    good = pl.col("latency_ms") <= threshold_ms
    return _ratio_slo(lf, good, sli="latency", objective=objective, every=every, by=by)


def availability_slo(
    requests: pl.DataFrame | pl.LazyFrame,
    objective: float = 0.99,
    *,
    every: str = "5m",
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Availability SLO compliance per window: share of requests with ``status == "ok"``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 4,
    ...                   "status": ["ok", "ok", "ok", "error"]})
    >>> availability_slo(r, 0.99).select("good_share", "met", pl.col("burn_rate").round(6)).row(0)
    (0.75, False, 25.0)
    """
    lf = requests.lazy()
    require(lf, ["timestamp", "status", *by], "availability_slo")
    good = pl.col("status").cast(pl.String) == "ok"
    return _ratio_slo(lf, good, sli="availability", objective=objective, every=every, by=by)


def _groups(slo: pl.DataFrame) -> list[str]:
    fixed = {"window_start", "sli", "total", "good", "bad", "good_share", "objective", "met", "burn_rate"}
    return [c for c in slo.columns if c not in fixed and not c.startswith(("burn_", "page", "ticket"))]


def _objective(slo: pl.DataFrame) -> float:
    require(slo, ["window_start", "total", "bad", "objective"], "SLO frame")
    values = slo.get_column("objective").unique().to_list()
    if len(values) != 1:
        raise AnalysisError(f"SLO frame mixes objectives {values}; evaluate one SLO at a time")
    return float(values[0])


def error_budget(slo: pl.DataFrame) -> pl.DataFrame:
    """Error budget spent and remaining, cumulated window by window over the period.

    The budget of a period is ``(1 - objective) * total requests``; ``budget_remaining``
    is ``1 - bad / budget`` (1: untouched, 0: spent, negative: overspent). The last row
    of each group is the whole period.

    Parameters
    ----------
    slo
        Output of :func:`latency_slo` or :func:`availability_slo` (one objective).

    Returns
    -------
    polars.DataFrame
        ``window_start``, group columns, ``total_to_date``, ``bad_to_date``,
        ``allowed_bad``, ``budget_spent`` (share of the budget) and ``budget_remaining``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (0, 0, 5, 5)],
    ...                   "status": ["ok", "ok", "ok", "error"]})
    >>> error_budget(availability_slo(r, 0.5))["budget_remaining"].to_list()
    [1.0, 0.5]
    """
    objective = _objective(slo)
    keys = _groups(slo)
    cum = (lambda e: e.cum_sum().over(keys)) if keys else (lambda e: e.cum_sum())
    return (
        slo.sort([*keys, "window_start"])
        .select(
            "window_start",
            *keys,
            cum(pl.col("total")).alias("total_to_date"),
            cum(pl.col("bad")).alias("bad_to_date"),
        )
        .with_columns((pl.col("total_to_date") * (1.0 - objective)).alias("allowed_bad"))
        .with_columns((pl.col("bad_to_date") / pl.col("allowed_bad")).alias("budget_spent"))
        .with_columns((1.0 - pl.col("budget_spent")).alias("budget_remaining"))
        .sort(["window_start", *keys])
    )


def period_budgets(latency: pl.DataFrame, availability: pl.DataFrame) -> pl.DataFrame:
    """The error budget left at the end of the period for the latency and the availability SLO.

    ``latency`` and ``availability`` are SLO frames (at least ``window_start``, ``total``,
    ``bad`` and ``objective``: the output of :func:`latency_slo` / :func:`availability_slo`,
    or the same counts from a rollup).

    Returns
    -------
    polars.DataFrame
        ``slo`` (``latency``, ``availability``), ``total_to_date``, ``bad_to_date``,
        ``allowed_bad``, ``budget_remaining``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> w = [datetime(2026, 1, 1, tzinfo=UTC)]
    >>> lat = pl.DataFrame({"window_start": w, "total": [100], "bad": [2], "objective": [0.99]})
    >>> av = pl.DataFrame({"window_start": w, "total": [100], "bad": [0], "objective": [0.99]})
    >>> [round(x, 6) for x in period_budgets(lat, av)["budget_remaining"]]
    [-1.0, 1.0]
    """
    parts = [error_budget(frame).tail(1).with_columns(pl.lit(name).alias("slo"))
             for name, frame in (("latency", latency), ("availability", availability))]
    return pl.concat(parts).select("slo", "total_to_date", "bad_to_date", "allowed_bad", "budget_remaining")


def _infer_every(slo: pl.DataFrame, keys: list[str]) -> int:
    starts = slo.select(pl.col("window_start").dt.epoch("us")).to_series().unique().sort()
    diffs = starts.diff().drop_nulls()
    diffs = diffs.filter(diffs > 0)
    if diffs.is_empty():
        raise AnalysisError("cannot infer the window length of a one-window SLO frame; pass every=")
    return int(diffs.min())  # type: ignore[arg-type]


def burn_rate_alerts(
    slo: pl.DataFrame,
    rules: Sequence[BurnRateRule] = DEFAULT_BURN_RULES,
    *,
    every: str | None = None,
) -> pl.DataFrame:
    """Burn rates over trailing windows and multi-window alert booleans, at every window end.

    At each base window of ``slo`` (evaluation time = its end), the burn rate over a
    trailing duration ``D`` is ``(sum bad / sum total of the windows inside D) / (1 -
    objective)``. A rule fires when both its long- and short-window burn rates reach its
    factor.

    Parameters
    ----------
    slo
        Output of :func:`latency_slo` or :func:`availability_slo` (one objective), at a
        window length that divides every rule window (``every="1m"`` or ``"5m"``).
    rules
        The alert rules; default :data:`DEFAULT_BURN_RULES`.
    every
        Window length of ``slo``; inferred from the smallest gap between windows if None.

    Returns
    -------
    polars.DataFrame
        ``window_start``, group columns, ``total``, ``bad``, one ``burn_<D>`` column per
        distinct rule window (e.g. ``burn_1h``, ``burn_5m``), one boolean per rule
        (``page_1h_5m``, ``ticket_6h_30m``) and one per severity (``page``, ``ticket``:
        any rule of that severity fires).

    Raises
    ------
    AnalysisError
        A rule window is not a multiple of the SLO window length, or two rules share a
        name (severity and windows).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> ts = [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in range(10) for _ in range(100)]
    >>> status = (["error"] * 20 + ["ok"] * 80) * 5 + ["ok"] * 500   # 20% errors for 5 minutes
    >>> slo = availability_slo(pl.DataFrame({"timestamp": ts, "status": status}), 0.99, every="1m")
    >>> out = burn_rate_alerts(slo, [BurnRateRule("5m", "1m", 14.4, "page")])
    >>> out.select(pl.col("burn_5m", "burn_1m").round(6), "page").row(4)
    (20.0, 20.0, True)
    >>> out["page"].to_list()
    [True, True, True, True, True, False, False, False, False, False]
    """
    objective = _objective(slo)
    keys = _groups(slo)
    base = every_us(every) if every is not None else _infer_every(slo, keys)
    names = [r.name for r in rules]
    for name in names:
        if names.count(name) > 1:
            raise AnalysisError(f"two rules are named {name!r} (twice the same severity and windows)")
    durations: dict[str, int] = {}
    for rule in rules:
        for d in (rule.long, rule.short):
            us = every_us(d)
            if us % base:
                raise AnalysisError(f"rule window {d!r} is not a multiple of the SLO window ({base // 1_000_000} s)")
            durations[d] = us
    df = slo.sort([*keys, "window_start"]).select("window_start", *keys, "total", "bad")
    burns = []
    for d, us in durations.items():
        size = f"{us}us"
        if keys:
            tot = pl.col("total").rolling_sum_by("window_start", size).over(keys)
            bad = pl.col("bad").rolling_sum_by("window_start", size).over(keys)
        else:
            tot = pl.col("total").rolling_sum_by("window_start", size)
            bad = pl.col("bad").rolling_sum_by("window_start", size)
        burns.append((bad / tot / (1.0 - objective)).alias(f"burn_{d}"))
    df = df.with_columns(burns)
    fired = [
        ((pl.col(f"burn_{r.long}") >= r.factor) & (pl.col(f"burn_{r.short}") >= r.factor)).alias(r.name)
        for r in rules
    ]
    df = df.with_columns(fired)
    severities = list(dict.fromkeys(r.severity for r in rules))
    df = df.with_columns(
        pl.any_horizontal([pl.col(r.name) for r in rules if r.severity == s]).alias(s) for s in severities
    )
    return df.sort(["window_start", *keys])
