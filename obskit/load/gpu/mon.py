"""Loaders of ``nvidia-smi dmon`` and ``pmon`` output."""


from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo

import polars as pl

from obskit.errors import InvalidArgument, ParseError
from obskit.load._quarantine import Quarantine
from obskit.load._sources import Input, SourceLike, resolve
from obskit.load.gpu._text import _SUFFIXES, Line, _Block, _blocks, _read_lines
from obskit.load.gpu._values import (
    _LINE_COL,
    _SOURCE_COL,
    _UNITS,
    _anchor,
    _BadValue,
    _check_unit,
    _columns,
    _concat,
    _fast_number,
    _frame,
    _integer,
    _is_null,
    _LocalClock,
    _plausible_time,
    _reject_far_from_bulk,
    _Sink,
    _string,
    _zone,
)
from obskit.schemas import GPU, GPU_PROCESSES

# ---------------------------------------------------------------------------------------
# dmon / pmon
# ---------------------------------------------------------------------------------------

_DMON_MAP = {
    "pwr": ("power_w", "w"),
    "gtemp": ("temperature_c", "c"),
    "temp": ("temperature_c", "c"),
    "sm": ("utilization_pct", "pct"),
    "mem": ("memory_utilization_pct", "pct"),
    "fb": ("memory_used_mib", "mib"),
    "mclk": ("mem_clock_mhz", "mhz"),
    "pclk": ("sm_clock_mhz", "mhz"),
}
_MON_NUMBER = {kind: _fast_number(kind, None, dash=True) for kind in _UNITS}
_PMON_MAP = {
    "sm": ("sm_pct", "pct"),
    "mem": ("mem_pct", "pct"),
    "fb": ("used_memory_mib", "mib"),
}


@dataclass(frozen=True)
class _MonHeader:
    """A dmon/pmon header: column names, their units, and where it was."""

    names: tuple[str, ...]
    units: tuple[str | None, ...]
    line: Line

    def unit(self, column: str) -> str | None:
        return self.units[self.names.index(column)]


def _mon_header(line: Line) -> tuple[str, ...] | None:
    text = line[1].strip()
    if not text.startswith("#"):
        return None
    names = tuple(text.lstrip("#").split())
    return names if "gpu" in names else None


def _mon_units(line: Line, width: int) -> tuple[str | None, ...] | None:
    text = line[1].strip()
    if not text.startswith("#"):
        return None
    units = text.lstrip("#").split()
    if len(units) != width or "Idx" not in units:
        return None
    return tuple(units)


def _mon_blocks(block: _Block, tool: str) -> list[tuple[_MonHeader, list[Line]]]:
    out: list[tuple[_MonHeader, list[Line]]] = []
    lines = [ln for ln in block.lines if ln[1].strip()]
    i = 0
    while i < len(lines):
        names = _mon_header(lines[i])
        if names is None and lines[i][1].lstrip().startswith("#"):
            i += 1  # a comment line
            continue
        if names is None:
            if not out:
                raise ParseError(
                    f"no 'nvidia-smi {tool}' header ('# gpu ...') before the first row; "
                    f"first line: {lines[i][1][:80]!r}",
                    path=block.source,
                    line=lines[i][0],
                )
            out[-1][1].append(lines[i])
            i += 1
            continue
        units = _mon_units(lines[i + 1], len(names)) if i + 1 < len(lines) else None
        header = _MonHeader(names, units or (None,) * len(names), lines[i])
        if out and out[-1][0].names == names:
            pass  # dmon/pmon repeat their header; same columns, same block
        else:
            out.append((header, []))
        i += 2 if units else 1
    return out


class _Clock:
    """Turns dmon/pmon Date/Time columns (or a start + interval) into UTC timestamps."""

    def __init__(
        self, header: _MonHeader, zone: tzinfo, start: datetime | None, interval: float
    ) -> None:
        self.has_date = "Date" in header.names
        self.has_time = "Time" in header.names
        self.zone = zone
        self.local = _LocalClock(zone)
        self.start = start
        self.interval = interval
        self.day: date | None = start.astimezone(zone).date() if start else None
        self.last_time: str | None = None

    def problem(self) -> str | None:
        if self.has_date and self.has_time:
            return None
        if self.start is None:
            return (
                "the output has no Date/Time columns (run with -o DT), so sample times are "
                "unknown; pass start= (time of the first sample)"
            )
        return None

    def stamp(self, values: dict[str, str], sample: int) -> datetime:
        if self.has_time:
            day = self._day(values)
            text = values["Time"]
            try:
                h, m, sec = (int(p) for p in text.split(":"))
                naive = datetime(day.year, day.month, day.day, h, m, sec)
            except ValueError:
                raise _BadValue(f"expected HH:MM:SS, got {text!r}", "Time") from None
            return self.local.utc(naive)
        assert self.start is not None
        return self.start + timedelta(seconds=sample * self.interval)

    def _day(self, values: dict[str, str]) -> date:
        if self.has_date:
            text = values["Date"]
            try:
                if len(text) != 8:
                    raise InvalidArgument(text)
                return date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                raise _BadValue(f"expected YYYYMMDD, got {text!r}", "Date") from None
        assert self.day is not None
        if self.last_time is not None and values["Time"] < self.last_time:
            self.day += timedelta(days=1)  # the clock passed midnight
        self.last_time = values["Time"]
        return self.day


