"""Loaders for what ``nvidia-smi`` prints: query CSV logs, ``dmon`` and ``pmon``.

Four loaders, two canonical frames:

==========================  ==========================================  =================
function                    input                                       frame
==========================  ==========================================  =================
:func:`load_nvidia_smi`     ``--query-gpu=... --format=csv[,nounits]``  ``gpu``
:func:`load_dmon`           ``nvidia-smi dmon [-o DT] [-s ...]``        ``gpu``
:func:`load_pmon`           ``nvidia-smi pmon [-o DT] [-s um]``         ``gpu_processes``
:func:`load_compute_apps`   ``--query-compute-apps=... --format=csv``   ``gpu_processes``
==========================  ==========================================  =================

Shared behaviour
----------------
* Units may sit in the header (``memory.used [MiB]``), in the values (``575 MiB``), in both,
  or nowhere (``--format=csv,nounits`` keeps them in the header only); values are converted
  to the canonical unit (MiB, W, MHz, %, °C). A unit obskit does not know is an error that
  names the column.
* ``[N/A]``, ``[Not Supported]``, ``[Unknown Error]``, any other ``[...]`` value, ``N/A``
  and (dmon/pmon) ``-`` become null.
* nvidia-smi writes *local* wall-clock time without a zone; ``timezone`` says which zone
  the logging host used, and timestamps come out in UTC. In a DST fall-back hour the
  earlier of the two instants is taken.
* Header lines repeated in the middle of a log (a restarted ``nvidia-smi -l 5 >> log.csv``,
  dmon's periodic header) start a new block; the header may differ between blocks.
* Capture files with ``# <phase> :: <title>`` / ``# $ <command>`` section banners (the
  nvidia_gpu_exporter captures) are understood: each loader reads only the sections whose
  command it parses; see :func:`split_capture_sections`.
* Bad rows (wrong field count, unparsable number, unknown unit) raise
  :class:`~obskit.errors.ParseError` with file, line and column when ``strict=True``, and
  go to the :class:`~obskit.load._quarantine.Quarantine` otherwise. Problems that make a
  whole file unreadable (empty file, no header, no timestamps at all) always raise.
* Non-UTF-8 bytes are replaced by U+FFFD; UTF-16 files with a BOM (PowerShell ``>``) are
  decoded as UTF-16.

Examples
--------
>>> import io
>>> log = io.BytesIO(b"timestamp, index, utilization.gpu [%], memory.used [MiB]\\n"
...                  b"2024/01/15 10:00:00.000, 0, 38 %, 575 MiB\\n")
>>> load_nvidia_smi(log, timezone="Europe/Berlin").select("timestamp", "memory_used_mib").row(0)
(datetime.datetime(2024, 1, 15, 9, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 575.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from obskit.errors import ConfigError, InvalidArgument, ParseError, SourceError
from obskit.limits import GPU_RANGES, GPU_USED_TOLERANCE_MIB
from obskit.load._csv_bulk import Column, convert_block
from obskit.load._plausible import OUTLIER_REASON, far_from_bulk, implausible_us
from obskit.load._quarantine import Quarantine, reject, warn_unquarantined
from obskit.load._sources import Input, SourceLike, decompressed_bytes, resolve
from obskit.schemas import GPU, GPU_PROCESSES

__all__ = [
    "CaptureSection",
    "load_compute_apps",
    "load_dmon",
    "load_nvidia_smi",
    "load_pmon",
    "split_capture_sections",
]

_SUFFIXES = tuple(f"{s}{c}" for s in (".csv", ".txt", ".log") for c in ("", ".gz", ".zst"))

# ---------------------------------------------------------------------------------------
# Text and capture sections
# ---------------------------------------------------------------------------------------

Line = tuple[int, str]  # (1-based line number, text without line end)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def _read_lines(inp: Input) -> list[Line]:
    text = _decode(decompressed_bytes(inp))
    if not text.strip():
        raise SourceError("empty file", path=inp.name)
    return [(i, ln.rstrip("\r")) for i, ln in enumerate(text.split("\n"), start=1)]


_BANNER_RE = re.compile(r"^#{20,}\s*$")
_TITLE_RE = re.compile(r"^# (\S[^:]*?) :: (.+?)\s*$")
_COMMAND_RE = re.compile(r"^# \$ (.*?)\s*$")


@dataclass(frozen=True)
class CaptureSection:
    """One ``# <phase> :: <title>`` section of a capture file.

    Attributes
    ----------
    source
        File the section came from.
    phase
        Text before ``::`` (``idle``, ``load``, ``capabilities``).
    title
        Text after ``::``.
    command
        The command line that produced the section (from the ``# $ ...`` line).
    lines
        The body as ``(line number, text)`` pairs, line numbers counted in the whole file.
    """

    source: str
    phase: str
    title: str
    command: str
    lines: tuple[Line, ...] = field(repr=False)

    @property
    def kind(self) -> str | None:
        """``query-gpu``, ``query-compute-apps``, ``dmon``, ``pmon`` or None (other output)."""
        return _command_kind(self.command)


def _command_kind(command: str) -> str | None:
    if "--query-gpu=" in command:
        return "query-gpu"
    if "--query-compute-apps=" in command:
        return "query-compute-apps"
    for word in ("dmon", "pmon"):
        if re.search(rf"(^|\s){word}(\s|$)", command):
            return word
    return None


def _is_banner_comment(text: str) -> bool:
    return text.startswith("# ") and not _BANNER_RE.match(text)


def _sections(name: str, lines: list[Line]) -> list[CaptureSection]:
    out: list[CaptureSection] = []
    i = 0
    while i < len(lines) - 1:
        title = _TITLE_RE.match(lines[i][1])
        command = _COMMAND_RE.match(lines[i + 1][1])
        if not (title and command and (i == 0 or _BANNER_RE.match(lines[i - 1][1]))):
            i += 1
            continue
        start = i + 2
        while start < len(lines) and _is_banner_comment(lines[start][1]):
            start += 1  # further banner lines (e.g. '# library sha256: ...')
        start += 1 if start < len(lines) and _BANNER_RE.match(lines[start][1]) else 0
        end = start
        while end < len(lines) and not _BANNER_RE.match(lines[end][1]):
            end += 1
        body = tuple(ln for ln in lines[start:end] if ln[1].strip())
        out.append(CaptureSection(name, title.group(1), title.group(2), command.group(1), body))
        i = end
    return out


def split_capture_sections(source: SourceLike) -> list[CaptureSection]:
    """Split capture files with ``# phase :: title`` / ``# $ command`` banners into sections.

    Parameters
    ----------
    source
        Path, glob, directory, list of paths or file-like object.

    Returns
    -------
    list of CaptureSection
        In file order; empty for a file without banners (a plain log).

    Examples
    --------
    >>> import io
    >>> text = b"#####################\\n# idle :: dmon\\n# $ nvidia-smi dmon -c 1\\n"
    >>> text += b"#####################\\n# gpu pwr\\n# Idx W\\n    0  69\\n"
    >>> [(s.phase, s.kind, len(s.lines)) for s in split_capture_sections(io.BytesIO(text))]
    [('idle', 'dmon', 3)]
    """
    out: list[CaptureSection] = []
    for inp in resolve(source, suffixes=_SUFFIXES):
        out.extend(_sections(inp.name, _read_lines(inp)))
    return out


@dataclass
class _Block:
    """Consecutive lines of one tool's output (a whole plain file, or one capture section)."""

    source: str
    lines: list[Line]


def _blocks(inp: Input, kind: str, what: str) -> list[_Block]:
    lines = _read_lines(inp)
    first = next(text for _, text in lines if text.strip())
    if first.strip() == "go test fuzz v1":
        raise ParseError(
            f"this is a Go fuzz-corpus entry ('go test fuzz v1'), not {what} output",
            path=inp.name,
            line=1,
        )
    sections = _sections(inp.name, lines)
    if not sections:
        return [_Block(inp.name, lines)]
    wanted = [_Block(inp.name, list(s.lines)) for s in sections if s.kind == kind]
    if not wanted:
        found = sorted({s.kind for s in sections if s.kind})
        raise SourceError(
            f"capture file has no {what} section (it has: {', '.join(found) or 'none'})",
            path=inp.name,
        )
    return wanted


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
#: Rows of a CSV block from which its columns are converted at once (fewer: row by row).
BULK_ROWS = 256
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


# ---------------------------------------------------------------------------------------
# --query-gpu / --query-compute-apps CSV
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """A canonical column fed by the first of ``fields`` present in the header."""

    column: str
    fields: tuple[str, ...]
    kind: str  # a key of _UNITS, or "int", "str", "ts"


_GPU_TARGETS = (
    _Target("timestamp", ("timestamp",), "ts"),
    _Target("gpu", ("index",), "int"),
    _Target("uuid", ("uuid", "gpu_uuid"), "str"),
    _Target("name", ("name", "gpu_name"), "str"),
    _Target("utilization_pct", ("utilization.gpu",), "pct"),
    _Target("memory_utilization_pct", ("utilization.memory",), "pct"),
    _Target("memory_used_mib", ("memory.used",), "mib"),
    _Target("memory_total_mib", ("memory.total",), "mib"),
    _Target("power_w", ("power.draw", "power.draw.average", "power.draw.instant"), "w"),
    _Target("power_limit_w", ("enforced.power.limit", "power.limit"), "w"),
    _Target("temperature_c", ("temperature.gpu",), "c"),
    _Target("sm_clock_mhz", ("clocks.current.sm", "clocks.sm"), "mhz"),
    _Target("mem_clock_mhz", ("clocks.current.memory", "clocks.mem"), "mhz"),
    _Target("_bus_id", ("pci.bus_id", "gpu_bus_id"), "str"),
)

_APP_TARGETS = (
    _Target("timestamp", ("timestamp",), "ts"),
    _Target("uuid", ("gpu_uuid", "uuid"), "str"),
    _Target("pid", ("pid",), "int"),
    _Target("process_name", ("process_name", "name"), "str"),
    _Target("used_memory_mib", ("used_gpu_memory", "used_memory"), "mib"),
    _Target("_bus_id", ("gpu_bus_id", "pci.bus_id"), "str"),
)

_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?:\s*\[([^\]]*)\])?$")
_KNOWN_FIELDS = {f for t in _GPU_TARGETS + _APP_TARGETS for f in t.fields} | {
    "count",
    "driver_version",
    "serial",
    "pstate",
    "gpu_serial",
}


