"""ISO 8601 timestamps of a fixed layout parsed by arithmetic on their bytes.

Machine-written logs repeat one layout on every line (``2026-11-22T10:00:00.150Z``,
``...T10:00:00.150123+02:00``). For such strings, reading the digits at fixed places with
numpy is several times faster than a general parser working string by string (1M values:
about 0.08 s against 0.4 s for polars' ``str.to_datetime`` on this project's benchmark).

Every value is checked strictly: digits where digits belong, the separators, month, day of
the month (leap years included), hour, minute, second, offset. A value that fails any check,
or whose length is not one of the layouts tried, comes back null; the caller parses those
with the general parser, so nothing is lost, only handed on.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

__all__ = ["parse_fixed_iso"]

#: Length groups tried (the most frequent lengths; a log rarely has more than two).
_GROUPS = 4
_BLOCK = 1 << 16  # values transposed at a time
# byte offsets of the fields of "YYYY-MM-DDTHH:MM:SS"
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"}
_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_SECONDS_LEN = 19
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def _layout(sample: bytes) -> tuple[int, str] | None:
    """``(fraction digits, zone)`` of one value: zone ``"Z"``, ``"+hh:mm"``, ``"+hhmm"`` or ``""`` (naive)."""
    if len(sample) < _SECONDS_LEN:
        return None
    rest = sample[_SECONDS_LEN:]
    digits = 0
    if rest[:1] == b".":
        while 1 + digits < len(rest) and rest[1 + digits: 2 + digits].isdigit():
            digits += 1
        if not 1 <= digits <= 9:
            return None
        rest = rest[1 + digits:]
    if rest == b"Z":
        return digits, "Z"
    if len(rest) == 6 and rest[:1] in (b"+", b"-") and rest[3:4] == b":":
        return digits, "+hh:mm"
    if len(rest) == 5 and rest[:1] in (b"+", b"-"):
        return digits, "+hhmm"
    if rest == b"":
        return digits, ""
    return None


def _number(t: np.ndarray, start: int, width: int) -> np.ndarray:
    """The decimal number in byte rows ``start .. start + width`` of the transposed digits ``t`` (int32)."""
    out = t[start].astype(np.int32)
    for i in range(start + 1, start + width):
        out *= 10
        out += t[i]
    return out


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, vectorised)."""
    y = y - (m <= 2)
    era = y // 400  # (years are 0-9999: never negative)
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


@functools.cache
def _months() -> tuple[np.ndarray, np.ndarray]:
    """For every month of years 0-9999 (index ``year * 12 + month - 1``): the day number of its
    first day and its length in days. Two table reads per value replace the calendar arithmetic."""
    index = np.arange(10_000 * 12, dtype=np.int64)
    year, month = index // 12, index % 12 + 1
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    length = _DAYS_IN_MONTH[month] + ((month == 2) & leap)
    return _days_from_civil(year, month, np.ones_like(year)).astype(np.int32), length.astype(np.int8)


def _transposed_digits(m: np.ndarray) -> np.ndarray:
    """``m.T - '0'`` as a C-ordered uint8 array: row i holds byte i of every value (digits read 0-9,
    anything else wraps above 9). Done in blocks of rows, so each block stays in cache (3x faster)."""
    out = np.empty((m.shape[1], m.shape[0]), dtype=np.uint8)
    for start in range(0, m.shape[0], _BLOCK):
        np.subtract(m[start: start + _BLOCK].T, np.uint8(ord("0")), out=out[:, start: start + _BLOCK])
    return out


