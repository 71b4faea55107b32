"""Values, units and times of nvidia-smi outputs, and the sink that keeps or rejects rows."""


from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from obskit.errors import ConfigError
from obskit.limits import GPU_RANGES, GPU_USED_TOLERANCE_MIB
from obskit.load._plausible import OUTLIER_REASON, far_from_bulk, implausible_us
from obskit.load._quarantine import Quarantine, reject, warn_unquarantined
from obskit.load._sources import Input
from obskit.load.gpu._text import Line

# ---------------------------------------------------------------------------------------
# Values, units, time
# ---------------------------------------------------------------------------------------

_UNITS: dict[str, dict[str, float]] = {
    "pct": {"%": 1.0},
    "mib": {"MiB": 1.0, "GiB": 1024.0, "KiB": 1 / 1024, "MB": 1.0},
    "w": {"W": 1.0, "mW": 1e-3, "kW": 1e3},
    "mhz": {"MHz": 1.0, "GHz": 1e3, "kHz": 1e-3},
    "c": {"C": 1.0, "°C": 1.0},
}
_RANGES = GPU_RANGES
_USED_TOLERANCE_MIB = GPU_USED_TOLERANCE_MIB


def _in_range(value: float | None, kind: str) -> float | None:
    lo, hi = _RANGES.get(kind, (-math.inf, math.inf))
    if value is not None and not (math.isfinite(value) and lo <= value <= hi):
        raise _BadValue(f"{value:g} is outside the physical range [{lo:g}, {hi:g}]")
    return value


def _plausible_time(stamp: datetime | None) -> datetime | None:
    if stamp is not None:
        why = implausible_us((stamp - _EPOCH) // timedelta(microseconds=1))
        if why:
            raise _BadValue(f"timestamp {stamp.isoformat()} {why}", "timestamp")
    return stamp


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUM_RE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S.*)?$")
_TS_RE = re.compile(
    r"^(\d{4})[/-](\d{2})[/-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6})\d*)?$"
)


class _BadValue(Exception):
    """A field value that cannot be converted; the message is the reason."""

    def __init__(self, reason: str, column: str | None = None) -> None:
        super().__init__(reason)
        self.column = column


def _is_null(text: str, dash: bool = False) -> bool:
    t = text.strip()
    return (
        t == ""
        or t in ("N/A", "n/a")
        or (t.startswith("[") and t.endswith("]"))
        or (dash and t == "-")
    )


def _check_unit(unit: str | None, kind: str) -> str | None:
    """The reason ``unit`` is not acceptable for a ``kind`` column, or None."""
    if unit is None or unit == "" or unit in _UNITS[kind]:
        return None
    return f"unknown unit {unit!r} (expected {', '.join(repr(u) for u in _UNITS[kind])})"


def _number(text: str, kind: str, header_unit: str | None, dash: bool = False) -> float | None:
    if _is_null(text, dash):
        return None
    m = _NUM_RE.match(text.strip())
    if m is None:
        raise _BadValue(f"expected a number, got {text.strip()!r}")
    unit = m.group(2) or header_unit
    bad = _check_unit(unit, kind)
    if bad:
        raise _BadValue(bad)
    return float(m.group(1)) * (_UNITS[kind][unit] if unit else 1.0)


def _integer(text: str, dash: bool = False) -> int | None:
    if _is_null(text, dash):
        return None
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise _BadValue(f"expected an integer, got {text.strip()!r}") from None
    if not 0 <= value < 2**31:  # a GPU index, a process id: never negative, always an int32
        raise _BadValue(f"{value} is not a GPU index or process id (0 to 2^31 - 1)")
    return value


def _string(text: str, dash: bool = False) -> str | None:
    return None if _is_null(text, dash) else text.strip()


def _zone(timezone: str | tzinfo) -> tzinfo:
    if isinstance(timezone, tzinfo):
        return timezone
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {timezone!r} (use an IANA name such as 'Europe/Berlin')"
        ) from None


def _local_to_utc(naive: datetime, zone: tzinfo) -> datetime:
    return naive.replace(tzinfo=zone).astimezone(UTC)


