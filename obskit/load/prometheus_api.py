"""Prometheus HTTP API: a small query client and a parser for saved API responses.

Both produce the canonical ``metrics`` frame (see :mod:`obskit.schemas`): ``timestamp``
(``Datetime("us", "UTC")``), ``metric`` (String), ``value`` (Float64), then one String
column per label, sorted by name, null where a series lacks the label.

Mapping of a Prometheus result onto the frame
---------------------------------------------
``metric``
    The series' ``__name__``. Results of expressions drop the name (``rate(x[5m])``,
    ``sum by (le) (...)``); their ``metric`` is the query expression as written
    (``expr``). A saved response carries no expression: pass ``expr=`` to
    :func:`load_prometheus_json`, otherwise nameless series get ``metric == ""``.
``value``
    Parsed from Prometheus' string encoding; ``"NaN"``, ``"+Inf"`` and ``"-Inf"`` become
    the IEEE values (they are kept, not dropped).
labels
    One String column per label name. A label whose name clashes with a canonical
    column (``timestamp``, ``metric``, ``value``) or with a native-histogram bucket column
    below is renamed to ``label_<name>``.
``scalar`` results
    One row; ``metric`` is ``expr`` (or ``"scalar"``).
``string`` results
    One row; ``metric`` is ``expr`` (or ``"string"``), ``value`` is NaN and the text is in
    a String column named ``string``.
native histograms (``histogram`` / ``histograms`` fields)
    Each histogram sample becomes ``2 + n_buckets`` rows at its timestamp, all carrying the
    series' labels:

    * ``<name>_count``: the observation count,
    * ``<name>_sum``: the sum of observations,
    * ``<name>_bucket``: one row per populated bucket, ``value`` = the count *in that
      bucket* (not cumulative), with three extra String columns ``bucket_lower`` and
      ``bucket_upper`` (the boundaries as Prometheus wrote them) and ``bucket_bounds``,
      the interval shape in interval notation: ``"(]"`` (lower open, upper closed: the
      usual positive bucket), ``"[)"``, ``"()"`` or ``"[]"`` (the zero bucket). These
      three columns are null on float rows and on ``_count``/``_sum`` rows.

    To get classic cumulative ``le`` buckets from positive buckets, cumulatively sum
    ``value`` ordered by ``bucket_upper`` within one sample.

Range splitting
---------------
Prometheus refuses range queries with more than 11,000 points per series.
:meth:`PrometheusClient.query_range` splits longer ranges into consecutive chunks of at
most ``max_points`` grid points each, aligned on the ``start + k * step`` grid and not
overlapping, and concatenates the results (a sample is never repeated at a boundary).

Credentials
-----------
Bearer tokens, basic-auth passwords, credentials embedded in ``base_url`` and the values
of extra ``headers`` are never printed, logged, or put in reprs or exception messages;
server-provided error text is scrubbed of them too. Redirects are not followed (so
credentials are never forwarded to another host): a redirect is reported as an error.

Examples
--------
>>> from obskit.load.prometheus_api import load_prometheus_json
>>> saved = {"status": "success", "data": {"resultType": "vector", "result": [
...     {"metric": {"__name__": "up", "job": "triton"}, "value": [1700000000, "1"]}]}}
>>> frame = load_prometheus_json(saved)
>>> frame.columns, frame.row(0)[1:]
(['timestamp', 'metric', 'value', 'job'], ('up', 1.0, 'triton'))
>>> str(frame["timestamp"][0])
'2023-11-14 22:13:20+00:00'

Querying a live server (not run here)::

    client = PrometheusClient("http://127.0.0.1:9090", bearer_token=token)
    frame = client.query_range(
        'sum by (le) (rate(nv_inference_request_duration_us_bucket[5m]))',
        start="2024-05-01T00:00:00Z", end="2024-05-02T00:00:00Z", step="1m",
    )
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import re
import time as _time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.client import HTTPException
from typing import IO, Any

import numpy as np
import polars as pl

from obskit.errors import InvalidArgument, ParseError, RemoteError
from obskit.limits import URL_DEADLINE_S, URL_MAX_BYTES, loads_json, read_body
from obskit.load._plausible import PLAUSIBLE_US, implausible_us
from obskit.load._quarantine import Quarantine, reject, warn_unquarantined
from obskit.load._sources import decompressed_bytes, resolve
from obskit.schemas import empty

__all__ = [
    "MAX_POINTS_PER_SERIES",
    "PrometheusClient",
    "PrometheusWarning",
    "load_prometheus_json",
    "parse_duration",
    "parse_time",
]

logger = logging.getLogger(__name__)

#: Prometheus' hard limit on the points of one series in a range query.
MAX_POINTS_PER_SERIES = 11_000

_CANONICAL = ("timestamp", "metric", "value")
_BUCKET_COLUMNS = ("bucket_lower", "bucket_upper", "bucket_bounds")
_BOUNDS = {0: "(]", 1: "[)", 2: "()", 3: "[]"}
_RETRY_AFTER_CAP_S = 60.0

TimeLike = datetime | str | int | float
DurationLike = str | int | float | timedelta
JsonSource = Mapping[str, Any] | str | os.PathLike[str] | IO[bytes] | IO[str] | bytes


class PrometheusWarning(UserWarning):
    """A Prometheus response carried ``warnings`` (e.g. partial results)."""


# --------------------------------------------------------------------------- parsing


def _parse_value(raw: Any) -> float:
    """Prometheus' string encoding of a float (``"1.5"``, ``"NaN"``, ``"+Inf"``)."""
    if isinstance(raw, bool):
        raise InvalidArgument(f"expected a number string, got {raw!r}")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        return float(raw)
    raise InvalidArgument(f"expected a number string, got {type(raw).__name__}")


