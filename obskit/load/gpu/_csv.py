"""The ``--query-gpu`` / ``--query-compute-apps`` CSV blocks: headers, targets, rows and bulk conversion."""


from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

import polars as pl

from obskit.errors import ConfigError, ParseError
from obskit.load._csv_bulk import Column, convert_block
from obskit.load.gpu._text import Line, _Block
from obskit.load.gpu._values import (
    _LINE_COL,
    _RANGES,
    _SOURCE_COL,
    _UNITS,
    _USED_TOLERANCE_MIB,
    _BadValue,
    _check_unit,
    _columns,
    _factor,
    _fast_number,
    _frame,
    _integer,
    _LocalClock,
    _plausible_time,
    _Sink,
    _string,
    _suffix,
)

# ---------------------------------------------------------------------------------------
# --query-gpu / --query-compute-apps CSV
# ---------------------------------------------------------------------------------------


#: Rows of a CSV block from which its columns are converted at once (fewer: row by row).
BULK_ROWS = 256


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


def _fill_process_gpu(block: _CsvBlock) -> None:
    gpu_of = block.spec.gpu_of
    if gpu_of is None:
        return
    rows = block.rows
    for i, (uuid, bus) in enumerate(zip(rows["uuid"], rows["_bus_id"], strict=True)):
        found = gpu_of(uuid)
        rows["gpu"][i] = found if found is not None else gpu_of(bus)