def _parse_group(m: np.ndarray, digits: int, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (UTC) and a validity mask for the rows (of bytes) of one layout."""
    t = _transposed_digits(m)  # every step below reads contiguous rows
    expect = dict(_SEPARATORS)
    digit_rows = list(_DIGITS)
    pos = _SECONDS_LEN
    if digits:
        expect[pos] = "."
        digit_rows += range(pos + 1, pos + 1 + digits)
        pos += 1 + digits
    if zone == "Z":
        expect[pos] = "Z"
    elif zone:
        minute_at = pos + 4 if zone == "+hh:mm" else pos + 3
        if zone == "+hh:mm":
            expect[pos + 3] = ":"
        digit_rows += [pos + 1, pos + 2, minute_at, minute_at + 1]
    ok = ~(t[digit_rows] > 9).any(axis=0)
    wanted = np.array([(ord(c) - ord("0")) % 256 for c in expect.values()], dtype=np.uint8)
    ok &= (t[list(expect)] == wanted[:, None]).all(axis=0)
    year, month, day = _number(t, 0, 4), _number(t, 5, 2), _number(t, 8, 2)
    hour, minute, second = _number(t, 11, 2), _number(t, 14, 2), _number(t, 17, 2)
    month_ok = (month >= 1) & (month <= 12)
    # (a value with bytes that are not digits is refused already: clipped only to stay in the table)
    at = np.clip(year * 12 + np.where(month_ok, month - 1, 0), 0, 10_000 * 12 - 1)
    first_day, length = _months()
    ok &= month_ok & (year >= 1) & (day >= 1) & (day <= length[at]) & (hour <= 23) & (minute <= 59) & (second <= 59)
    days = first_day[at] + (day - 1)
    seconds = days.astype(np.int64) * 86400 + (hour * 3600 + minute * 60 + second)
    if zone not in ("", "Z"):
        sign = np.where(t[pos] == (ord("-") - ord("0")) % 256, 1, -1)  # UTC = local - offset
        ok &= (t[pos] == (ord("+") - ord("0")) % 256) | (t[pos] == (ord("-") - ord("0")) % 256)
        oh, om = _number(t, pos + 1, 2), _number(t, minute_at, 2)
        ok &= (oh <= 23) & (om <= 59)
        seconds += sign * (oh * 3600 + om * 60)
    micros = seconds * 1_000_000
    if digits:
        kept = min(digits, 6)  # finer than microseconds is truncated, as the general parser does
        micros += _number(t, _SECONDS_LEN + 1, kept) * 10 ** (6 - kept)
    return micros, ok


def _buffers(raw: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values' bytes, start offsets and lengths (0 for a null), from one Arrow copy of the column."""
    arr = raw.to_arrow(compat_level=pl.CompatLevel.oldest())  # large_string: one contiguous buffer
    chunk = arr.combine_chunks() if hasattr(arr, "combine_chunks") else arr
    validity, offsets_buf, data_buf = chunk.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[chunk.offset: chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    if validity is not None and chunk.null_count:
        lengths = np.where(raw.is_not_null().to_numpy(), lengths, 0)
    return data, offsets[:-1], lengths


def parse_fixed_iso(raw: pl.Series, *, naive: bool = True) -> pl.Series | None:
    """``Datetime("us", "UTC")`` of ISO 8601 strings, by layout; null where a value fits none.

    Naive values (no zone) are read as UTC when ``naive`` is true and left null otherwise (a
    local time needs the general parser's time-zone rules). Returns None when no layout was
    recognised at all (the general parser then reads everything).

    >>> import polars as pl
    >>> s = pl.Series(["2026-11-22T10:00:00.150Z", "2026-02-30T10:00:00.000Z", "2026-11-22T12:00:00+02:00"])
    >>> [t.isoformat() if t else None for t in parse_fixed_iso(s).to_list()]
    ['2026-11-22T10:00:00.150000+00:00', None, '2026-11-22T10:00:00+00:00']
    """
    if raw.dtype != pl.String or raw.len() == 0:
        return None
    data, starts, lengths = _buffers(raw)
    widths, counts = np.unique(lengths[lengths >= _SECONDS_LEN], return_counts=True)
    micros = np.zeros(raw.len(), dtype=np.int64)
    valid = np.zeros(raw.len(), dtype=bool)
    found = False
    for width in widths[np.argsort(-counts)][:_GROUPS].tolist():
        rows = np.flatnonzero(lengths == width)
        first = int(starts[rows[0]])
        layout = _layout(data[first: first + width].tobytes())
        if layout is None or (layout[1] == "" and not naive):
            continue
        found = True
        if len(rows) == raw.len() and int(starts[-1]) == first + (len(rows) - 1) * width:
            matrix = data[first: first + len(rows) * width].reshape(len(rows), width)  # contiguous: no copy
        else:
            matrix = data[starts[rows][:, None] + np.arange(width)]
        micros[rows], valid[rows] = _parse_group(matrix, *layout)
    if not found:
        return None
    values = pl.Series(raw.name, micros, dtype=pl.Int64)
    if not valid.all():
        values = pl.select(pl.when(pl.lit(pl.Series(valid))).then(pl.lit(values))).to_series().alias(raw.name)
    return values.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