def _parse_ts_us(raw: Any) -> int:
    """Seconds since the epoch (float or numeric string) as integer microseconds, within 1990–2200."""
    us = _ts_us(raw)
    why = implausible_us(us)
    if why:
        raise InvalidArgument(f"timestamp {raw!r} {why}")
    return us


def _ts_us(raw: Any) -> int:
    if isinstance(raw, bool):
        raise InvalidArgument(f"expected a timestamp, got {raw!r}")
    if isinstance(raw, str):
        return int((Decimal(raw) * 1_000_000).to_integral_value())
    if isinstance(raw, int):
        return raw * 1_000_000
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise InvalidArgument(f"expected a finite timestamp, got {raw!r}")
        return round(raw * 1_000_000)
    raise InvalidArgument(f"expected a timestamp, got {type(raw).__name__}")


class _Rows:
    """Column buffers for the frame being built (labels are stored per series)."""

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.metric: list[str] = []
        self.value: list[float] = []
        self.series: list[int] = []
        self.series_labels: list[dict[str, str]] = []
        self.bucket: dict[str, list[str | None]] = {c: [] for c in _BUCKET_COLUMNS}
        self.has_buckets = False
        self.strings: list[str | None] = []
        self.has_strings = False

    def add(
        self,
        ts: int,
        metric: str,
        value: float,
        series: int,
        bucket: tuple[str, str, str] | None = None,
        string: str | None = None,
    ) -> None:
        self.ts.append(ts)
        self.metric.append(metric)
        self.value.append(value)
        self.series.append(series)
        if bucket is not None:
            self.has_buckets = True
        lo, up, bd = bucket if bucket is not None else (None, None, None)
        self.bucket["bucket_lower"].append(lo)
        self.bucket["bucket_upper"].append(up)
        self.bucket["bucket_bounds"].append(bd)
        if string is not None:
            self.has_strings = True
        self.strings.append(string)

    def extend(self, ts: list[int], metric: str, values: list[float], series: int) -> None:
        """Float samples of one series, appended at once (what :meth:`add` does per sample)."""
        n = len(ts)
        self.ts.extend(ts)
        self.metric.extend([metric] * n)
        self.value.extend(values)
        self.series.extend([series] * n)
        for column in self.bucket.values():
            column.extend([None] * n)
        self.strings.extend([None] * n)

    def frame(self) -> pl.DataFrame:
        if not self.ts:
            return empty("metrics")
        reserved = set(_CANONICAL)
        if self.has_buckets:
            reserved |= set(_BUCKET_COLUMNS)
        if self.has_strings:
            reserved.add("string")
        names = sorted({k for lab in self.series_labels for k in lab})
        cols: dict[str, pl.Series] = {
            "timestamp": pl.Series("timestamp", self.ts, dtype=pl.Int64)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC"),
            "metric": pl.Series("metric", self.metric, dtype=pl.String),
            "value": pl.Series("value", self.value, dtype=pl.Float64),
        }
        idx = pl.Series("idx", self.series, dtype=pl.UInt32)
        for name in names:
            col = f"label_{name}" if name in reserved else name
            if col in cols or (col != name and col in names):
                raise ParseError(f"label {name!r} clashes with another column after renaming to {col!r}")
            per_series = pl.Series(col, [lab.get(name) for lab in self.series_labels], dtype=pl.String)
            cols[col] = per_series.gather(idx).alias(col)
        if self.has_strings:
            cols["string"] = pl.Series("string", self.strings, dtype=pl.String)
        if self.has_buckets:
            for c in _BUCKET_COLUMNS:
                cols[c] = pl.Series(c, self.bucket[c], dtype=pl.String)
        return pl.DataFrame(list(cols.values()))