@dataclass(frozen=True)
class _Header:
    names: tuple[str, ...]
    units: tuple[str | None, ...]
    line: Line


def _as_header(line: Line, current: _Header | None) -> _Header | None:
    """The line parsed as a CSV header, or None if it is a data row."""
    if current is not None and line[1] == current.line[1]:
        return _Header(current.names, current.units, line)
    if not _FIELD_RE.match(line[1].split(",", 1)[0].strip()):
        return None  # data rows start with a timestamp, number, UUID or name
    parts = [p.strip() for p in line[1].split(",")]
    matches = [_FIELD_RE.match(p) for p in parts]
    if not all(matches):
        return None
    names = tuple(m.group(1) for m in matches if m)
    units = tuple((m.group(2) or None) for m in matches if m)
    known = _KNOWN_FIELDS | set(current.names if current else ())
    if not any(n in known for n in names):
        return None
    return _Header(names, units, line)


def _split_row(text: str, width: int, free_text: int | None) -> list[str]:
    parts = text.split(",")
    extra = len(parts) - width
    if extra > 0 and free_text is not None:  # a process/product name with commas in it
        merged = ",".join(parts[free_text : free_text + extra + 1])
        parts[free_text : free_text + extra + 1] = [merged]
    return [p.strip() for p in parts]