class _LocalClock:
    """Local wall-clock strings to UTC datetimes, caching the zone offset per minute."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._offsets: dict[tuple[int, ...], timedelta] = {}

    def utc(self, naive: datetime) -> datetime:
        key = (naive.year, naive.month, naive.day, naive.hour, naive.minute)
        offset = self._offsets.get(key)
        if offset is None:
            offset = naive.replace(tzinfo=self.zone).utcoffset() or timedelta(0)
            self._offsets[key] = offset
        return (naive - offset).replace(tzinfo=UTC)

    def parse(self, text: str) -> datetime | None:
        """``YYYY/MM/DD HH:MM:SS[.ffffff]`` (nvidia-smi's format) in the zone, as UTC."""
        if len(text) >= 19 and text[4] == "/" and text[10] == " ":
            try:
                naive = datetime(
                    int(text[0:4]),
                    int(text[5:7]),
                    int(text[8:10]),
                    int(text[11:13]),
                    int(text[14:16]),
                    int(text[17:19]),
                    int(text[20:26].ljust(6, "0")) if len(text) > 20 else 0,
                )
                return self.utc(naive)
            except ValueError:
                pass  # the regex path below gives the reason
        return _timestamp(text, self.zone)


def _timestamp(text: str, zone: tzinfo) -> datetime | None:
    if _is_null(text):
        return None
    m = _TS_RE.match(text.strip())
    if m is None:
        raise _BadValue(f"expected 'YYYY/MM/DD HH:MM:SS.mmm', got {text.strip()!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    us = int((m.group(7) or "0").ljust(6, "0"))
    try:
        naive = datetime(y, mo, d, h, mi, s, us)
    except ValueError as exc:
        raise _BadValue(f"invalid timestamp {text.strip()!r}: {exc}") from None
    return _local_to_utc(naive, zone)


def _anchor(start: datetime | None, zone: tzinfo) -> datetime | None:
    if start is None:
        return None
    return start.astimezone(UTC) if start.tzinfo else _local_to_utc(start, zone)


class _Sink:
    """Rejects bad records (strict: raise; lenient: quarantine) and counts them."""

    def __init__(self, strict: bool, quarantine: Quarantine | None) -> None:
        self.strict = strict
        self.quarantine = quarantine
        self.rejected = 0

    def reject(self, source: str, line: Line, reason: str, column: str | None = None) -> None:
        reason_text = f"column {column!r}: {reason}" if column and not self.strict else reason
        reject(self.quarantine, self.strict, source, line[0], reason_text, line[1], column)
        self.rejected += 1

    def finish(self, inputs: list[Input], rows: int, what: str) -> None:
        if self.quarantine is not None:
            stats = self.quarantine.stats
            stats.files.extend(i.name for i in inputs)
            stats.bytes += sum(i.size for i in inputs)
            stats.rows += rows
            stats.rejected += self.rejected
        else:
            warn_unquarantined(self.rejected, what)


_LINE_COL, _SOURCE_COL = "__obskit_line", "__obskit_source"


def _reject_far_from_bulk(frame: pl.DataFrame, sink: _Sink) -> pl.DataFrame:
    """Reject rows whose timestamp is far from the bulk of the load (a year-9999 row, a clock jump)."""
    if _LINE_COL not in frame.columns:
        return frame
    far = far_from_bulk(frame["timestamp"]) if frame.height else pl.Series([], dtype=pl.Boolean)
    if far.any():
        for source, line, ts in frame.filter(far).select(_SOURCE_COL, _LINE_COL, "timestamp").iter_rows():
            sink.reject(source, (line, ""), f"timestamp {ts.isoformat()} {OUTLIER_REASON}", column="timestamp")
        frame = frame.filter(~far)
    return frame.drop(_LINE_COL, _SOURCE_COL)


def _columns(names: Iterable[str]) -> dict[str, list[object]]:
    return {name: [] for name in names}


def _frame(
    rows: dict[str, list[object]], schema: pl.Schema, extra: Iterable[str] = ()
) -> pl.DataFrame:
    cols = {name: pl.Series(name, rows[name], dtype=dtype) for name, dtype in schema.items()}
    for name in extra:
        cols[name] = pl.Series(name, rows[name], dtype=pl.String())
    return pl.DataFrame(cols)


def _concat(frames: list[pl.DataFrame], empty_schema: pl.Schema) -> pl.DataFrame:
    frames = [f for f in frames if f.width]
    if not frames:
        return pl.DataFrame(schema=empty_schema)
    return pl.concat(frames, how="diagonal_relaxed")




def _factor(kind: str, unit: str | None) -> float:
    """What a value in the header's ``unit`` is multiplied by to be in the column's unit."""
    return _UNITS[kind].get(unit, 1.0) if unit else 1.0


def _suffix(unit: str | None) -> str | None:
    """How a value ends when it repeats the header's unit (``"42 %"``)."""
    return f" {unit}" if unit else None


def _fast_number(kind: str, unit: str | None, dash: bool = False) -> Callable[[str], float | None]:
    """A converter for one column: plain floats and ``<x> <header unit>`` skip the regex."""
    factor = _factor(kind, unit)
    suffix = _suffix(unit)

    def convert(text: str) -> float | None:
        body = text[: -len(suffix)] if suffix and text.endswith(suffix) else text
        if body[:1].isdigit():
            try:
                return _in_range(float(body) * factor, kind)
            except ValueError:
                pass
        return _in_range(_number(text, kind, unit, dash), kind)

    return convert