def _series_name(labels: Mapping[str, Any], expr: str | None) -> str:
    name = labels.get("__name__")
    if isinstance(name, str):
        return name
    return expr if expr is not None else ""


_DUPLICATE = "duplicate timestamp: the same series twice at one time (first occurrence kept)"


def _float_samples(samples: Any) -> tuple[list[int], list[float]] | None:
    """A series' ``[timestamp, "value"]`` samples as epoch microseconds and floats, vectorised, or None.

    Only the shape Prometheus writes is taken here: every sample a two-item list of a JSON
    number (never a bool) and a string, every time plausible and none twice. The times are
    converted as :func:`_ts_us` converts them (``round(t * 1e6)``, half to even), the values
    by ``float`` as :func:`_parse_value` does. Anything else returns None, and the
    per-sample path rejects the bad samples one by one, with their reasons.

    Examples
    --------
    >>> _float_samples([[1732233600, "1.5"], [1732233615.5, "NaN"]])
    ([1732233600000000, 1732233615500000], [1.5, nan])
    >>> _float_samples([[1732233600, "1"], [1732233600, "2"]]) is None  # a time twice: the slow path says so
    True
    """
    if type(samples) is not list or not samples or not all(type(s) is list and len(s) == 2 for s in samples):
        return None
    times, raw = zip(*samples, strict=True)
    if not all(type(t) is float or type(t) is int for t in times) or not all(type(v) is str for v in raw):
        return None
    try:
        values = list(map(float, raw))
    except ValueError:
        return None
    try:
        us = np.rint(np.asarray(times, dtype=np.float64) * 1_000_000.0)
    except OverflowError:  # an integer beyond any float
        return None
    if not ((us >= PLAUSIBLE_US[0]) & (us < PLAUSIBLE_US[1])).all():  # NaN and infinities fail too
        return None
    out = us.astype(np.int64)
    if np.unique(out).size != out.size:
        return None
    return out.tolist(), values


def _add_histogram(rows: _Rows, sample: Any, name: str, series: int, seen: set[int]) -> None:
    if not isinstance(sample, (list, tuple)) or len(sample) != 2 or not isinstance(sample[1], Mapping):
        raise InvalidArgument("expected [timestamp, {count, sum, buckets}]")
    ts = _parse_ts_us(sample[0])
    if ts in seen:
        raise InvalidArgument(_DUPLICATE)
    h = sample[1]
    count = _parse_value(h.get("count"))
    total = _parse_value(h.get("sum"))
    buckets = h.get("buckets") or []
    parsed: list[tuple[str, str, str, float]] = []
    for b in buckets:
        if not isinstance(b, (list, tuple)) or len(b) != 4:
            raise InvalidArgument("expected bucket [boundary_rule, lower, upper, count]")
        rule, lower, upper, n = b
        if rule not in _BOUNDS:
            raise InvalidArgument(f"unknown bucket boundary rule {rule!r}")
        parsed.append((_BOUNDS[rule], str(lower), str(upper), _parse_value(n)))
        _parse_value(lower)
        _parse_value(upper)
    seen.add(ts)
    rows.add(ts, f"{name}_count", count, series)
    rows.add(ts, f"{name}_sum", total, series)
    for bounds, lower, upper, n in parsed:
        rows.add(ts, f"{name}_bucket", n, series, bucket=(lower, upper, bounds))