def _mon_values(line: Line, names: tuple[str, ...], tail_text: bool) -> dict[str, str] | None:
    maxsplit = len(names) - 1 if tail_text else -1
    parts = line[1].split(None, maxsplit)
    if len(parts) != len(names):
        return None
    return dict(zip(names, parts, strict=True))


def _check_mon_units(
    header: _MonHeader, mapping: Mapping[str, tuple[str, str]], sink: _Sink, source: str
) -> set[str]:
    broken: set[str] = set()
    for col in header.names:
        if col in mapping:
            bad = _check_unit(header.unit(col), mapping[col][1])
            if bad:
                sink.reject(source, header.line, f"header: {bad}", column=col)
                broken.add(col)
    return broken


@dataclass
class _MonJob:
    tool: str
    mapping: Mapping[str, tuple[str, str]]
    schema: pl.Schema
    zone: tzinfo
    start: datetime | None
    interval: float
    sink: _Sink


def _mon_frame(job: _MonJob, header: _MonHeader, lines: list[Line], source: str,
               offset: int = 0) -> tuple[pl.DataFrame, int]:
    """One header's rows; ``offset`` is the number of samples of the capture's earlier sections.

    Without Date/Time columns, sample *k* of a section is ``start + (offset + k) * interval``:
    consecutive sections of one capture (idle, then load) continue the clock instead of
    restarting it. Returns the frame and the number of samples the section held.
    """
    names = header.names
    clock = _Clock(header, job.zone, job.start, job.interval)
    problem = clock.problem()
    is_pmon = job.tool == "pmon"
    if problem and lines:
        raise ParseError(problem, path=source, line=header.line[0])
    broken = _check_mon_units(header, job.mapping, job.sink, source)
    rows = _columns([*job.schema, "process_type"])
    sample, seen = offset, set[tuple[str, str]]()
    kept: list[int] = []
    for line in lines:
        values = _mon_values(line, names, tail_text=is_pmon and names[-1] == "command")
        if values is None:
            why = f"row has a different number of fields than the {len(names)}-column header"
            job.sink.reject(source, line, f"{why} (truncated row?)")
            continue
        key = (values["gpu"], values.get("pid", ""))
        if key in seen:
            sample, seen = sample + 1, set()
        seen.add(key)
        if is_pmon and _is_null(values.get("pid", ""), dash=True):
            continue  # '-' row: the GPU runs no process in this sample
        try:
            row = _mon_row(job, values, broken, clock, sample, problem)
            _plausible_time(row["timestamp"])  # type: ignore[arg-type]
        except _BadValue as exc:
            job.sink.reject(source, line, str(exc), column=exc.column)
            continue
        for name, col in rows.items():
            col.append(row.get(name))
        kept.append(line[0])
    extra = ["process_type"] if is_pmon else []
    frame = _frame(rows, job.schema, extra).with_columns(
        pl.Series(_LINE_COL, kept, dtype=pl.Int64), pl.lit(source).alias(_SOURCE_COL))
    return frame, sample + 1 - offset if seen else 0


def _mon_row(
    job: _MonJob,
    values: dict[str, str],
    broken: set[str],
    clock: _Clock,
    sample: int,
    problem: str | None,
) -> dict[str, object]:
    row: dict[str, object] = {}
    row["timestamp"] = None if problem else clock.stamp(values, sample)
    row["gpu"] = _field(values, "gpu", lambda v: _integer(v, dash=True))
    for col, (target, kind) in job.mapping.items():
        if col in values and col not in broken:
            row[target] = _field(values, col, _MON_NUMBER[kind])
    if "pid" in values:
        row["pid"] = _field(values, "pid", lambda v: _integer(v, dash=True))
        row["process_name"] = _string(values.get("command", ""), dash=True)
        row["process_type"] = _string(values.get("type", ""), dash=True)
    return row


def _field(values: dict[str, str], col: str, convert: Callable[[str], object]) -> object:
    try:
        return convert(values[col])
    except _BadValue as exc:
        raise _BadValue(str(exc), col) from None


_COLLECTED_AT = re.compile(r"^collected_at:\s*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\s*$")


def _capture_start(inp: Input) -> datetime | None:
    """The ``collected_at:`` time in a capture file's header (the first sample's time), or None."""
    for _, text in _read_lines(inp)[:40]:
        m = _COLLECTED_AT.match(text.strip())
        if m:
            return datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).astimezone(UTC)
    return None