@dataclass
class _CsvSpec:
    targets: tuple[_Target, ...]
    schema: pl.Schema
    what: str
    keep_extra: bool = False
    required: tuple[str, ...] = ()
    gpu_of: Callable[[object], int | None] | None = None  # compute-apps: uuid/bus id -> index


@dataclass
class _CsvBlock:
    header: _Header
    spec: _CsvSpec
    zone: tzinfo
    sink: _Sink
    source: str
    rows: dict[str, list[object]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)
    chosen: dict[str, int] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    extra: dict[str, int] = field(default_factory=dict)
    convert: list[tuple[str, int, Callable[[str], object]]] = field(default_factory=list)
    pending: list[Line] = field(default_factory=list)

    def __post_init__(self) -> None:
        lower = [n.lower() for n in self.header.names]
        for t in self.spec.targets:
            idx = next((lower.index(f) for f in t.fields if f in lower), None)
            if idx is not None:
                self.chosen[t.column] = idx
                self._check_header_unit(t, idx)
        self.rows = _columns([*self.spec.schema, "_bus_id"])
        self.convert = self._converters()
        if self.spec.keep_extra:
            used = set(self.chosen.values())
            for i, n in enumerate(self.header.names):
                if i not in used and n not in self.extra and n not in self.rows:
                    self.extra[n] = i
                    self.rows[n] = []

    def _check_header_unit(self, t: _Target, idx: int) -> None:
        if t.kind not in _UNITS:
            return
        bad = _check_unit(self.header.units[idx], t.kind)
        if bad:
            name = self.header.names[idx]
            self.sink.reject(self.source, self.header.line, f"header: {bad}", column=name)
            self.broken.add(t.column)  # lenient: the column is null in this block

    def _converters(self) -> list[tuple[str, int, Callable[[str], object]]]:
        out: list[tuple[str, int, Callable[[str], object]]] = []
        for t in self.spec.targets:
            idx = self.chosen.get(t.column)
            if idx is not None and t.column not in self.broken:
                out.append((t.column, idx, self._converter(t, self.header.units[idx])))
        return out

    def _converter(self, t: _Target, unit: str | None) -> Callable[[str], object]:
        if t.kind == "ts":
            return _LocalClock(self.zone).parse
        if t.kind == "int":
            return _integer
        if t.kind == "str":
            return _string
        return _fast_number(t.kind, unit)

    def add(self, line: Line) -> None:
        """Take a data row; rows are converted by :meth:`flush`."""
        self.pending.append(line)

    def flush(self) -> None:
        """Convert the rows taken since the last flush: a column at a time when every row is
        ordinary (:mod:`obskit.load._csv_bulk`), else row by row, rejecting the bad ones."""
        pending, self.pending = self.pending, []
        if len(pending) < BULK_ROWS:
            for line in pending:
                self._add_row(line)
            return
        memory = ("memory_used_mib", "memory_total_mib", _USED_TOLERANCE_MIB)
        bulk, ordinary = convert_block([ln[1] for ln in pending], len(self.header.names), self._columns(),
                                       self.zone, memory)
        start = 0  # the first row of the current run of ordinary rows
        for end in [*(i for i, ok in enumerate(ordinary) if not ok), len(pending)]:
            if end > start:
                for name, col in self.rows.items():
                    col.extend(bulk[name][start:end] if name in bulk else [None] * (end - start))
                self.lines.extend(ln[0] for ln in pending[start:end])
            if end < len(pending):
                self._add_row(pending[end])  # rejected with its reason, or read as the row path reads it
            start = end + 1

    def _columns(self) -> list[Column]:
        """The columns :meth:`_add_row` converts (those in ``convert``), described for :func:`convert_block`."""
        kinds = {t.column: t.kind for t in self.spec.targets}
        out = []
        for column, idx, _ in self.convert:
            kind, unit = kinds[column], self.header.units[idx]
            if kind in ("ts", "int", "str"):
                out.append(Column(column, idx, kind))
            else:
                out.append(Column(column, idx, "number", suffix=_suffix(unit), factor=_factor(kind, unit),
                                  bounds=_RANGES.get(kind)))
        out.extend(Column(name, idx, "str") for name, idx in self.extra.items())
        return out

    def _add_row(self, line: Line) -> None:
        width = len(self.header.names)
        free = self.chosen.get("process_name", self.chosen.get("name"))
        parts = _split_row(line[1], width, free)
        if len(parts) != width:
            why = "truncated row?" if len(parts) < width else "extra fields"
            reason = f"row has {len(parts)} fields, header has {width} ({why})"
            self.sink.reject(self.source, line, reason)
            return
        values: dict[str, object] = {}
        for column, idx, convert in self.convert:
            try:
                values[column] = convert(parts[idx])
                if column == "timestamp":
                    _plausible_time(values[column])  # type: ignore[arg-type]
            except _BadValue as exc:
                self.sink.reject(self.source, line, str(exc), column=self.header.names[idx])
                return
        used, total = values.get("memory_used_mib"), values.get("memory_total_mib")
        if isinstance(used, float) and isinstance(total, float) and used > total + _USED_TOLERANCE_MIB:
            idx = self.chosen["memory_used_mib"]
            self.sink.reject(self.source, line, f"memory used {used:g} MiB exceeds memory total {total:g} MiB",
                             column=self.header.names[idx])
            return
        for name, idx in self.extra.items():
            values[name] = _string(parts[idx])
        for name, col in self.rows.items():
            col.append(values.get(name))
        self.lines.append(line[0])


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