def _frame_from_data(
    data: Any,
    *,
    expr: str | None,
    source: str,
    strict: bool,
    quarantine: Quarantine | None,
) -> pl.DataFrame:
    """Turn the ``data`` member of a Prometheus query response into a metrics frame."""
    if not isinstance(data, Mapping) or "resultType" not in data or "result" not in data:
        raise ParseError("not a Prometheus query result: expected 'resultType' and 'result'", path=source)
    kind = data["resultType"]
    result = data["result"]
    rows = _Rows()
    rejected = 0

    def bad(reason: str, raw: Any) -> None:
        nonlocal rejected
        rejected += 1
        reject(quarantine, strict, source, None, reason, json.dumps(raw, default=str)[:2000])

    if kind in ("scalar", "string"):
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            raise ParseError(f"{kind} result must be [timestamp, value]", path=source)
        name = expr if expr is not None else kind
        rows.series_labels.append({})
        try:
            ts = _parse_ts_us(result[0])
            if kind == "scalar":
                rows.add(ts, name, _parse_value(result[1]), 0)
            else:
                rows.add(ts, name, math.nan, 0, string=str(result[1]))
        except (ValueError, ArithmeticError) as exc:
            bad(f"bad {kind} sample: {exc}", result)
    elif kind in ("vector", "matrix"):
        if not isinstance(result, list):
            raise ParseError(f"{kind} result must be a list of series", path=source)
        for item in result:
            if not isinstance(item, Mapping) or not isinstance(item.get("metric", {}), Mapping):
                bad("series is not an object with a 'metric' object", item)
                continue
            raw_labels = item.get("metric") or {}
            odd = next((k for k, v in raw_labels.items() if not isinstance(v, str)), None)
            if odd is not None:  # null would become "None", an object its Python repr
                bad(f"label {odd!r} is not a string ({type(raw_labels[odd]).__name__}): series skipped", item)
                continue
            labels = {str(k): v for k, v in raw_labels.items()}
            name = _series_name(labels, expr)
            labels.pop("__name__", None)
            series = len(rows.series_labels)
            rows.series_labels.append(labels)
            if kind == "vector":
                floats = [item["value"]] if "value" in item else []
                hists = [item["histogram"]] if "histogram" in item else []
            else:
                floats = item.get("values") or []
                hists = item.get("histograms") or []
            fast = _float_samples(floats)
            if fast is not None:
                rows.extend(fast[0], name, fast[1], series)
                floats = []
            seen: set[int] = set()  # the scrape parser's rule: one sample per series and time
            for sample in floats:
                try:
                    if not isinstance(sample, (list, tuple)) or len(sample) != 2:
                        raise InvalidArgument("expected [timestamp, value]")
                    ts, value = _parse_ts_us(sample[0]), _parse_value(sample[1])
                    if ts in seen:
                        raise InvalidArgument(_DUPLICATE)
                    seen.add(ts)
                    rows.add(ts, name, value, series)
                except (ValueError, ArithmeticError) as exc:
                    bad(f"bad sample of {name or '{}'}: {exc}", sample)
            seen = set()  # a native histogram series has no float samples at the same times
            for sample in hists:
                try:
                    _add_histogram(rows, sample, name, series, seen)
                except (ValueError, ArithmeticError, TypeError) as exc:
                    bad(f"bad native histogram sample of {name or '{}'}: {exc}", sample)
    else:
        raise ParseError(f"unknown resultType {kind!r}", path=source)
    if rejected and not strict and quarantine is None:
        warn_unquarantined(rejected, source)
    if quarantine is not None:
        quarantine.stats.rejected += rejected
    return rows.frame()


def _unwrap_envelope(obj: Any, *, source: str, status: int | None = None) -> Any:
    """The ``data`` of a response envelope; raise RemoteError for an error envelope."""
    if isinstance(obj, Mapping) and "status" in obj:
        for w in obj.get("warnings") or []:
            warnings.warn(f"{source}: Prometheus warning: {w}", PrometheusWarning, stacklevel=4)
        if obj["status"] == "error":
            raise RemoteError(_error_text(obj), url=source, status=status)
        if obj["status"] != "success":
            raise ParseError(f"unknown response status {obj['status']!r}", path=source)
        if "data" not in obj:
            raise ParseError("success response without 'data'", path=source)
        return obj["data"]
    return obj


def _error_text(obj: Mapping[str, Any]) -> str:
    kind = obj.get("errorType") or "unknown"
    msg = obj.get("error") or "no error message"
    return f"Prometheus {kind} error: {msg}"


