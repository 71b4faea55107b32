"""Request logs (JSON lines, CSV, Parquet; plain, gzip or zstd) into the ``requests`` frame.

A column mapping adapts a user's field names (``{"timestamp": "ts"}`` maps the canonical
``timestamp`` to the log field ``ts``). Timestamps may be ISO 8601 strings (with ``Z`` or an
offset; naive ones get the explicit ``timezone``) or epoch numbers in s/ms/us/ns. Status may
be an HTTP code, a gRPC code, ``"ok"``/``"error"``-like text, or a boolean.

Rows that cannot be converted (unparseable timestamp, non-numeric latency, unknown status,
confidence outside [0, 1], invalid JSON...) are rejected: strict mode raises
:class:`~obskit.errors.ParseError` naming file and line; lenient mode (the default) keeps
them in a :class:`~obskit.load.Quarantine` with file, line and reason.

Examples
--------
>>> import io
>>> log = io.BytesIO(b'{"ts": 1763769600000, "id": "a", "model": "m", "model_version": "1", '
...                  b'"latency_ms": 12.5, "code": 200}\\n')
>>> df = load_requests(log, columns={"timestamp": "ts", "request_id": "id", "status_code": "code"},
...                    timestamp_format="ms")
>>> df.select("timestamp", "status", "latency_ms").row(0)
(datetime.datetime(2025, 11, 22, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 'ok', 12.5)
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import polars as pl

from obskit.errors import InvalidArgument, SchemaError, SourceError, Violation
from obskit.load._duplicates import DUPLICATE_REASON
from obskit.load._iso import parse_fixed_iso
from obskit.load._plausible import FAR_REQUEST_REASON, YEARS_REASON, far_from_bulk
from obskit.load._plausible import OUTLIER_MARGIN as OUTLIER_MARGIN  # re-exported
from obskit.load._plausible import PLAUSIBLE_YEARS as PLAUSIBLE_YEARS  # re-exported
from obskit.load._quarantine import LoadStats, Quarantine, reject, warn_unquarantined
from obskit.load._records import EMPTY_FILE, LineRemap
from obskit.load._records import LINE as _LINE
from obskit.load._records import format_of as _format_of
from obskit.load._records import read_one as _read_one
from obskit.load._sources import SourceLike, resolve
from obskit.load.mapping import apply_mapping, missing_fields, nested_hint
from obskit.load.row_checks import Check, reason_expr, value_checks
from obskit.progress import enabled as progress_enabled
from obskit.progress import progress
from obskit.schemas import REQUESTS, STATUS, TIMESTAMP

__all__ = ["LATENCY_FACTORS", "LINE_COLUMN", "attach_feedback", "latency_unit_warning", "load_feedback",
           "load_reference", "load_requests", "median_unit_warning", "scan_requests"]

_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)
_SOURCE = "__obskit_source"
#: The column :func:`load_requests` keeps each row's line in with ``keep_lines=True``.
LINE_COLUMN = _LINE
_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".gz", ".zst")
_TEXT_OK = {"ok", "success", "succeeded", "true", "200"}
_TEXT_ERR = {"error", "err", "fail", "failed", "failure", "false", "exception", "timeout"}


def _epoch_any_unit(number: pl.Expr) -> pl.Expr:
    """Epoch numbers whose unit nobody named, each read in the unit that makes it a date of
    1990–2200: those spans do not overlap (seconds below 1e11, ms below 1e14, us below 1e17,
    then ns), so ``1741600000``, ``1741600000123`` and ``1741600000123456789`` are one instant.
    A number that fits no unit is read as seconds (and rejected as implausible later).
    """
    a = number.abs()
    per_us = pl.when(a < 1e11).then(1e6).when(a < 1e14).then(1e3).when(a < 1e17).then(1.0).otherwise(1e-3)
    return _epoch(number, per_us)


#: Microseconds per unit of an epoch number.
_US_PER = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}


def _epoch(number: pl.Expr, per_us: float | pl.Expr) -> pl.Expr:
    return (number * per_us).round(0).cast(pl.Int64, strict=False).cast(TIMESTAMP)


def _timestamp_expr(col: str, fmt: str, timezone: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(col)
    if fmt in _US_PER:
        return _epoch(c.cast(pl.Float64, strict=False), _US_PER[fmt])
    if dtype.is_numeric():  # epoch numbers under the default format: the unit is read from each value
        return _epoch_any_unit(c.cast(pl.Float64, strict=False))
    if isinstance(dtype, pl.Datetime):
        if dtype == TIMESTAMP:  # already canonical (staged parquet): left as it is, so a filter on the
            return c            # time reaches the parquet reader and skips the row groups outside it
        if dtype.time_zone is None:
            return c.dt.replace_time_zone(timezone).dt.convert_time_zone("UTC").cast(TIMESTAMP)
        return c.dt.convert_time_zone("UTC").cast(TIMESTAMP)
    s = (c.cast(pl.String).str.strip_chars().str.replace(r"[zZ]$", "+00:00").str.replace(" ", "T")
         .str.replace(r"(T\d\d:\d\d:\d\d),(\d)", "${1}.${2}"))  # ISO 8601 allows a decimal comma
    has_offset = s.str.contains(r"[+-]\d\d:?\d\d$")
    aware = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC")
    aware_nofrac = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%z", strict=False, time_unit="us", time_zone="UTC")
    naive = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    naive_nofrac = s.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us")
    local = pl.coalesce(naive, naive_nofrac).dt.replace_time_zone(
        timezone, ambiguous="null", non_existent="null"
    ).dt.convert_time_zone("UTC")
    iso = pl.when(has_offset).then(pl.coalesce(aware, aware_nofrac)).otherwise(local).cast(TIMESTAMP)
    digits = s.str.contains(r"^\d{9,}(?:\.\d+)?$")  # an epoch number a JSON or CSV reader kept as text
    return pl.when(digits).then(_epoch_any_unit(s.cast(pl.Float64, strict=False))).otherwise(iso)


_ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
_ISO_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:?\d\d$")
_ISO_NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")


def parse_timestamps(raw: pl.Series, fmt: str = "iso8601", timezone: str = "UTC") -> pl.Series:
    """Parse a column of timestamps to ``Datetime("us", "UTC")``; unparseable values become null.

    The format of the first value picks one exact, fast pattern; values that it does not fit
    (mixed offsets, missing fractions) go through the general parser, so mixed logs still load.

    >>> import polars as pl
    >>> ts = parse_timestamps(pl.Series(["2026-11-22T10:00:00.5Z", "2026-11-22T12:00:00+02:00", "x"]))
    >>> [t.isoformat() if t else None for t in ts.to_list()]
    ['2026-11-22T10:00:00.500000+00:00', '2026-11-22T10:00:00+00:00', None]
    """
    name = raw.name or "timestamp"

    def general() -> pl.Series:
        return pl.DataFrame({name: raw}).select(_timestamp_expr(name, fmt, timezone, raw.dtype)).to_series()

    if raw.dtype != pl.String or fmt != "iso8601":
        return general().alias(name)
    first = raw.drop_nulls().head(1).to_list()
    if not first:
        return pl.repeat(None, raw.len(), dtype=TIMESTAMP, eager=True).alias(name)
    sample = first[0]
    fixed = parse_fixed_iso(raw, naive=timezone == "UTC")
    if fixed is not None:
        fast = fixed
    elif _ISO_Z.match(sample):
        fast = raw.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", strict=False, cache=False)
        fast = fast.dt.replace_time_zone("UTC")
    elif _ISO_OFFSET.match(sample):
        fast = raw.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", time_unit="us", time_zone="UTC", strict=False,
                                   cache=False)
    elif _ISO_NAIVE.match(sample):
        fast = raw.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False, cache=False)
        fast = fast.dt.replace_time_zone(timezone, ambiguous="null", non_existent="null").dt.convert_time_zone(
            "UTC")
    else:
        return general().alias(name)
    fast = fast.cast(TIMESTAMP)
    missed = fast.is_null() & raw.is_not_null()
    if missed.any():
        idx = missed.arg_true()
        sub = raw.gather(idx)
        slow = pl.DataFrame({name: sub}).select(_timestamp_expr(name, fmt, timezone, sub.dtype)).to_series()
        fast = fast.scatter(idx, slow)
    return fast.alias(name)


def _dst_problems(raw: pl.Series, timezone: str) -> pl.Series:
    """Why a naive ISO timestamp has no single instant in ``timezone``, or null.

    Rule: a wall-clock time a DST fall-back repeats (2026-10-25 02:30 in Europe/Berlin) is
    rejected as ambiguous, never resolved to one of its two instants; a time a spring-forward
    skips (2026-03-29 02:30) is rejected as non-existent. Log with an offset (or in UTC) to avoid both.
    """
    s = raw.cast(pl.String).str.strip_chars().str.replace(" ", "T")
    naive = pl.coalesce(s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"),
                        s.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us"))
    early = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    late = naive.dt.replace_time_zone(timezone, ambiguous="latest", non_existent="null")
    return pl.select(
        pl.when(naive.is_not_null() & early.is_null())
        .then(pl.lit(f"timestamp: non-existent local time (skipped by a DST change in {timezone})"))
        .when(early != late)
        .then(pl.lit(f"timestamp: ambiguous local time (repeated by a DST change in {timezone})"))
    ).to_series()


def _status_exprs(df: pl.DataFrame, convention: str) -> tuple[pl.Expr, pl.Expr]:
    """(status enum, status_code) expressions from whatever the log has."""
    has_code = "status_code" in df.columns
    has_status = "status" in df.columns
    if has_status:
        dt = df.schema["status"]
        conv = convention
        if conv == "auto":
            conv = "bool" if dt == pl.Boolean else ("http" if dt.is_integer() else "text")
        if conv == "bool":
            st = pl.when(pl.col("status").cast(pl.Boolean, strict=False)).then(pl.lit("ok")).otherwise(pl.lit("error"))
            st = pl.when(pl.col("status").cast(pl.Boolean, strict=False).is_null()).then(None).otherwise(st)
            code = pl.col("status_code").cast(pl.Int32, strict=False) if has_code else pl.lit(None, pl.Int32)
        elif conv in ("http", "grpc"):
            num = _int_code(pl.col("status"))
            st = _code_status(num, conv)
            code = num
        else:
            low = pl.col("status").cast(pl.String).str.to_lowercase().str.strip_chars()
            st = pl.when(low.is_in(list(_TEXT_OK))).then(pl.lit("ok")).when(low.is_in(list(_TEXT_ERR))).then(
                pl.lit("error")).otherwise(None)
            code = pl.col("status_code").cast(pl.Int32, strict=False) if has_code else pl.lit(None, pl.Int32)
        return st.cast(STATUS), code
    if has_code:
        num = _int_code(pl.col("status_code"))
        conv = "grpc" if convention == "grpc" else "http"
        return _code_status(num, conv).cast(STATUS), num
    # no status at all: an error message marks a failure
    if "error" in df.columns:
        st = pl.when(pl.col("error").is_null() | (pl.col("error").cast(pl.String) == "")).then(pl.lit("ok")).otherwise(
            pl.lit("error"))
        return st.cast(STATUS), pl.lit(None, pl.Int32)
    raise SchemaError("requests", [Violation("status", "no status, status_code or error field to derive it from")])


def _number(df: pl.DataFrame, col: str, percent: bool = False, nan: str = "not a number"
            ) -> tuple[pl.Expr, pl.Series]:
    """``col`` as Float64, and why each value present is not a number (null where it is one).

    Rule: a JSON/CSV number, or a string holding one (``"12.5"``, ``"NaN"``) is a number; with
    ``percent``, ``"90%"`` is 0.9. A boolean (``true``), a decimal comma (``"0,9"``: ``"1,234"``
    could as well be a thousands separator) and other text (``"high"``) are rejected, never null.
    """
    dt = df.schema[col]
    c = pl.col(col)
    if dt.is_numeric():  # read as a number: only a value that does not fit a float is rejected
        value = c.cast(pl.Float64, strict=False)
        return value, df.select(pl.when(c.is_not_null() & value.is_null()).then(pl.lit(f"{col}: {nan}"))
                                .otherwise(pl.lit(None, pl.String))).to_series()
    if dt == pl.Boolean:
        value = pl.lit(None, pl.Float64)
    elif dt == pl.String:
        s = c.str.strip_chars()
        value = s.cast(pl.Float64, strict=False)
        if percent:
            pct = s.str.strip_suffix("%").str.strip_chars().cast(pl.Float64, strict=False) / 100
            value = pl.when(s.str.ends_with("%")).then(pct).otherwise(value)
    else:
        value = c.cast(pl.Float64, strict=False)
    s = c.cast(pl.String).str.strip_chars().str.to_lowercase()
    why = (pl.when(c.is_null()).then(None)
           .when(pl.lit(dt == pl.Boolean) | s.is_in(["true", "false"])).then(pl.lit(f"{col}: a boolean, not a number"))
           .when(s.str.contains(r"^[+-]?\d+,\d+$")).then(pl.lit(f"{col}: decimal comma, not a number (write 0.9)"))
           .when(value.is_null()).then(pl.lit(f"{col}: {nan}")))
    return value, df.select(why).to_series()


def _int_code(col: pl.Expr) -> pl.Expr:
    """A status code as an integer; a fraction (``404.9``) or a non-number is null (then rejected)."""
    f = col.cast(pl.Float64, strict=False)
    return pl.when(f.is_finite() & (f == f.floor()) & f.abs().lt(2**31)).then(f.cast(pl.Int32, strict=False))


def _code_status(num: pl.Expr, conv: str) -> pl.Expr:
    """ok / error from a code; a code no protocol has (HTTP outside 100-599, gRPC outside 0-16) is null.

    >>> import polars as pl
    >>> codes = pl.DataFrame({"c": [200, 404, 503, 0, -1, 1000]})
    >>> codes.select(_code_status(pl.col("c"), "http").alias("s"))["s"].to_list()
    ['ok', 'error', 'error', None, None, None]
    """
    if conv == "grpc":
        valid, ok = num.is_between(0, 16), num == 0
    else:
        valid, ok = num.is_between(100, 599), num < 400
    return pl.when(num.is_null() | ~valid).then(None).when(ok).then(pl.lit("ok")).otherwise(pl.lit("error"))


#: Milliseconds per unit of a logged latency (``latency_unit``).
LATENCY_FACTORS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def latency_unit_warning(latency_ms: pl.Series, unit: str = "ms", *, key: str = "latency_unit") -> str | None:
    """Why the median of ``latency_ms`` (already converted from ``unit``) looks like another unit, or None.

    Rule: with :data:`~obskit.limits.LATENCY_CHECK_MIN_ROWS` finite latencies or more, a median
    outside :data:`~obskit.limits.PLAUSIBLE_MEDIAN_LATENCY_MS` is implausible for a served model;
    the likely unit is the one that puts the median inside that range and nearest 100 ms.

    >>> latency_unit_warning(pl.Series([0.012] * 50))
    'median latency 0.012 ms is implausible for milliseconds; the log is probably in seconds: set latency_unit = "s"'
    >>> latency_unit_warning(pl.Series([12.0] * 50)) is None
    True
    """
    values = latency_ms.cast(pl.Float64, strict=False).drop_nulls()
    values = values.filter(values.is_finite())
    median = values.median()
    if not isinstance(median, (int, float)):
        return None
    return median_unit_warning(float(median), values.len(), unit, key=key)


def median_unit_warning(median: float, count: int, unit: str = "ms", *, key: str = "latency_unit") -> str | None:
    """:func:`latency_unit_warning` from a median (in ms) of ``count`` latencies (a sketch's, at scale)."""
    import math

    from obskit.limits import LATENCY_CHECK_MIN_ROWS, PLAUSIBLE_MEDIAN_LATENCY_MS

    if count < LATENCY_CHECK_MIN_ROWS or not math.isfinite(median):
        return None
    lo, hi = PLAUSIBLE_MEDIAN_LATENCY_MS
    if lo <= median <= hi:
        return None
    msg = f"median latency {median:.3g} ms is implausible for {_UNIT_NAMES[unit]}"
    raw = median / LATENCY_FACTORS[unit]  # the median as the log writes it
    fits = [(abs(math.log10(raw * f) - 2), u) for u, f in LATENCY_FACTORS.items()
            if u != unit and raw > 0 and lo <= raw * f <= hi]
    if not fits:
        return f"{msg}; check the latency field and {key}"
    likely = min(fits)[1]
    return f'{msg}; the log is probably in {_UNIT_NAMES[likely]}: set {key} = "{likely}"'


def _is_probabilities(dtype: pl.DataType) -> bool:
    """A list (or array) of numbers: one probability per class."""
    return isinstance(dtype, (pl.List, pl.Array)) and (dtype.inner.is_numeric() or dtype.inner == pl.Null)


def _probabilities(df: pl.DataFrame, class_names: tuple[str, ...] | None
                   ) -> tuple[pl.Expr, pl.Expr, pl.Series]:
    """(confidence, argmax prediction, why a row is rejected) from a list of class probabilities.

    Rule: the confidence is the largest probability; the prediction is its index as text, or
    ``class_names[index]`` (the first one on a tie). A list that is empty, holds a value that
    is not a finite number in [0, 1], sums to more than
    :data:`~obskit.limits.PROBABILITY_SUM_TOLERANCE` away from 1 (logits, multi-label scores, a
    truncated top-k) or whose length is not the number of ``class_names`` is rejected. A
    null list is a missing confidence, as a null number is.
    """
    from obskit.limits import PROBABILITY_SUM_TOLERANCE

    c = pl.col("confidence")
    if isinstance(df.schema["confidence"], pl.Array):
        c = c.arr.to_list()
    p = c.cast(pl.List(pl.Float64), strict=False)
    index = p.list.arg_max()
    if class_names:
        predicted = index.replace_strict(list(range(len(class_names))), list(class_names), default=None,
                                         return_dtype=pl.String)
    else:
        predicted = index.cast(pl.String)
    in_range = p.list.eval((pl.element().is_finite() & pl.element().is_between(0.0, 1.0)).fill_null(False)).list.all()
    why = (pl.when(c.is_null()).then(None)
           .when(p.list.len() == 0).then(pl.lit("confidence: an empty list of class probabilities"))
           .when(~in_range).then(pl.lit("confidence: a class probability is not a finite number in [0, 1]"))
           .when((p.list.sum() - 1).abs() > PROBABILITY_SUM_TOLERANCE)
           .then(pl.lit(f"confidence: class probabilities do not sum to 1 (±{PROBABILITY_SUM_TOLERANCE:g})")))
    if class_names:
        why = why.when(p.list.len() != len(class_names)).then(
            pl.lit(f"confidence: not one probability per class_names entry ({len(class_names)})"))
    return p.list.max(), predicted, df.select(why).to_series()


def _candidates(df: pl.DataFrame, canonical: str) -> str:
    """A hint naming the log's fields that look like ``canonical`` (``latency_s`` for ``latency_ms``).

    >>> _candidates(pl.DataFrame({"latency_s": [0.1], "x": [1]}), "latency_ms")
    ' (map it: columns = { latency_ms = "latency_s" }, with latency_unit for seconds)'
    """
    stem = canonical.split("_")[0]
    near = [c for c in df.columns if stem in c.lower() and not c.startswith("__")]
    if not near:
        return ""
    unit = ", with latency_unit for seconds" if canonical == "latency_ms" and not near[0].endswith("_ms") else ""
    return f' (map it: columns = {{ {canonical} = "{near[0]}" }}{unit})'


def _canonical(df: pl.DataFrame, *, name: str, columns: Mapping[str, str], timestamp_format: str,
               timezone: str, status_convention: str, defaults: Mapping[str, str],
               strict: bool, q: Quarantine | None, remap: LineRemap | None = None,
               latency_unit: str = "ms", class_names: tuple[str, ...] | None = None) -> pl.DataFrame:
    missing_src = missing_fields(df, columns)
    if missing_src and df.height:
        raise SchemaError("requests", [Violation(f"{canon} (field {src!r})", "mapped field not found in the log"
                                                 + nested_hint(df, src)) for canon, src in missing_src.items()],
                          path=name)
    df = apply_mapping(df, columns)
    for col, value in defaults.items():
        if col not in df.columns:
            df = df.with_columns(pl.lit(value, pl.String).alias(col))
    required = [c for c in REQUESTS.required if c not in ("status",)]
    absent = [c for c in required if c not in df.columns]
    if absent:
        raise SchemaError("requests", [Violation(c, "missing required column" + _candidates(df, c)) for c in absent],
                          path=name)
    status, code = _status_exprs(df, status_convention)
    ts = parse_timestamps(df.get_column("timestamp"), timestamp_format, timezone)
    latency, not_numbers = _number(df, "latency_ms", nan="missing or not a number")
    latency = latency * LATENCY_FACTORS[latency_unit] if latency_unit != "ms" else latency
    predicted: pl.Expr | None = None
    if "confidence" in df.columns and _is_probabilities(df.schema["confidence"]):
        confidence, predicted, why = _probabilities(df, class_names)
        not_numbers = not_numbers.fill_null(why)
        if "prediction" in df.columns:
            predicted = None  # a mapped prediction wins over the argmax
    elif "confidence" in df.columns:
        confidence, why = _number(df, "confidence", percent=True)
        not_numbers = not_numbers.fill_null(why)
    conv = [
        pl.lit(ts).alias("timestamp"),
        pl.col("request_id").cast(pl.String),
        pl.col("model").cast(pl.String),
        pl.col("model_version").cast(pl.String),
        latency.alias("latency_ms"),
        status.alias("status"),
        code.alias("status_code"),
    ]
    for opt in ("error", "prediction", "label", "corrected_label"):
        if opt in df.columns:
            conv.append(pl.col(opt).cast(pl.String))
    if "confidence" in df.columns:
        conv.append(confidence.alias("confidence"))
    if predicted is not None:
        conv.append(predicted.alias("prediction"))
    if "corrected_at" in df.columns:
        conv.append(_timestamp_expr("corrected_at", timestamp_format, timezone, df.schema["corrected_at"]))
    out = df.with_columns(conv)
    # which rows failed conversion, and why
    missed = out["timestamp"].is_null() & df["timestamp"].is_not_null()
    unparsed = pl.lit(missed)
    # an epoch number too large for any date (nanoseconds read as milliseconds) is implausible,
    # as one that reads as 1970 or 5138 is, not unparseable
    number = (df["timestamp"].cast(pl.Float64, strict=False) if df.schema["timestamp"].is_numeric()
              or timestamp_format in _US_PER else None)
    too_far = pl.lit(missed & number.is_finite().fill_null(False)) if number is not None else pl.lit(False)
    dst = (_dst_problems(df["timestamp"], timezone) if timestamp_format == "iso8601" and timezone != "UTC"
           and df.schema["timestamp"] == pl.String else pl.Series(dtype=pl.String))  # (empty: no check)
    values = value_checks(out.columns)  # the checks the scan at scale applies too
    present = 2 if "request_id" in out.columns else 1  # (timestamp and request id missing come first)
    checks: list[Check] = [
        *((pl.lit(dst) == msg, msg) for msg in dst.drop_nulls().unique(maintain_order=True)),
        (too_far, f"timestamp: {YEARS_REASON}"),
        (unparsed, "timestamp: cannot parse"),
        *values[:present],
        *((pl.lit(not_numbers) == msg, msg) for msg in not_numbers.drop_nulls().unique(maintain_order=True)),
        *values[present:],
    ]
    if not out.select(pl.any_horizontal([cond.fill_null(False) for cond, _ in checks]).any()).item():
        return out  # every row passed: no reason to write (the usual case, one cheap pass)
    out = out.with_columns(reason_expr(checks, "__reason"))
    bad = out.filter(pl.col("__reason").is_not_null())
    if bad.height and remap is not None:
        exact = pl.Series(_LINE, remap(), dtype=pl.Int64)
        if exact.len() == df.height:
            df = df.with_columns(exact)
            out = out.with_columns(exact)
            bad = out.filter(pl.col("__reason").is_not_null())
    if bad.height:
        raw_rows = df.filter(pl.col(_LINE).is_in(bad[_LINE].implode()))
        raw = {r[_LINE]: r for r in raw_rows.iter_rows(named=True)}
        for line, why in bad.select(_LINE, "__reason").sort(_LINE).iter_rows():
            rec = {k: v for k, v in raw.get(line, {}).items() if not k.startswith("__")}
            reject(q, strict, name, line, why, json.dumps(rec, default=str), column=why.split(":")[0])
        out = out.filter(pl.col("__reason").is_null())
    return out.drop("__reason")


# PLAUSIBLE_YEARS and OUTLIER_MARGIN live in obskit.load._plausible (shared by every loader);
# they stay importable from here.


def _repeats(ids: pl.Series) -> bool:
    """Whether a value occurs twice: distinct hashes prove distinct values (8x cheaper than counting
    the values); only when two hashes meet are the values themselves counted.

    >>> _repeats(pl.Series(["a", "b"])), _repeats(pl.Series(["a", "b", "a"]))
    (False, True)
    """
    return ids.hash().n_unique() < ids.len() and ids.n_unique() < ids.len()


def _reject_across_files(df: pl.DataFrame, q: Quarantine, strict: bool,
                         remaps: dict[str, LineRemap] | None = None) -> pl.DataFrame:
    """Rejections that need the whole log: duplicate request ids and timestamps far from the rest.

    A request id seen again is kept once (its first occurrence in time). A timestamp more than
    :data:`OUTLIER_MARGIN` (or the log's own 1%–99% spread, if larger) outside the span of the
    bulk of the log — a clock jump, a year typo — would stretch the report's period; with 100
    rows or more such rows are rejected.
    """
    if df.is_empty():
        return df
    reasons = pl.lit(None, dtype=pl.String)
    if "request_id" in df.columns and _repeats(df["request_id"]):
        dup = ~pl.col("request_id").is_first_distinct()
        reasons = pl.when(dup).then(pl.lit(DUPLICATE_REASON)).otherwise(reasons)
    far = far_from_bulk(df["timestamp"])
    if far.any():
        reasons = pl.when(pl.lit(far)).then(pl.lit(FAR_REQUEST_REASON)).otherwise(reasons)
    flagged = df.with_columns(reasons.alias("__reason"))
    bad = flagged.filter(pl.col("__reason").is_not_null())
    if not bad.height:
        return df
    exact: dict[str, list[int]] = {}  # fast-read files assumed row i on line i + 1: the true lines
    for i, row in enumerate(bad.iter_rows(named=True)):
        source, line = str(row.get(_SOURCE) or "requests"), row.get(_LINE)
        if remaps and source in remaps and isinstance(line, int):
            lines = exact.setdefault(source, remaps[source]())
            line = lines[line - 1] if 0 < line <= len(lines) else line
        raw = json.dumps({k: v for k, v in row.items() if not k.startswith("__")}, default=str)[:500] \
            if i < 10_000 else None
        reject(q, strict, source, line, row["__reason"], raw, column=row["__reason"].split(":")[0])
    return flagged.filter(pl.col("__reason").is_null()).drop("__reason")


def load_requests(
    source: SourceLike,
    *,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    timestamp_format: str = "iso8601",
    timezone: str = "UTC",
    status_convention: str = "auto",
    defaults: Mapping[str, str] | None = None,
    strict: bool = False,
    quarantine: Quarantine | None = None,
    show_progress: bool | None = None,
    latency_unit: str = "ms",
    class_names: Sequence[str] | None = None,
    keep_lines: bool = False,
) -> pl.DataFrame:
    """Load request logs into the canonical ``requests`` frame.

    Parameters
    ----------
    source
        File, glob, folder (hive-partitioned folders too), list of files, or file-like.
    format
        ``"jsonl"``, ``"csv"`` or ``"parquet"``; default from each file name.
    columns
        Mapping canonical name -> field name in the logs (e.g. ``{"timestamp": "ts"}``).
    timestamp_format
        ``"iso8601"`` or the unit of epoch numbers: ``"s"``, ``"ms"``, ``"us"``, ``"ns"``.
        Under ``"iso8601"`` an epoch number (or a string of 9+ digits) is read in the unit
        that makes it a date of 1990–2200 (the spans of the four units do not overlap).
    timezone
        Assumed timezone of timestamps written without an offset.
    status_convention
        ``"auto"``, ``"http"`` (code < 400 is ok), ``"grpc"`` (0 is ok), ``"text"``, ``"bool"``.
    latency_unit
        The unit of the logged latency, ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``; converted to
        ``latency_ms``. :func:`latency_unit_warning` tells when the result looks like another unit.
    class_names
        With a ``confidence`` holding a list of class probabilities and no ``prediction``: the
        prediction is ``class_names[argmax]`` (else the argmax index as text).
    defaults
        Constant values for required columns the logs lack (e.g. ``{"model_version": "v1"}``).
    strict
        Raise :class:`~obskit.errors.ParseError` on the first bad record instead of quarantining.
    quarantine
        Collects rejected records and the load statistics (files, bytes, rows, rejected).
    show_progress
        A progress bar over files and a closing "read N files, rows, rejected" line on stderr;
        default: only in an interactive terminal (see :mod:`obskit.progress`).
    keep_lines
        Keep each row's 1-based line in its file as a last column, :data:`LINE_COLUMN`
        (staging keeps it, so a row rejected later, across files, is named by file and line).

    Returns
    -------
    polars.DataFrame
        The ``requests`` frame, sorted by timestamp; extra fields (features) follow the
        canonical columns.
    """
    if latency_unit not in LATENCY_FACTORS:
        raise InvalidArgument(f"latency_unit must be one of {', '.join(LATENCY_FACTORS)}, got {latency_unit!r}")
    names = tuple(class_names) if class_names is not None else None
    if names is not None and (not all(isinstance(n, str) for n in names) or len(set(names)) != len(names)):
        raise InvalidArgument("class_names must be distinct strings")
    q = quarantine if quarantine is not None else Quarantine()
    inputs = resolve(source, suffixes=_SUFFIXES)
    stats = q.stats if quarantine is not None else LoadStats()
    before = q.count
    frames: list[pl.DataFrame] = []
    failures: list[SourceError] = []
    remaps: dict[str, LineRemap] = {}
    for inp in progress(inputs, total=len(inputs), desc="request logs", show=show_progress, unit="file"):
        fmt = _format_of(inp, format)
        try:
            raw, remap = _read_one(inp, fmt, strict, q, columns, timestamp_format)
        except SourceError as exc:
            if strict or len(inputs) == 1:
                raise
            failures.append(exc)
            if exc.reason == EMPTY_FILE:  # a quiet hour's file among others: read, nothing in it, nothing lost
                stats.files.append(inp.name)
                continue
            stats.skipped.append((inp.name, f"{exc.reason} (file skipped)"))  # one bad file of many: reported
            continue
        if remap is not None and keep_lines:  # every row's true line now, not only a rejected row's
            exact = pl.Series(_LINE, remap(), dtype=pl.Int64)
            raw, remap = (raw.with_columns(exact), None) if exact.len() == raw.height else (raw, remap)
        if remap is not None:
            remaps[inp.name] = remap
        frame = _canonical(
            raw, name=inp.name, columns=columns or {}, timestamp_format=timestamp_format,
            timezone=timezone, status_convention=status_convention, defaults=defaults or {},
            strict=strict, q=q, remap=remap, latency_unit=latency_unit, class_names=names,
        )
        frames.append(frame.with_columns(pl.lit(inp.name).alias(_SOURCE)))
        stats.files.append(inp.name)
        stats.bytes += inp.size
    if not frames:
        raise failures[0]
    df = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    if df["timestamp"].is_sorted():  # the usual log, written in time order: no sort to pay for
        df = df.with_columns(pl.col("timestamp").set_sorted())
    else:
        df = df.sort("timestamp", maintain_order=True)
    df = _reject_across_files(df, q, strict, remaps)
    df = df.drop(_SOURCE) if keep_lines else df.drop(_LINE, _SOURCE)
    canon = [c.name for c in REQUESTS.columns if c.name in df.columns]
    df = df.select(canon + [c for c in df.columns if c not in canon])  # still in time order
    stats.rows += df.height
    stats.rejected += q.count - before
    if quarantine is None:
        warn_unquarantined(q.count, "load_requests")
    if progress_enabled(show_progress):
        print(f"obskit: request logs: {stats.summary()}", file=sys.stderr)
    return df


def scan_requests(source: SourceLike, **options: object) -> pl.LazyFrame:
    """Lazy twin of :func:`load_requests`.

    Parquet folders and globs are scanned lazily (hive partitions become columns) when no
    conversion is needed beyond the mapping; other sources are loaded then made lazy.
    """
    if (isinstance(source, (str, Path)) and str(source).endswith(".parquet")) or (
        isinstance(source, (str, Path)) and Path(source).is_dir() and any(Path(source).rglob("*.parquet"))
    ):
        cols = options.get("columns") or {}
        assert isinstance(cols, Mapping)
        target = str(Path(source) / "**" / "*.parquet") if Path(str(source)).is_dir() else str(source)
        lf = pl.scan_parquet(target, hive_partitioning=True)
        return lf.rename({src: canon for canon, src in cols.items()}, strict=False)
    return load_requests(source, **options).lazy()  # type: ignore[arg-type]


def load_feedback(
    source: SourceLike,
    *,
    columns: Mapping[str, str] | None = None,
    timestamp_format: str = "iso8601",
    timezone: str = "UTC",
    strict: bool = False,
    quarantine: Quarantine | None = None,
) -> pl.DataFrame:
    """Load user corrections: ``request_id``, ``corrected_label``, ``corrected_at``.

    If a request was corrected more than once, the last correction wins.
    """
    cols = dict(columns or {})
    q = quarantine if quarantine is not None else Quarantine()
    frames = []
    for inp in resolve(source, suffixes=_SUFFIXES):
        raw, _ = _read_one(inp, _format_of(inp, None), strict, q)
        missing = missing_fields(raw, cols)
        if missing and raw.height:
            raise SchemaError("feedback", [Violation(f"{canon} (field {src!r})", "mapped field not found in the "
                                                     "feedback" + nested_hint(raw, src))
                                           for canon, src in missing.items()], path=inp.name)
        raw = apply_mapping(raw, cols)
        if not raw.height:
            continue  # a header-only file: no correction
        absent = [c for c in ("request_id", "corrected_label", "corrected_at") if c not in raw.columns]
        if absent and raw.height:
            raise SchemaError("feedback", [Violation(c, "missing required column") for c in absent], path=inp.name)
        ts = _timestamp_expr("corrected_at", timestamp_format, timezone, raw.schema["corrected_at"])
        out = raw.with_columns(ts.alias("corrected_at"), pl.col("request_id").cast(pl.String),
                               pl.col("corrected_label").cast(pl.String))
        bad = out.filter(pl.col("corrected_at").is_null() | pl.col("request_id").is_null())
        for line in bad[_LINE].to_list():
            reject(q, strict, inp.name, line, "corrected_at or request_id missing or unparseable")
        frames.append(out.filter(pl.col("corrected_at").is_not_null() & pl.col("request_id").is_not_null())
                      .select("request_id", "corrected_label", "corrected_at"))
    if quarantine is None:
        warn_unquarantined(q.count, "load_feedback")
    if not frames:  # only header-only files: no correction at all
        return pl.DataFrame(schema={"request_id": pl.String, "corrected_label": pl.String, "corrected_at": TIMESTAMP})
    fb = pl.concat(frames, how="vertical_relaxed")
    return fb.sort("corrected_at").unique("request_id", keep="last", maintain_order=True)


def attach_feedback(requests: _Frame, feedback: pl.DataFrame) -> _Frame:
    """Join corrections onto requests (``corrected_label``, ``corrected_at``) by request_id.

    ``requests`` may be a lazy scan (the explorer at scale): the join then streams, holding
    only the corrections.

    >>> import polars as pl
    >>> r = pl.DataFrame({"request_id": ["a", "b"]})
    >>> f = pl.DataFrame({"request_id": ["b"], "corrected_label": ["cat"], "corrected_at": [None]})
    >>> attach_feedback(r, f)["corrected_label"].to_list()
    [None, 'cat']
    """
    names = requests.collect_schema().names() if isinstance(requests, pl.LazyFrame) else requests.columns
    base = requests.drop([c for c in ("corrected_label", "corrected_at") if c in names])
    fb = feedback.select("request_id", "corrected_label", pl.col("corrected_at").cast(TIMESTAMP))
    if isinstance(base, pl.LazyFrame):
        joined: _Frame = base.join(fb.lazy(), on="request_id", how="left", maintain_order="left")
        return joined
    return base.join(fb, on="request_id", how="left", maintain_order="left")


def load_reference(source: SourceLike, *, format: str | None = None,
                   columns: Mapping[str, str] | None = None, strict: bool = False,
                   quarantine: Quarantine | None = None) -> pl.DataFrame:
    """Load the training reference set (Parquet, CSV or JSON lines) as-is, checked non-empty.

    A record that cannot be read (invalid JSON or UTF-8, a CSV row with the wrong number of
    fields, nested too deep) is rejected into ``quarantine`` with its file and line, as for
    request logs; ``strict`` raises :class:`~obskit.errors.ParseError` instead.

    ``columns`` maps the names the config uses (features, ``prediction``, ``label``) to the
    set's own fields (dotted paths reach nested ones); a mapped field the set lacks is an error.

    >>> import io
    >>> ref = io.BytesIO(b'{"img_brightness": 0.4, "y": "cat"}\\n')
    >>> load_reference(ref, format="jsonl", columns={"brightness": "img_brightness", "label": "y"}).columns
    ['brightness', 'label']
    """
    cols = dict(columns or {})
    frames = []
    q = quarantine if quarantine is not None else Quarantine()
    for inp in resolve(source, suffixes=_SUFFIXES):
        raw = _read_one(inp, _format_of(inp, format), strict, q)[0].drop(_LINE)
        missing = missing_fields(raw, cols)
        if missing and raw.height:
            raise SchemaError("reference", [Violation(f"{canon} (field {src!r})", "mapped field not found in the "
                                                      "reference set" + nested_hint(raw, src))
                                            for canon, src in missing.items()], path=inp.name)
        frames.append(apply_mapping(raw, cols))
    df = pl.concat(frames, how="diagonal_relaxed")
    if df.height == 0:
        raise SourceError("reference set is empty", path=str(source))
    if quarantine is None:
        warn_unquarantined(q.count, "load_reference")
    return df