def _csv_blocks(
    block: _Block,
    spec: _CsvSpec,
    zone: tzinfo,
    sink: _Sink,
    fields: Sequence[str] | None,
) -> list[_CsvBlock]:
    out: list[_CsvBlock] = []
    current: _CsvBlock | None = None
    for line in block.lines:
        if not line[1].strip() or line[1].lstrip().startswith("#"):
            continue
        header = _as_header(line, current.header if current else None)
        if header is not None:
            _require_fields(header, spec, block.source)
            if current is not None:
                current.flush()  # its rows' rejects come before the next header's
            current = _CsvBlock(header, spec, zone, sink, block.source)
            out.append(current)
            continue
        if current is None:
            if fields is None:
                raise ParseError(
                    f"no {spec.what} CSV header before the first data row (a log written with "
                    "--format=csv,noheader needs fields=[...])",
                    path=block.source,
                    line=line[0],
                )
            current = _CsvBlock(_fields_header(fields, line), spec, zone, sink, block.source)
            out.append(current)
        current.add(line)
    if current is not None:
        current.flush()
    if not out:
        first = next((ln for ln in block.lines if ln[1].strip()), (1, ""))
        raise ParseError(
            f"no {spec.what} CSV header found; first line: {first[1][:80]!r}",
            path=block.source,
            line=first[0],
        )
    return out