def load_prometheus_json(
    source: JsonSource,
    *,
    expr: str | None = None,
    strict: bool = False,
    quarantine: Quarantine | None = None,
) -> pl.DataFrame:
    """Parse saved Prometheus query API responses into a canonical metrics frame.

    Parameters
    ----------
    source
        A parsed response (``dict``), raw JSON ``bytes``, a path, glob or directory of
        ``.json`` files (gzip/zstd detected), or a binary/text file-like object. Either the
        full envelope ``{"status": "success", "data": {...}}`` or only its ``data``.
    expr
        The query the response answers; used as ``metric`` for series without a
        ``__name__`` and for scalar/string results (see the module docstring).
    strict
        Raise :class:`~obskit.errors.ParseError` on the first malformed sample instead of
        skipping it.
    quarantine
        Collects skipped samples in lenient mode.

    Returns
    -------
    polars.DataFrame
        The canonical ``metrics`` frame; several files are concatenated (labels unioned).

    Raises
    ------
    RemoteError
        The saved response is an error envelope (``"status": "error"``); the message
        carries Prometheus' ``errorType`` and ``error``.
    ParseError
        Not JSON, or not a query response.
    SourceError
        The file cannot be read.

    Examples
    --------
    >>> data = {"resultType": "matrix", "result": [{"metric": {"job": "a"},
    ...         "values": [[1700000000, "1"], [1700000015, "+Inf"]]}]}
    >>> load_prometheus_json(data, expr="rate(x[5m])")["value"].to_list()
    [1.0, inf]
    """
    if isinstance(source, Mapping):
        data = _unwrap_envelope(source, source="<dict>")
        return _frame_from_data(data, expr=expr, source="<dict>", strict=strict, quarantine=quarantine)
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(bytes(source))
    inputs = resolve(source, suffixes=(".json", ".json.gz", ".json.zst"))
    frames = []
    for inp in inputs:
        raw = decompressed_bytes(inp)
        if quarantine is not None:
            quarantine.stats.files.append(inp.name)
            quarantine.stats.bytes += inp.size
        try:
            obj = loads_json(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParseError(f"invalid JSON: {exc}", path=inp.name) from None
        data = _unwrap_envelope(obj, source=inp.name)
        frames.append(_frame_from_data(data, expr=expr, source=inp.name, strict=strict, quarantine=quarantine))
    out = _concat(frames)
    if quarantine is not None:
        quarantine.stats.rows += out.height
    return out


def _concat(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height] or list(frames[:1])
    if not frames:
        return empty("metrics")
    if len(frames) == 1:
        return frames[0]
    out = pl.concat(frames, how="diagonal")
    labels = sorted(c for c in out.columns if c not in _CANONICAL and c not in _BUCKET_COLUMNS)
    tail = [c for c in _BUCKET_COLUMNS if c in out.columns]
    return out.select([*_CANONICAL, *labels, *tail])


# --------------------------------------------------------------------------- time


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
    "y": 365 * 86_400_000,
}


def parse_duration(value: DurationLike) -> int:
    """A duration in integer milliseconds.

    Parameters
    ----------
    value
        Seconds (int/float or numeric string), a :class:`~datetime.timedelta`, or a
        Prometheus duration such as ``"15s"``, ``"1m30s"``, ``"500ms"``, ``"2h"``, ``"1d"``.

    Returns
    -------
    int
        Milliseconds, always positive.

    Raises
    ------
    ValueError
        Unparseable, zero or negative.

    Examples
    --------
    >>> parse_duration("1m30s"), parse_duration(15), parse_duration("0.5")
    (90000, 15000, 500)
    """
    if isinstance(value, timedelta):
        ms = round(value.total_seconds() * 1000)
    elif isinstance(value, bool):
        raise InvalidArgument(f"invalid duration {value!r}")
    elif isinstance(value, (int, float)):
        ms = round(value * 1000)
    elif isinstance(value, str):
        text = value.strip()
        try:
            ms = round(float(text) * 1000)
        except ValueError:
            pos, ms_f = 0, 0.0
            for m in _DURATION_RE.finditer(text):
                if m.start() != pos:
                    break
                ms_f += float(m.group(1)) * _UNIT_MS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise InvalidArgument(f"invalid duration {value!r}; use e.g. 15s, 1m, 1h30m") from None
            ms = round(ms_f)
    else:
        raise InvalidArgument(f"invalid duration {value!r}")
    if not isinstance(ms, int) or ms <= 0 or not math.isfinite(ms):
        raise InvalidArgument(f"duration must be positive, got {value!r}")
    return ms


