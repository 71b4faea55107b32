"""ISO 8601 timestamps of a fixed layout parsed by arithmetic on their bytes.

Machine-written logs repeat one layout on every line (``2026-11-22T10:00:00.150Z``,
``...T10:00:00.150123+02:00``). For such strings, reading the digits at fixed places with
numpy is several times faster than a general parser working string by string (1M values:
about 0.05 s against 0.55 s for polars' ``str.to_datetime`` on this project's benchmark).

Every value is checked strictly: digits where digits belong, the separators, month, day of
the month (leap years included), hour, minute, second, offset. A value that fails any check,
or whose length is not one of the layouts tried, comes back null; the caller parses those
with the general parser, so nothing is lost, only handed on.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["parse_fixed_iso"]

#: Length groups tried (the most frequent lengths; a log rarely has more than two).
_GROUPS = 4
_DATE_TIME = "%Y-%m-%dT%H:%M:%S"
# byte offsets of the fields of "YYYY-MM-DDTHH:MM:SS"
_SEPARATORS = ((4, ord("-")), (7, ord("-")), (10, ord("T")), (13, ord(":")), (16, ord(":")))
_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_SECONDS_LEN = 19
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


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
    """The decimal number in byte columns ``start .. start + width`` of the transposed digits ``t``."""
    out = t[start].astype(np.int64)
    for i in range(start + 1, start + width):
        out = out * 10 + t[i]
    return out


def _digits(t: np.ndarray, rows: range | tuple[int, ...]) -> np.ndarray:
    """Whether every byte column in ``rows`` of the transposed digits holds 0-9 (uint8: '/' wraps to 255)."""
    ok = np.ones(t.shape[1], dtype=bool)
    for i in rows:
        ok &= t[i] <= 9
    return ok


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, vectorised)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _parse_group(m: np.ndarray, digits: int, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (UTC) and a validity mask for rows of one layout."""
    raw = np.ascontiguousarray(m.T)  # one byte column per row of ``raw``: every step below is contiguous
    t = raw - np.uint8(ord("0"))  # digits 0-9; anything else wraps above 9
    ok = _digits(t, _DIGITS)
    for pos, char in _SEPARATORS:
        ok &= raw[pos] == char
    pos = _SECONDS_LEN
    frac: np.ndarray | int = 0
    if digits:
        ok &= raw[pos] == ord(".")
        ok &= _digits(t, range(pos + 1, pos + 1 + digits))
        kept = min(digits, 6)  # finer than microseconds is truncated, as the general parser does
        frac = _number(t, pos + 1, kept) * 10 ** (6 - kept)
        pos += 1 + digits
    offset: np.ndarray | int = 0
    if zone == "Z":
        ok &= raw[pos] == ord("Z")
    elif zone:
        ok &= (raw[pos] == ord("+")) | (raw[pos] == ord("-"))
        minute_at = pos + 4 if zone == "+hh:mm" else pos + 3
        if zone == "+hh:mm":
            ok &= raw[pos + 3] == ord(":")
        ok &= _digits(t, (pos + 1, pos + 2, minute_at, minute_at + 1))
        oh, om = _number(t, pos + 1, 2), _number(t, minute_at, 2)
        ok &= (oh <= 23) & (om <= 59)
        offset = np.where(raw[pos] == ord("-"), -1, 1) * (oh * 3600 + om * 60)
    year, month, day = _number(t, 0, 4), _number(t, 5, 2), _number(t, 8, 2)
    hour, minute, second = _number(t, 11, 2), _number(t, 14, 2), _number(t, 17, 2)
    ok &= (month >= 1) & (month <= 12) & (year >= 1)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    dim = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    ok &= (day >= 1) & (day <= dim) & (hour <= 23) & (minute <= 59) & (second <= 59)
    days = _days_from_civil(year, np.clip(month, 1, 12), day)
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds * 1_000_000 + frac, ok


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
    lengths = raw.str.len_bytes()
    groups = (lengths.drop_nulls().value_counts(sort=True).head(_GROUPS)
              .get_column(lengths.name).to_list())
    lengths_np = lengths.fill_null(0).to_numpy()
    micros = np.zeros(raw.len(), dtype=np.int64)
    valid = np.zeros(raw.len(), dtype=bool)
    found = False
    for width in groups:
        rows = np.flatnonzero(lengths_np == width)
        sub = raw if len(rows) == raw.len() else raw.gather(rows)
        try:
            blob = sub.str.join("").item().encode("ascii")
        except UnicodeEncodeError:
            continue
        layout = _layout(blob[:width])
        if layout is None or (layout[1] == "" and not naive):
            continue
        found = True
        matrix = np.frombuffer(blob, dtype=np.uint8).reshape(len(rows), width)
        us, ok = _parse_group(matrix, *layout)
        micros[rows] = us
        valid[rows] = ok
    if not found:
        return None
    values = pl.Series(raw.name, micros, dtype=pl.Int64)
    if not valid.all():
        values = pl.select(pl.when(pl.lit(pl.Series(valid))).then(pl.lit(values))).to_series().alias(raw.name)
    return values.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