def _require_fields(header: _Header, spec: _CsvSpec, source: str) -> None:
    lower = {n.lower() for n in header.names}
    missing = [f for f in spec.required if f not in lower]
    if missing:
        raise ParseError(
            f"header has no {', '.join(repr(m) for m in missing)} field: not {spec.what} output",
            path=source,
            line=header.line[0],
        )


def _fields_header(fields: Sequence[str], line: Line) -> _Header:
    header = _as_header((line[0], ", ".join(fields)), None)
    if header is None:
        raise ConfigError(f"fields={list(fields)!r} does not look like nvidia-smi query fields")
    return header


def _fill_gpu_index(rows: dict[str, list[object]]) -> None:
    """Number GPUs by PCI bus id (nvidia-smi's order) or by position within a sample."""
    gpus, buses, stamps = rows["gpu"], rows["_bus_id"], rows["timestamp"]
    if all(g is not None for g in gpus):
        return
    order = {b: i for i, b in enumerate(sorted({str(b) for b in buses if b is not None}))}
    pos, last = 0, object()
    for i, g in enumerate(gpus):
        pos = pos + 1 if stamps[i] == last else 0
        last = stamps[i]
        if g is None:
            gpus[i] = order[str(buses[i])] if buses[i] is not None else pos


def _fill_timestamp(block: _CsvBlock, fallback: datetime | None) -> None:
    stamps = block.rows["timestamp"]
    if "timestamp" not in block.chosen:
        if fallback is None:
            raise ParseError(
                "the query has no 'timestamp' field; add it to --query-gpu=... "
                "or pass timestamp= (when the snapshot was taken)",
                path=block.source,
                line=block.header.line[0],
            )
        stamps[:] = [fallback] * len(stamps)