def parse_time(value: TimeLike) -> int:
    """A point in time as integer milliseconds since the epoch.

    Parameters
    ----------
    value
        ``datetime`` (naive means UTC), RFC 3339 string, or epoch seconds (number or
        numeric string).

    Returns
    -------
    int
        Milliseconds since 1970-01-01T00:00:00Z.

    Examples
    --------
    >>> parse_time("2024-01-01T00:00:00Z"), parse_time(1.5), parse_time("1.5")
    (1704067200000, 1500, 1500)
    """
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(value, bool):
        raise InvalidArgument(f"invalid time {value!r}")
    if isinstance(value, int):
        return value * 1000
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"invalid time {value!r}")
        return round(value * 1000)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int((Decimal(text) * 1000).to_integral_value())
        except ArithmeticError:
            pass
        try:
            return parse_time(datetime.fromisoformat(text))
        except ValueError:
            raise InvalidArgument(f"invalid time {value!r}; use RFC 3339 or epoch seconds") from None
    raise InvalidArgument(f"invalid time {value!r}")


def _fmt_s(ms: int) -> str:
    """Milliseconds as exact decimal seconds, e.g. 1700000000123 -> '1700000000.123'."""
    return format(Decimal(ms).scaleb(-3).normalize(), "f")


# --------------------------------------------------------------------------- client