def _load_mon(
    source: SourceLike,
    tool: str,
    mapping: Mapping[str, tuple[str, str]],
    schema: pl.Schema,
    *,
    timezone: str | tzinfo,
    start: datetime | None,
    interval: float,
    strict: bool,
    quarantine: Quarantine | None,
) -> pl.DataFrame:
    zone = _zone(timezone)
    sink = _Sink(strict, quarantine)
    job = _MonJob(tool, mapping, schema, zone, _anchor(start, zone), interval, sink)
    inputs = resolve(source, suffixes=_SUFFIXES)
    frames: list[pl.DataFrame] = []
    for inp in inputs:
        offset = 0  # samples so far in this capture: its sections follow each other
        file_job = job if job.start is not None else replace(job, start=_capture_start(inp))
        for block in _blocks(inp, tool, f"nvidia-smi {tool}"):
            for header, lines in _mon_blocks(block, tool):
                frame, samples = _mon_frame(file_job, header, lines, block.source, offset)
                frames.append(frame)
                offset += samples
    frame = _reject_far_from_bulk(_concat(frames, schema), sink)
    sink.finish(inputs, frame.height, f"nvidia-smi {tool}")
    return frame


def load_dmon(
    source: SourceLike,
    *,
    timezone: str | tzinfo = "UTC",
    start: datetime | None = None,
    interval: float = 1.0,
    strict: bool = False,
    quarantine: Quarantine | None = None,
) -> pl.DataFrame:
    """Load ``nvidia-smi dmon`` output into a ``gpu`` frame.

    Columns used: ``pwr`` → power_w, ``gtemp`` (older drivers: ``temp``) → temperature_c,
    ``sm`` → utilization_pct, ``mem`` → memory_utilization_pct, ``fb`` (``-s m``; dmon's
    "MB" are MiB) → memory_used_mib, ``mclk`` → mem_clock_mhz, ``pclk`` → sm_clock_mhz
    (dmon's processor clock is the graphics/SM clock). Other columns (``enc``, ``rxpci``,
    ...) are dropped; ``memory_total_mib`` is null (dmon does not report it).

    Parameters
    ----------
    source
        Path, glob, directory, list of paths or file-like object (capture files: the
        ``dmon`` sections).
    timezone
        Zone of the ``-o DT`` Date/Time columns.
    start
        Time of the first sample, for output without Date/Time columns (naive: in
        ``timezone``). Samples are then ``start + k * interval``; with ``-o T`` only the
        date is taken from ``start``.
    interval
        Seconds between samples (dmon ``-d``, default 1).
    strict, quarantine
        As in :func:`load_nvidia_smi`.

    Raises
    ------
    ParseError
        Output without Date/Time columns and no ``start``; no dmon header; strict-mode
        bad rows.

    Sections of one capture (the ``# idle ::`` and ``# load ::`` parts) without Date/Time
    columns continue one clock: the second starts one ``interval`` after the first ends.

    Examples
    --------
    >>> import io
    >>> out = io.BytesIO(b"#Date       Time        gpu    pwr  gtemp     sm    mem\\n"
    ...                  b"#YYYYMMDD   HH:MM:SS    Idx      W      C      %      %\\n"
    ...                  b" 20240115   10:00:00      0     69     41      -      3\\n")
    >>> load_dmon(out).select("power_w", "utilization_pct", "memory_utilization_pct").row(0)
    (69.0, None, 3.0)
    """
    return _load_mon(
        source,
        "dmon",
        _DMON_MAP,
        GPU.polars_schema,
        timezone=timezone,
        start=start,
        interval=interval,
        strict=strict,
        quarantine=quarantine,
    )


def load_pmon(
    source: SourceLike,
    *,
    timezone: str | tzinfo = "UTC",
    start: datetime | None = None,
    interval: float = 1.0,
    strict: bool = False,
    quarantine: Quarantine | None = None,
) -> pl.DataFrame:
    """Load ``nvidia-smi pmon`` output into a ``gpu_processes`` frame.

    ``sm``/``mem`` → sm_pct/mem_pct, ``fb`` (``-s m``) → used_memory_mib, ``command`` →
    process_name (pmon cuts names to 15 characters; spaces are kept), ``type`` (C, G,
    C+G) → the extra String column ``process_type``. Rows with ``-`` as pid (a GPU with
    no process) are skipped.

    Parameters
    ----------
    source
        Path, glob, directory, list of paths or file-like object (capture files: the
        ``pmon`` sections).
    timezone, start, interval
        As in :func:`load_dmon`: output without Date/Time columns needs ``start``.
    strict, quarantine
        As in :func:`load_nvidia_smi`.

    Examples
    --------
    >>> import io
    >>> out = io.BytesIO(b"# gpu   pid  type   sm   mem  command\\n"
    ...                  b"# Idx     #   C/G    %     %  name\\n"
    ...                  b"    0  4242     C   99    10  NVIDIA Overlay.\\n")
    >>> from datetime import datetime
    >>> load_pmon(out, start=datetime(2024, 1, 15, 10)).select("timestamp", "pid", "sm_pct", "process_name").row(0)
    (datetime.datetime(2024, 1, 15, 10, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 4242, 99.0, 'NVIDIA Overlay.')
    """
    return _load_mon(
        source,
        "pmon",
        _PMON_MAP,
        GPU_PROCESSES.polars_schema,
        timezone=timezone,
        start=start,
        interval=interval,
        strict=strict,
        quarantine=quarantine,
    )