def _drop_rows(block: _CsvBlock, bad: list[int]) -> None:
    keep = set(range(len(block.lines))) - set(bad)
    for name, col in block.rows.items():
        block.rows[name] = [v for i, v in enumerate(col) if i in keep]
    block.lines = [ln for i, ln in enumerate(block.lines) if i in keep]


def _reject_null(block: _CsvBlock, column: str, sink: _Sink, reason: str) -> None:
    col = block.rows[column]
    bad = [i for i, v in enumerate(col) if v is None]
    for i in bad:
        sink.reject(block.source, (block.lines[i], ""), reason, column=column)
    if bad:
        _drop_rows(block, bad)


def _query_frame(
    block: _CsvBlock, sink: _Sink, timestamp: datetime | None, gpu_frame: bool
) -> pl.DataFrame:
    if gpu_frame:
        _fill_timestamp(block, timestamp)
        _reject_null(block, "timestamp", sink, "timestamp is missing")
        _fill_gpu_index(block.rows)
    else:
        _reject_null(block, "pid", sink, "pid is missing")
        _fill_process_gpu(block)
    return _frame(block.rows, block.spec.schema, block.extra).with_columns(
        pl.Series(_LINE_COL, block.lines, dtype=pl.Int64), pl.lit(block.source).alias(_SOURCE_COL))


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


def _fill_process_gpu(block: _CsvBlock) -> None:
    gpu_of = block.spec.gpu_of
    if gpu_of is None:
        return
    rows = block.rows
    for i, (uuid, bus) in enumerate(zip(rows["uuid"], rows["_bus_id"], strict=True)):
        found = gpu_of(uuid)
        rows["gpu"][i] = found if found is not None else gpu_of(bus)


def _load_query(
    source: SourceLike,
    spec: _CsvSpec,
    kind: str,
    *,
    timezone: str | tzinfo,
    strict: bool,
    quarantine: Quarantine | None,
    fields: Sequence[str] | None,
    timestamp: datetime | None,
) -> pl.DataFrame:
    zone = _zone(timezone)
    anchor = _anchor(timestamp, zone)
    sink = _Sink(strict, quarantine)
    inputs = resolve(source, suffixes=_SUFFIXES)
    frames: list[pl.DataFrame] = []
    for inp in inputs:
        for block in _blocks(inp, kind, spec.what):
            for csv_block in _csv_blocks(block, spec, zone, sink, fields):
                frames.append(_query_frame(csv_block, sink, anchor, kind == "query-gpu"))
    frame = _reject_far_from_bulk(_concat(frames, spec.schema), sink)
    sink.finish(inputs, frame.height, spec.what)
    return frame