class _Secret:
    """Holds a credential; its repr never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None


class PrometheusClient:
    """Query a Prometheus server's HTTP API into canonical metrics frames.

    Parameters
    ----------
    base_url
        Server root, e.g. ``"http://127.0.0.1:9090"`` or ``"https://host/prometheus"``.
        ``user:password@`` in the URL is used as basic auth and removed from the URL.
    bearer_token
        Sent as ``Authorization: Bearer <token>``.
    basic_auth
        ``(user, password)`` sent as ``Authorization: Basic ...``. Exclusive with
        ``bearer_token``.
    timeout
        Seconds to wait for connecting and for each read.
    retries
        How many times to retry after the first attempt on connection errors, timeouts,
        HTTP 5xx and 429 (never on other 4xx). ``retries=3`` makes at most 4 attempts.
    backoff
        Delay before the first retry in seconds; doubled for each further retry. A
        ``Retry-After`` header (seconds, capped at 60) wins when it is longer.
    headers
        Extra request headers (e.g. ``X-Scope-OrgID``); their values are treated as
        secrets.
    max_points
        Points per series per request; longer ranges are split (Prometheus allows 11,000).

    Examples
    --------
    >>> client = PrometheusClient("http://u:secret@127.0.0.1:9090")
    >>> client
    PrometheusClient('http://127.0.0.1:9090', auth='basic', timeout=10.0, retries=3)
    >>> "secret" in repr(client)
    False
    """

    def __init__(
        self,
        base_url: str,
        *,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        max_points: int = MAX_POINTS_PER_SERIES,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgument("base_url must be an http(s) URL with a host")
        if parts.username is not None or parts.password is not None:
            if basic_auth is None and bearer_token is None:
                basic_auth = (
                    urllib.parse.unquote(parts.username or ""),
                    urllib.parse.unquote(parts.password or ""),
                )
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            if ":" in parts.hostname:
                host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
            parts = parts._replace(netloc=host)
        self.base_url = urllib.parse.urlunsplit(parts._replace(query="", fragment="")).rstrip("/")
        if bearer_token is not None and basic_auth is not None:
            raise InvalidArgument("give either bearer_token or basic_auth, not both")
        if retries < 0 or timeout <= 0 or backoff < 0 or max_points < 1:
            raise InvalidArgument("retries and backoff must be >= 0, timeout > 0, max_points >= 1")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_points = int(max_points)
        self._auth_kind: str | None = None
        secrets: list[str] = []
        hdrs: dict[str, _Secret] = {}
        if bearer_token is not None:
            self._auth_kind = "bearer"
            hdrs["Authorization"] = _Secret(f"Bearer {bearer_token}")
            secrets.append(bearer_token)
        elif basic_auth is not None:
            self._auth_kind = "basic"
            user, password = basic_auth
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            hdrs["Authorization"] = _Secret(f"Basic {token}")
            secrets += [password, token]
        for k, v in (headers or {}).items():
            hdrs[str(k)] = _Secret(str(v))
            secrets.append(str(v))
        self._headers = hdrs
        self._secrets = tuple(_Secret(s) for s in secrets if len(s) >= 4)
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        auth = repr(self._auth_kind)
        return f"PrometheusClient({self.base_url!r}, auth={auth}, timeout={self.timeout}, retries={self.retries})"

    # ------------------------------------------------------------------ plumbing

    def _scrub(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s.reveal(), "<redacted>")
        return text

    def _post(self, path: str, params: Mapping[str, str]) -> Any:
        """POST form ``params`` to ``path``; return the decoded JSON envelope."""
        url = f"{self.base_url}{path}"
        body = urllib.parse.urlencode(params).encode("ascii")
        attempts = self.retries + 1
        last: str = ""
        retry_after: float | None = None
        for attempt in range(attempts):
            if attempt:
                delay = self.backoff * (2 ** (attempt - 1))
                delay = max(delay, retry_after) if retry_after is not None else delay
                logger.info(
                    "retrying %s in %.2fs (attempt %d of %d) after: %s",
                    url,
                    delay,
                    attempt + 1,
                    attempts,
                    last,
                )
                _time.sleep(delay)
                retry_after = None
            # base_url was checked to be http(s) in __init__.
            req = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
            req.add_header("Accept", "application/json")
            req.add_header("User-Agent", "obskit")
            for k, v in self._headers.items():
                req.add_unredirected_header(k, v.reveal())
            logger.debug("POST %s (attempt %d of %d)", url, attempt + 1, attempts)
            # self.timeout bounds each socket read; the deadline bounds the whole answer
            deadline = _time.monotonic() + URL_DEADLINE_S
            try:
                with self._opener.open(req, timeout=self.timeout) as resp:
                    status = int(resp.status)
                    raw = read_body(resp, limit=URL_MAX_BYTES, deadline=deadline, what="Prometheus answer")
            except ValueError as exc:  # over URL_MAX_BYTES: retrying gets the same answer
                raise RemoteError(str(exc), url=url) from None
            except urllib.error.HTTPError as exc:
                status = int(exc.code)
                try:
                    raw = read_body(exc, limit=64 << 10, deadline=deadline, what="error body")
                except (OSError, HTTPException, ValueError, AttributeError):
                    raw = b""
                finally:
                    exc.close()
                if status >= 500 or status == 429:
                    retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                    last = self._scrub(self._http_error_text(status, exc.reason, raw))
                    continue
                if 300 <= status < 400:
                    raise RemoteError(
                        f"HTTP {status}: redirects are not followed; point base_url at the final server address",
                        url=url,
                        status=status,
                    ) from None
                raise RemoteError(
                    self._scrub(self._http_error_text(status, exc.reason, raw)),
                    url=url,
                    status=status,
                ) from None
            except (urllib.error.URLError, OSError, HTTPException) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                last = self._scrub(f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__)
                continue
            return self._decode(raw, url, status)
        raise RemoteError(
            f"Prometheus request failed after {attempts} attempt{'s' if attempts != 1 else ''}: {last}",
            url=url,
            status=_status_of(last),
        )

    def _http_error_text(self, status: int, reason: Any, raw: bytes) -> str:
        text = f"HTTP {status} {reason or ''}".rstrip()
        try:
            obj = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            obj = None
        if isinstance(obj, Mapping) and ("error" in obj or "errorType" in obj):
            return f"{text}: {_error_text(obj)}"
        snippet = raw[:300].decode("utf-8", "replace").strip()
        return f"{text}: {snippet}" if snippet else text

    def _decode(self, raw: bytes, url: str, status: int) -> Any:
        try:
            obj = loads_json(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            snippet = raw[:200].decode("utf-8", "replace")
            raise RemoteError(self._scrub(f"response is not JSON: {snippet!r}"), url=url, status=status) from None
        if isinstance(obj, Mapping) and obj.get("status") == "error":
            raise RemoteError(self._scrub(_error_text(obj)), url=url, status=status)
        if not isinstance(obj, Mapping) or obj.get("status") != "success" or "data" not in obj:
            raise RemoteError("response is not a Prometheus API envelope", url=url, status=status)
        for w in obj.get("warnings") or []:
            warnings.warn(self._scrub(f"Prometheus warning: {w}"), PrometheusWarning, stacklevel=3)
        return obj["data"]

    # ------------------------------------------------------------------ API

    def raw_query(self, expr: str, time: TimeLike | None = None) -> Any:
        """The ``data`` of ``/api/v1/query`` as returned (no frame conversion)."""
        params = {"query": expr}
        if time is not None:
            params["time"] = _fmt_s(parse_time(time))
        return self._post("/api/v1/query", params)

    def query(self, expr: str, time: TimeLike | None = None, *, strict: bool = True) -> pl.DataFrame:
        """Evaluate an instant query.

        Parameters
        ----------
        expr
            PromQL expression. A range selector (``x[10m]``) returns the raw samples.
        time
            Evaluation time: ``datetime`` (naive means UTC), RFC 3339 string or epoch
            seconds. Default: the server's now.
        strict
            Raise on a malformed sample in the response (default) instead of skipping it.

        Returns
        -------
        polars.DataFrame
            Canonical metrics frame (see the module docstring for the mapping).

        Raises
        ------
        RemoteError
            Unreachable server (after retries), HTTP error, or an error body.
        """
        data = self.raw_query(expr, time)
        return _frame_from_data(data, expr=expr, source=f"{self.base_url}/api/v1/query", strict=strict, quarantine=None)

    def query_range(
        self,
        expr: str,
        start: TimeLike,
        end: TimeLike,
        step: DurationLike,
        *,
        max_points: int | None = None,
        strict: bool = True,
    ) -> pl.DataFrame:
        """Evaluate a range query, splitting it when it exceeds ``max_points`` per series.

        Parameters
        ----------
        expr
            PromQL expression.
        start, end
            Range bounds, inclusive: ``datetime`` (naive means UTC), RFC 3339 strings or
            epoch seconds. Evaluation happens at ``start + k * step <= end``.
        step
            Seconds or a duration string (``"15s"``, ``"1m"``).
        max_points
            Override the client's ``max_points`` for this call.
        strict
            Raise on a malformed sample in the response (default) instead of skipping it.

        Returns
        -------
        polars.DataFrame
            Canonical metrics frame; with splitting, sorted by metric, labels and time.

        Raises
        ------
        RemoteError
            Unreachable server (after retries), HTTP error, or an error body.
        ValueError
            ``end`` before ``start``, or a bad ``step``.
        """
        start_ms, end_ms, step_ms = parse_time(start), parse_time(end), parse_duration(step)
        if end_ms < start_ms:
            raise InvalidArgument("end is before start")
        limit = self.max_points if max_points is None else int(max_points)
        if limit < 1:
            raise InvalidArgument("max_points must be >= 1")
        url = f"{self.base_url}/api/v1/query_range"
        frames = []
        for a, b in _chunks(start_ms, end_ms, step_ms, limit):
            data = self._post(
                "/api/v1/query_range",
                {"query": expr, "start": _fmt_s(a), "end": _fmt_s(b), "step": _fmt_s(step_ms)},
            )
            frames.append(_frame_from_data(data, expr=expr, source=url, strict=strict, quarantine=None))
        if len(frames) == 1:
            return frames[0]
        out = _concat(frames)
        keys = [c for c in out.columns if c != "value"]
        order = [c for c in keys if c != "timestamp"] + ["timestamp"]
        return out.unique(subset=keys, keep="first", maintain_order=True).sort(
            order, nulls_last=True, maintain_order=True
        )


def _chunks(start_ms: int, end_ms: int, step_ms: int, limit: int) -> Iterable[tuple[int, int]]:
    """Split ``[start, end]`` into non-overlapping pieces of at most ``limit`` grid points."""
    n_points = (end_ms - start_ms) // step_ms + 1
    if n_points <= limit:
        yield start_ms, end_ms
        return
    for first in range(0, n_points, limit):
        a = start_ms + first * step_ms
        b = min(start_ms + (first + limit - 1) * step_ms, end_ms)
        yield a, b


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP_S) if math.isfinite(seconds) else None


def _status_of(text: str) -> int | None:
    m = re.match(r"HTTP (\d{3})", text)
    return int(m.group(1)) if m else None
