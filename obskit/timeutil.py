"""Durations and time ranges as users write them ("5m", "1h30m", "24h", ISO 8601)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from obskit.errors import ConfigError, InvalidArgument
from obskit.limits import LONGEST_PERIOD, SHORTEST_WINDOW, fmt_duration

__all__ = ["auto_window", "bounded_duration", "drift_window", "parse_duration", "parse_time", "polars_every",
           "report_window"]

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DUR = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus-style duration, at most :data:`~obskit.limits.LONGEST_PERIOD`.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration("5x")
    Traceback (most recent call last):
    ...
    obskit.errors.InvalidArgument: invalid duration '5x' (use e.g. 30s, 5m, 1h, 1d)
    """
    t = text.strip()
    pos, total = 0, 0.0
    for m in _DUR.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not t or pos != len(t) or total <= 0:
        raise InvalidArgument(f"invalid duration {text!r} (use e.g. 30s, 5m, 1h, 1d)")
    if total > LONGEST_PERIOD.total_seconds():
        raise InvalidArgument(f"duration {text!r} is longer than the longest period, {fmt_duration(LONGEST_PERIOD)}")
    return timedelta(seconds=total)


def bounded_duration(key: str, value: str, *, shortest: timedelta | None = None) -> timedelta:
    """Parse the duration of config key or argument ``key``; a bad or out-of-bounds one is a ConfigError.

    >>> bounded_duration("report.window", "5m")
    datetime.timedelta(seconds=300)
    >>> bounded_duration("report.window", "1ms", shortest=timedelta(seconds=1))
    Traceback (most recent call last):
    ...
    obskit.errors.ConfigError: report.window: '1ms' is shorter than the shortest window, 1s
    """
    try:
        d = parse_duration(value)
    except InvalidArgument as exc:
        raise ConfigError(f"{key}: {exc}") from None
    if shortest is not None and d < shortest:
        raise ConfigError(f"{key}: {value!r} is shorter than the shortest window, {fmt_duration(shortest)}")
    return d


def polars_every(text: str) -> str:
    """A duration as a polars ``every`` string (``"5m"`` -> ``"300s"``).

    >>> polars_every("5m")
    '300s'
    """
    seconds = int(parse_duration(text).total_seconds())
    if seconds < SHORTEST_WINDOW.total_seconds():
        raise InvalidArgument(f"window {text!r} is shorter than the shortest window, {fmt_duration(SHORTEST_WINDOW)}")
    return f"{seconds}s"


def parse_time(text: str | datetime) -> datetime:
    """Parse an ISO 8601 time (``Z`` or offset; naive means UTC) or a datetime, to aware UTC.

    >>> parse_time("2026-11-22T10:00:00+02:00").isoformat()
    '2026-11-22T08:00:00+00:00'
    >>> parse_time("2026-11-22").isoformat()
    '2026-11-22T00:00:00+00:00'
    """
    if isinstance(text, datetime):
        dt = text
    else:
        s = text.strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            raise InvalidArgument(f"invalid time {text!r} (use ISO 8601, e.g. 2026-11-22T00:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise InvalidArgument(f"invalid time {text!r}: out of range") from None


_NICE = ("1s", "5s", "10s", "15s", "30s", "1m", "2m", "5m", "10m", "15m", "30m", "1h", "2h", "3h", "6h", "12h",
         "1d", "2d", "7d")


def auto_window(span: timedelta, requested: str = "5m", *, max_windows: int = 400, min_windows: int = 12) -> str:
    """The requested window, changed to a "nice" one so ``span`` has between ``min_windows`` and ``max_windows``.

    Keeps charts (and report pages) the same size whatever the period: a day at 5 minutes is 288
    points; a week at 5 minutes would be 2016, so it becomes 30 minutes (336). A short capture
    gets a finer window instead of one point: 15 seconds of nvidia-smi at 5 minutes would be a
    single window, at 1 second it is 15.

    >>> auto_window(timedelta(days=1), "5m")
    '5m'
    >>> auto_window(timedelta(days=7), "5m")
    '30m'
    >>> auto_window(timedelta(seconds=15), "5m")
    '1s'
    >>> auto_window(timedelta(hours=1), "5m")
    '5m'
    """
    want = parse_duration(requested)
    if span > want * max_windows:
        for nice in _NICE:
            d = parse_duration(nice)
            if d >= want and span <= d * max_windows:
                return nice
        return _NICE[-1]
    if span >= want * min_windows or span <= timedelta(0):
        return requested
    finer = [n for n in _NICE if parse_duration(n) < want and span >= parse_duration(n) * min_windows]
    return finer[-1] if finer else _NICE[0]


#: Most windows of a chart when the window is chosen from the period (no ``[report] window`` nor
#: ``window`` parameter): a day stays at 5 minutes (288), a week gets hours (168), 15 minutes
#: get minutes (15).
AUTO_MAX_WINDOWS = 300


def report_window(span: timedelta | None, window: str = "", *, default: str = "5m") -> str:
    """The chart window of a period: ``window`` when given (kept to 12..400 windows), else chosen from ``span``.

    An explicit window (``[report] window`` or ``-p window=``) is only changed when the
    period would have fewer than 12 or more than 400 of it (:func:`auto_window`). Without
    one, the period chooses: at most :data:`AUTO_MAX_WINDOWS` windows, at least 12.

    >>> report_window(timedelta(minutes=15))
    '1m'
    >>> report_window(timedelta(days=1)), report_window(timedelta(days=7))
    ('5m', '1h')
    >>> report_window(timedelta(days=7), "5m")
    '30m'
    >>> report_window(None, "1m"), report_window(None)
    ('1m', '5m')
    """
    if span is None:
        return window or default
    if window:
        return auto_window(span, window)
    return auto_window(span, default, max_windows=AUTO_MAX_WINDOWS)


def drift_window(span: timedelta | None, window: str, rows: int | None = None, *, max_windows: int = 24,
                 min_rows: int = 50) -> str:
    """The window of drift over time: the chart ``window``, widened to a nice one while it would give
    more than ``max_windows`` windows or fewer than ``min_rows`` rows per window on average.

    A drift test on a handful of rows is noise, and every window is a full test per feature:
    15 minutes at 1 minute stay per minute (15 windows) when they hold enough requests; a day
    at 5 minutes becomes hourly (24 windows).

    >>> drift_window(timedelta(minutes=15), "1m", rows=2000)
    '1m'
    >>> drift_window(timedelta(minutes=15), "1m", rows=300)
    '5m'
    >>> drift_window(timedelta(days=1), "5m", rows=150_000)
    '1h'
    >>> drift_window(None, "5m")
    '5m'
    """
    if span is None or span <= timedelta(0):
        return window
    want = parse_duration(window)

    def fits(d: timedelta) -> bool:
        n = max(span / d, 1.0)
        return n <= max_windows and (rows is None or rows / n >= min_rows)

    if fits(want):
        return window
    for nice in _NICE:
        d = parse_duration(nice)
        if d > want and fits(d):
            return nice
    return _NICE[-1]