def load_nvidia_smi(
    source: SourceLike,
    *,
    timezone: str | tzinfo = "UTC",
    strict: bool = False,
    quarantine: Quarantine | None = None,
    fields: Sequence[str] | None = None,
    timestamp: datetime | None = None,
    keep_extra: bool = False,
) -> pl.DataFrame:
    """Load ``nvidia-smi --query-gpu=... --format=csv`` logs into a ``gpu`` frame.

    Parameters
    ----------
    source
        Path, glob, directory (``*.csv``, ``*.txt``, ``*.log``, optionally ``.gz``/``.zst``),
        list of paths, or file-like object. Capture files with section banners are read
        for their ``--query-gpu`` sections only.
    timezone
        Zone of the host that wrote the log (nvidia-smi writes local time without a zone).
    strict
        Raise :class:`~obskit.errors.ParseError` on the first bad row instead of quarantining.
    quarantine
        Where lenient mode puts bad rows; without one, a warning counts them.
    fields
        Field names for logs written with ``--format=csv,noheader``.
    timestamp
        Sample time for queries without the ``timestamp`` field (a one-off snapshot).
        Naive values are read in ``timezone``.
    keep_extra
        Keep the fields with no canonical column (``fan.speed``, ``pstate``, ...) as
        String columns named like the field; by default they are dropped.

    Returns
    -------
    polars.DataFrame
        A ``gpu`` frame (every canonical column; absent fields are null), in file order.
        Power comes from ``power.draw``, else ``power.draw.average``, else
        ``power.draw.instant``; the limit from ``enforced.power.limit``, else
        ``power.limit``. Without an ``index`` field GPUs are numbered by ``pci.bus_id``
        order, else by their position within each sample.

    Raises
    ------
    SourceError
        Missing or empty file, capture without a query-gpu section.
    ParseError
        No header, no timestamps at all; in strict mode any bad row (with line and column).

    Examples
    --------
    >>> import io
    >>> log = io.BytesIO(b"timestamp, name, power.draw [W], memory.total [MiB]\\n"
    ...                  b"2024/01/15 10:00:00.000, NVIDIA H100, [N/A], 81559\\n")
    >>> load_nvidia_smi(log).select("gpu", "power_w", "memory_total_mib").row(0)
    (0, None, 81559.0)
    """
    spec = _CsvSpec(_GPU_TARGETS, GPU.polars_schema, "nvidia-smi --query-gpu", keep_extra)
    return _load_query(
        source,
        spec,
        "query-gpu",
        timezone=timezone,
        strict=strict,
        quarantine=quarantine,
        fields=fields,
        timestamp=timestamp,
    )


GpuIndex: TypeAlias = Mapping[str, int] | pl.DataFrame


def _index_lookup(gpus: GpuIndex | None) -> Callable[[object], int | None] | None:
    if gpus is None:
        return None
    if isinstance(gpus, pl.DataFrame):
        table: dict[str, int] = {}
        for key, idx in gpus.select("uuid", "gpu").unique().iter_rows():
            if key is not None and idx is not None:
                table[str(key)] = int(idx)
    else:
        table = {str(k): int(v) for k, v in gpus.items()}
    return lambda key: None if key is None else table.get(str(key))


def load_compute_apps(
    source: SourceLike,
    *,
    timezone: str | tzinfo = "UTC",
    strict: bool = False,
    quarantine: Quarantine | None = None,
    fields: Sequence[str] | None = None,
    gpus: GpuIndex | None = None,
) -> pl.DataFrame:
    """Load ``nvidia-smi --query-compute-apps=... --format=csv`` output into ``gpu_processes``.

    Parameters
    ----------
    source
        Path, glob, directory, list of paths or file-like object (capture files: the
        ``--query-compute-apps`` sections).
    timezone, strict, quarantine, fields
        As in :func:`load_nvidia_smi`.
    gpus
        How to find the GPU index, which the query cannot report: a mapping from GPU
        UUID or PCI bus id to index, or a ``gpu`` frame (its ``uuid`` → ``gpu``). Without
        it ``gpu`` is null.

    Returns
    -------
    polars.DataFrame
        A ``gpu_processes`` frame; ``sm_pct``/``mem_pct`` are null (the query has no
        per-process utilization). A header-only file gives an empty frame.

    Examples
    --------
    >>> import io
    >>> log = io.BytesIO(b"timestamp, gpu_uuid, pid, process_name, used_gpu_memory [MiB]\\n"
    ...                  b"2024/01/15 10:00:00.000, GPU-1, 4242, python, 1542 MiB\\n")
    >>> load_compute_apps(log, gpus={"GPU-1": 3}).select("gpu", "pid", "used_memory_mib").row(0)
    (3, 4242, 1542.0)
    """
    spec = _CsvSpec(
        _APP_TARGETS,
        GPU_PROCESSES.polars_schema,
        "nvidia-smi --query-compute-apps",
        required=("pid",),
        gpu_of=_index_lookup(gpus),
    )
    return _load_query(
        source,
        spec,
        "query-compute-apps",
        timezone=timezone,
        strict=strict,
        quarantine=quarantine,
        fields=fields,
        timestamp=None,
    )


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
