"""Backtesting alert rules over history with Prometheus' alerting state machine.

:func:`evaluate` steps every rule through a grid of evaluation times, like a Prometheus
rule group with ``evaluation_interval = step``, and records what a Prometheus server fed
the same signal would have done. For each rule and each series (label set):

* at every evaluation time ``t`` the signal is aggregated over the rule's ``window``
  (rows whose time is in ``(t - window, t]``; see :mod:`obskit.alerts.signals` for how);
  no row in the window (missing data) makes the condition **false**;
* condition true and no active alert -> a new alert, **pending**, ``ActiveAt = t``;
* pending and ``t - ActiveAt >= for`` -> **firing** (in the same evaluation, so
  ``for = 0`` fires at once, and a condition still true exactly ``for`` after ActiveAt
  fires at that evaluation);
* condition false while pending -> the alert is dropped (``resolved_at = t``, never fired);
* condition false while firing -> **resolved** at ``t``, unless ``keep_firing_for > 0``:
  then it keeps firing while ``t - first_false < keep_firing_for`` (``first_false`` being
  the first false evaluation since it last was true) and resolves at the first evaluation
  where that no longer holds; a true condition meanwhile continues the same alert;
* once resolved, a later true condition starts a new episode with a new ``ActiveAt``.

This is ``AlertingRule.Eval`` of Prometheus 2.42 (``rules/alerting.go``);
``tests/test_alerts_prometheus.py`` checks the timelines against ``promtool test rules``.

Times are those of the frames (``window_start`` for result frames): an evaluation at
``t`` sees the window that starts at ``t``, so alerts line up with the charts. A live
Prometheus sees a window's data only once it has elapsed, about one window later.

Examples
--------
>>> from datetime import datetime, timedelta, UTC
>>> import polars as pl
>>> from obskit.alerts.rules import parse_rules
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> ws = pl.DataFrame({"window_start": [t0 + timedelta(minutes=i) for i in range(6)],
...                    "requests": [100] * 6, "errors": [0, 5, 5, 5, 0, 0]})
>>> rules = parse_rules([{"name": "errors", "signal": "error_rate", "comparison": ">",
...                       "threshold": 0.01, "for": "1m", "summary": "{value:.0%} for {duration}"}])
>>> run = evaluate(rules, {"window_stats": ws})
>>> run.timeline["state"].to_list()
['inactive', 'pending', 'firing', 'firing', 'inactive', 'inactive']
>>> run.episodes.select("pending_at", "firing_at", "resolved_at", "summary").row(0)[3]
'5% for 2m'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from obskit.alerts.rules import COMPARATORS, Rule, format_duration
from obskit.alerts.signals import SIGNALS, Signal, served_labels
from obskit.alerts.templates import render
from obskit.errors import AnalysisError
from obskit.limits import check_windows
from obskit.timeutil import parse_duration, parse_time

__all__ = ["STATES", "AlertRun", "evaluate", "run_state_machine"]

#: Alert states, as in Prometheus (``inactive`` = no alert).
STATES: tuple[str, ...] = ("inactive", "pending", "firing")
INACTIVE, PENDING, FIRING = 0, 1, 2

_UTC_US = pl.Datetime("us", "UTC")
MIN_US = 60_000_000
_STATE = pl.Enum(list(STATES))

_EPISODES_SCHEMA: dict[str, Any] = {
    "rule": pl.String(),
    "severity": pl.String(),
    "signal": pl.String(),
    "labels": pl.String(),
    "pending_at": _UTC_US,
    "firing_at": _UTC_US,
    "resolved_at": _UTC_US,
    "complete_at": _UTC_US,
    "peak_value": pl.Float64(),
    "threshold": pl.Float64(),
    "summary": pl.String(),
}
_TIMELINE_SCHEMA: dict[str, Any] = {
    "rule": pl.String(),
    "labels": pl.String(),
    "t": _UTC_US,
    "state": _STATE,
    "value": pl.Float64(),
}
_CURRENT_SCHEMA: dict[str, Any] = {
    "rule": pl.String(),
    "severity": pl.String(),
    "labels": pl.String(),
    "state": _STATE,
    "since": _UTC_US,
    "value": pl.Float64(),
}


@dataclass
class AlertRun:
    """The outcome of :func:`evaluate`.

    Attributes
    ----------
    episodes
        One row per alert episode: ``rule``, ``severity``, ``signal``, ``labels`` (JSON
        object: series labels and the rule's labels), ``pending_at`` (ActiveAt),
        ``firing_at`` (null: never fired), ``resolved_at`` (null: still active at the end
        of the period), ``peak_value`` (the worst value while the condition held: max for
        ``>``/``>=``, min for ``<``/``<=``), ``threshold``, ``summary`` (the rendered
        template, with ``value`` = peak). Sorted by ``pending_at``.
    timeline
        One row per rule, series and evaluation time: ``rule``, ``labels``, ``t``,
        ``state`` (inactive/pending/firing), ``value`` (null: no data).
    current
        The state at the last evaluation time, one row per rule and series: ``rule``,
        ``severity``, ``labels``, ``state``, ``since`` (ActiveAt, or firing time when
        firing; null when inactive), ``value``.
    skipped
        ``{"rule": ..., "reason": ...}`` for rules that could not be evaluated (frame not
        given, column missing...).
    rules
        The rules that were asked for, in order.
    """

    episodes: pl.DataFrame
    timeline: pl.DataFrame
    current: pl.DataFrame
    skipped: list[dict[str, str]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)

    @property
    def fired(self) -> pl.DataFrame:
        """Episodes that reached ``firing``."""
        return self.episodes.filter(pl.col("firing_at").is_not_null())

    @property
    def firing_now(self) -> pl.DataFrame:
        """Series firing at the last evaluation time."""
        return self.current.filter(pl.col("state") == "firing")

    def __repr__(self) -> str:
        return (f"AlertRun({len(self.rules)} rules, {self.episodes.height} episodes, "
                f"{self.fired.height} fired, {self.firing_now.height} firing now, {len(self.skipped)} skipped)")


# --------------------------------------------------------------------------- state machine


def run_state_machine(
    t: np.ndarray, cond: np.ndarray, hold_us: int, keep_us: int
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Prometheus' alert states of one series at evaluation times ``t`` (int64, µs).

    Returns the state code per evaluation (0 inactive, 1 pending, 2 firing) and the
    episodes as ``(active_index, fired_index or -1, resolved_index or -1)``.

    >>> t = np.arange(6, dtype=np.int64) * 60_000_000
    >>> run_state_machine(t, np.array([1, 1, 1, 0, 0, 0], bool), 60_000_000, 120_000_000)
    (array([1, 2, 2, 2, 2, 0], dtype=int8), [(0, 1, 5)])
    """
    n = int(t.size)
    states = np.zeros(n, dtype=np.int8)
    episodes: list[tuple[int, int, int]] = []
    tl: list[int] = t.tolist()
    cl: list[bool] = cond.tolist()
    state = INACTIVE
    active_i = fired_i = -1
    active_t = 0
    keep_since: int | None = None
    for i in range(n):
        ts = tl[i]
        if cl[i]:
            if state == INACTIVE:
                state, active_i, active_t, fired_i = PENDING, i, ts, -1
            keep_since = None
        elif state == INACTIVE:
            continue
        else:
            keep = False
            if state == FIRING and keep_us > 0:
                if keep_since is None:
                    keep_since = ts
                keep = ts - keep_since < keep_us
            if not keep:
                episodes.append((active_i, fired_i, i))
                state, keep_since = INACTIVE, None
                continue
        if state == PENDING and ts - active_t >= hold_us:
            state, fired_i = FIRING, i
        states[i] = state
    if state != INACTIVE:
        episodes.append((active_i, fired_i, -1))
    return states, episodes


# --------------------------------------------------------------------------- signal values


@dataclass
class _Series:
    labels: dict[str, str]
    t: np.ndarray  # int64 µs, sorted, unique
    num: np.ndarray  # float64: value, or numerator for ratios
    den: np.ndarray | None  # float64 denominator (ratio) or None


def _us(td: timedelta) -> int:
    return round(td.total_seconds() * 1_000_000)


def _skip(reason: str) -> AnalysisError:
    return AnalysisError(reason)


def _by_frame(rule: Rule, sig: Signal, frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """The frame a rule reads: its signal's, or the per-version counts for ``by = ["model_version"]``.

    ``window_stats`` is the fleet's; a rule split by version on one of its counts (error
    rate, burn rate, request rate) reads ``window_stats_by_version`` (requests, errors,
    error rate and rps per minute and version). A latency quantile has no per-version
    frame: such a rule is skipped and says which column it lacks.
    """
    frame = frames[sig.frame]
    per_version = frames.get(f"{sig.frame}_by_version")
    if ("model_version" in rule.by and per_version is not None and "model_version" not in frame.columns
            and "model_version" in (served_labels(sig) or ())):  # (one home: what the per-version frame holds)
        return per_version
    return frame


def _extract(rule: Rule, sig: Signal, frames: Mapping[str, pl.DataFrame]) -> tuple[list[_Series], str, bool]:
    """The rule's series (one per label set), the aggregation, and whether rows are stamped at window start."""
    labels = list(dict.fromkeys([*sig.labels, *rule.by]))
    direct = rule.signal in frames
    agg: str
    if direct:
        frame = frames[rule.signal]
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        time_col = "window_start" if "window_start" in frame.columns else "timestamp"
        agg = "mean" if sig.agg == "ratio" else sig.agg
        value_col, num_col, den_col, weight = "value", None, None, None
        where: Mapping[str, str] = {}
        rename: Mapping[str, str] = {}
    else:
        if sig.frame not in frames or frames[sig.frame] is None:
            raise _skip(f"no {sig.frame!r} frame given (signal {rule.signal!r} reads {sig.frame}.{sig.column})")
        frame = _by_frame(rule, sig, frames)
        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        time_col, agg, where, rename = sig.time, sig.agg, sig.where, sig.rename
        value_col, num_col, den_col = sig.column, sig.numerator, sig.denominator
        if agg == "ratio" and not (num_col in frame.columns and den_col in frame.columns):
            agg, num_col, den_col = "mean", None, None
        weight = sig.weight if agg == "mean" and sig.weight in frame.columns else None
    for col, want in where.items():
        if col not in frame.columns:
            raise _skip(f"frame {sig.frame!r} lacks column {col!r}")
        frame = frame.filter(pl.col(col).cast(pl.String) == want)
    if rename:
        frame = frame.rename({k: v for k, v in rename.items() if k in frame.columns})
    needed = [time_col, *labels, *([num_col, den_col] if num_col and den_col else [value_col])]
    if weight is not None:
        needed.append(weight)
    missing = [c for c in needed if c is not None and c not in frame.columns]
    if missing:
        what = rule.signal if direct else sig.frame
        raise _skip(f"frame {what!r} lacks column(s) {', '.join(missing)} (has {', '.join(frame.columns)})")
    if not isinstance(frame.schema[time_col], pl.Datetime):
        raise _skip(f"time column {time_col!r} must be a Datetime, got {frame.schema[time_col]}")
    if weight is not None:
        w = pl.col(weight).cast(pl.Float64)
        vals = [(pl.col(value_col).cast(pl.Float64) * w).alias("_n"), w.alias("_d")]
        agg = "ratio"
    elif num_col and den_col:
        vals = [pl.col(num_col).cast(pl.Float64).alias("_n"), pl.col(den_col).cast(pl.Float64).alias("_d")]
    else:
        vals = [pl.col(value_col).cast(pl.Float64).alias("_n")]
    df = frame.select(
        pl.col(time_col).dt.epoch("us").alias("_t"),
        *[pl.col(c).cast(pl.String).fill_null("").alias(c) for c in labels],
        *vals,
    ).filter(pl.col("_t").is_not_null() & pl.col("_n").is_not_null() & pl.col("_n").is_not_nan())
    if "_d" in df.columns:
        df = df.filter(pl.col("_d").is_not_null() & pl.col("_d").is_not_nan())
    combine = {
        "ratio": [pl.col("_n").sum(), pl.col("_d").sum()] if "_d" in df.columns else [pl.col("_n").sum()],
        "mean": [pl.col("_n").mean()],
        "max": [pl.col("_n").max()],
        "min": [pl.col("_n").min()],
        "last": [pl.col("_n").last()],
    }[agg]
    df = df.group_by([*labels, "_t"], maintain_order=True).agg(combine).sort([*labels, "_t"])
    out: list[_Series] = []
    parts = df.partition_by(labels, maintain_order=True, as_dict=False) if labels else [df]
    for part in parts:
        if part.height == 0:
            continue
        lab = {c: str(part[c][0]) for c in labels}
        den = part["_d"].to_numpy().astype(np.float64) if "_d" in part.columns else None
        out.append(_Series(lab, part["_t"].to_numpy().astype(np.int64), part["_n"].to_numpy().astype(np.float64),
                           den))
    return out, agg, time_col == "window_start"


def _spacing(series: Sequence[_Series]) -> int | None:
    times = np.unique(np.concatenate([s.t for s in series])) if series else np.empty(0, np.int64)
    if times.size < 2:
        return None
    return int(np.diff(times).min())


def _bounds(s: _Series, grid: np.ndarray, window_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Row range ``[lo, hi)`` of the series in ``(t - window, t]`` for each grid time."""
    return np.searchsorted(s.t, grid - window_us, side="right"), np.searchsorted(s.t, grid, side="right")


def _rolled(s: _Series, grid: np.ndarray, window_us: int, agg: str) -> np.ndarray:
    """The signal over ``(t - window, t]`` at each grid time (NaN: no data)."""
    lo, hi = _bounds(s, grid, window_us)
    count = hi - lo
    out = np.full(grid.size, np.nan)
    has = count > 0
    if agg in ("ratio", "mean"):
        cs = np.concatenate([[0.0], np.cumsum(s.num)])
        total = cs[hi] - cs[lo]
        if agg == "ratio" and s.den is not None:
            cd = np.concatenate([[0.0], np.cumsum(s.den)])
            den = cd[hi] - cd[lo]
            ok = has & (den > 0)
            out[ok] = total[ok] / den[ok]
        else:
            out[has] = total[has] / count[has]
    elif agg == "last":
        out[has] = s.num[hi[has] - 1]
    else:
        fn = np.max if agg == "max" else np.min
        for k in np.flatnonzero(has).tolist():
            out[k] = fn(s.num[lo[k]:hi[k]])
    return out


def _anomaly_score(rule: Rule, values: np.ndarray) -> np.ndarray:
    """The rule's signal, evaluation by evaluation, scored by an online detector (0..1).

    The detector sees the values of earlier evaluations only; ``1 - threshold`` is its
    false-alarm rate and one alarm is raised per episode (a refractory period of 60
    evaluations). Evaluations without data score NaN (no data is never an anomaly).
    """
    from obskit.analyze.detect import score

    d = score(values, method=rule.anomaly,  # type: ignore[arg-type]
              false_alarm_rate=1.0 - rule.threshold, refractory_rows=60)
    return np.where(np.isnan(values), np.nan, d.score)


def _rolled_den(s: _Series, grid: np.ndarray, window_us: int) -> np.ndarray:
    """Sum of the denominator (requests, answers...) over ``(t - window, t]``."""
    assert s.den is not None
    lo, hi = _bounds(s, grid, window_us)
    cd = np.concatenate([[0.0], np.cumsum(s.den)])
    return np.asarray(cd[hi] - cd[lo])


def _no_rows(s: _Series, grid: np.ndarray, window_us: int) -> np.ndarray:
    """True where no row of the series falls in ``(t - window, t]`` (after its first row)."""
    lo, hi = _bounds(s, grid, window_us)
    return np.asarray((hi == lo) & (grid >= s.t[0]))


def _condition(rule: Rule, values: np.ndarray) -> np.ndarray:
    op = COMPARATORS[rule.comparison]
    with np.errstate(invalid="ignore"):
        res = np.asarray(op(values, rule.threshold), dtype=bool)
    return res & ~np.isnan(values)


def _peak(rule: Rule, values: np.ndarray) -> float:
    v = values[~np.isnan(values)]
    if v.size == 0:
        return math.nan
    if rule.comparison in (">", ">="):
        return float(v.max())
    if rule.comparison in ("<", "<="):
        return float(v.min())
    return float(v[np.argmax(np.abs(v - rule.threshold))])


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _summary(rule: Rule, labels: Mapping[str, str], value: float, start: datetime, end: datetime | None,
             duration: timedelta, window_us: int) -> str:
    fields: dict[str, Any] = dict(labels)
    fields.update(value=value, threshold=rule.threshold, start=start, end=end, duration=format_duration(duration),
                  rule=rule.name, signal=rule.signal, severity=rule.severity,
                  window=format_duration(timedelta(microseconds=window_us)))
    fields["for"] = rule.for_text
    try:
        return render(rule.summary, fields)
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # parse-time checks make this rare
        return f"{rule.name}: {rule.signal} {value} (summary failed: {exc})"


def _time_us(value: datetime | str | None) -> int | None:
    if value is None:
        return None
    dt = parse_time(value)
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _step_us(value: timedelta | str | None) -> int | None:
    if value is None:
        return None
    return _us(parse_duration(value) if isinstance(value, str) else value)


def _period_end_us(frames: Mapping[str, pl.DataFrame]) -> int | None:
    """Latest time in any frame (``window_start`` or ``timestamp``), in µs since the epoch."""
    ends = []
    for frame in frames.values():
        col = "window_start" if "window_start" in frame.columns else "timestamp"
        if col in frame.columns and frame.height and isinstance(frame.schema[col], pl.Datetime):
            last = frame.get_column(col).max()
            if isinstance(last, datetime):
                ends.append(int((last - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)))
    return max(ends) if ends else None


def evaluate(
    rules: Sequence[Rule],
    frames: Mapping[str, pl.DataFrame],
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    step: timedelta | str | None = None,
    registry: Mapping[str, Signal] | None = None,
    strict: bool = False,
) -> AlertRun:
    """Backtest ``rules`` over already computed result frames.

    Parameters
    ----------
    rules
        From :func:`obskit.alerts.parse_rules`.
    frames
        Frame kind -> frame (``window_stats``, ``drift_over_time``, ``confidence``,
        ``gpu``; see :mod:`obskit.alerts.signals`), or signal name -> a frame with
        ``window_start``, label columns and ``value``.
    start, end
        First and last evaluation time (default: the first and last time in the rule's
        frame). Data before ``start`` still counts in the first windows.
    step
        Evaluation interval for rules without ``interval`` (default: the frame's spacing,
        the smallest gap between its times).
    registry
        Signal registry (default :data:`obskit.alerts.signals.SIGNALS`).
    strict
        Raise :class:`~obskit.errors.AnalysisError` instead of recording a rule that
        cannot be evaluated in :attr:`AlertRun.skipped`.
    """
    reg = SIGNALS if registry is None else registry
    start_us, end_us, step_arg = _time_us(start), _time_us(end), _step_us(step)
    if end_us is None:
        # evaluate every rule up to the end of the whole period, so that a series that
        # stops (a version rolled back, a feature no longer sent) resolves like in Prometheus
        end_us = _period_end_us(frames)
    episodes: dict[str, list[Any]] = {k: [] for k in _EPISODES_SCHEMA}
    current: dict[str, list[Any]] = {k: [] for k in _CURRENT_SCHEMA}
    tl_keys: list[tuple[str, str, int]] = []
    tl_t: list[np.ndarray] = []
    tl_state: list[np.ndarray] = []
    tl_value: list[np.ndarray] = []
    skipped: list[dict[str, str]] = []
    for rule in rules:
        try:
            if rule.signal not in reg:
                raise _skip(f"unknown signal {rule.signal!r}")
            sig = reg[rule.signal]
            series, agg, at_start = _extract(rule, sig, frames)
            if rule.match:
                series = [x for x in series if all(x.labels.get(k) == v for k, v in rule.match.items())]
            if not series:
                raise _skip("no data in the frame for this signal")
            spacing = _spacing(series)
            rule_window = _us(rule.window) if rule.window is not None else None
            # A single time in the frame: evaluate once, at that time.
            step_us = _us(rule.interval) if rule.interval is not None else step_arg or spacing or rule_window or MIN_US
            window_us = rule_window or spacing or step_us
            if spacing is not None and window_us < spacing:
                raise _skip(f"window {format_duration(timedelta(microseconds=window_us))} is shorter than the "
                            f"frame's spacing {format_duration(timedelta(microseconds=spacing))}: compute the "
                            f"frame with a finer window")
        except AnalysisError as exc:
            if strict:
                raise AnalysisError(f"alert rule {rule.name!r}: {exc.reason}") from None
            skipped.append({"rule": rule.name, "reason": exc.reason})
            continue
        t_first = min(int(s.t[0]) for s in series)
        t_last = max(int(s.t[-1]) for s in series)
        g0 = t_first if start_us is None else start_us
        g1 = t_last if end_us is None else end_us
        try:
            check_windows(timedelta(microseconds=max(g1 - g0, 0)), timedelta(microseconds=step_us), key="interval")
        except ValueError as exc:
            if strict:
                raise AnalysisError(f"alert rule {rule.name!r}: {exc}") from None
            skipped.append({"rule": rule.name, "reason": str(exc)})
            continue
        grid = np.arange(g0, g1 + 1, step_us, dtype=np.int64) if g1 >= g0 else np.empty(0, np.int64)
        if grid.size == 0:
            skipped.append({"rule": rule.name, "reason": "empty evaluation period"})
            continue
        hold_us, keep_us = _us(rule.for_), _us(rule.keep_firing_for)
        # rows stamped at their window's start hold data up to one spacing later
        lag_us = (spacing or 0) if at_start else 0
        budget = (1 - rule.objective) if sig.burn and rule.objective is not None else None
        for s in series:
            values = _rolled(s, grid, window_us, agg)
            if budget is not None:
                values = values / budget
            if rule.min_samples and s.den is not None:
                values = np.where(_rolled_den(s, grid, window_us) >= rule.min_samples, values, np.nan)
            if rule.anomaly is not None:
                values = _anomaly_score(rule, values)
            if rule.absent:
                cond = _no_rows(s, grid, window_us)
                values = np.where(cond, 0.0, 1.0)
            else:
                cond = _condition(rule, values)
            states, eps = run_state_machine(grid, cond, hold_us, keep_us)
            labels = {**s.labels, **rule.labels}
            labels_json = json.dumps(labels, sort_keys=True)
            tl_keys.append((rule.name, labels_json, grid.size))
            tl_t.append(grid)
            tl_state.append(states)
            tl_value.append(values)
            for a, f, r in eps:
                stop = r if r >= 0 else grid.size
                peak = _peak(rule, np.where(cond[a:stop], values[a:stop], np.nan))
                begin = int(grid[f] if f >= 0 else grid[a])
                finish = int(grid[r]) if r >= 0 else None
                dur = timedelta(microseconds=(finish if finish is not None else int(grid[-1])) - begin)
                episodes["rule"].append(rule.name)
                episodes["severity"].append(rule.severity)
                episodes["signal"].append(rule.signal)
                episodes["labels"].append(labels_json)
                episodes["pending_at"].append(_dt(int(grid[a])))
                episodes["firing_at"].append(_dt(int(grid[f])) if f >= 0 else None)
                episodes["resolved_at"].append(_dt(finish) if finish is not None else None)
                episodes["complete_at"].append(_dt(int(grid[f]) + lag_us) if f >= 0 else None)
                episodes["peak_value"].append(peak)
                episodes["threshold"].append(rule.threshold)
                episodes["summary"].append(_summary(rule, labels, peak, _dt(begin),
                                                    None if finish is None else _dt(finish), dur, window_us))
            last_state = int(states[-1])
            since: datetime | None = None
            if last_state != INACTIVE and eps and eps[-1][2] < 0:
                a, f, _ = eps[-1]
                since = _dt(int(grid[f] if last_state == FIRING else grid[a]))
            last_value = float(values[-1])
            current["rule"].append(rule.name)
            current["severity"].append(rule.severity)
            current["labels"].append(labels_json)
            current["state"].append(STATES[last_state])
            current["since"].append(since)
            current["value"].append(None if math.isnan(last_value) else last_value)
    ep = pl.DataFrame(episodes, schema=_EPISODES_SCHEMA)
    ep = ep.with_columns(pl.col("peak_value").fill_nan(None)).sort(["pending_at", "rule", "labels"])
    if tl_keys:
        sizes = [n for _, _, n in tl_keys]
        keys = pl.DataFrame({"rule": [r for r, _, _ in tl_keys], "labels": [lab for _, lab, _ in tl_keys]},
                            schema={"rule": pl.String, "labels": pl.String})
        timeline = keys.select(pl.all().gather(np.repeat(np.arange(len(tl_keys)), sizes))).with_columns(
            pl.Series("t", np.concatenate(tl_t)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            pl.Series("state", np.asarray(STATES)[np.concatenate(tl_state)], dtype=pl.String).cast(_STATE),
            pl.Series("value", np.concatenate(tl_value)).fill_nan(None),
        )
    else:
        timeline = pl.DataFrame(schema=_TIMELINE_SCHEMA)
    return AlertRun(
        episodes=ep,
        timeline=timeline,
        current=pl.DataFrame(current, schema=_CURRENT_SCHEMA),
        skipped=skipped,
        rules=list(rules),
    )
