"""Load PyTorch profiler (Kineto) Chrome traces into the ``kernels`` frame.

What is read
------------
* ``.json``, ``.json.gz`` and ``.json.zst`` files (compression detected from the bytes),
  with a ``{"traceEvents": [...]}`` object or a bare event list. ``orjson`` is used when
  installed, else :mod:`json`.
* Complete events only (``"ph": "X"``): CPU ops, CUDA/HIP runtime and driver calls,
  kernels, copies, memsets, annotations, Python functions. Flow (``s``/``f``), instant
  (``i``), counter and metadata (``M``) events are not rows.
* ``ts``/``dur`` are microseconds in every Chrome trace; ``displayTimeUnit`` only changes
  how a viewer draws them, so it is not applied. Fractional (ns-resolution) values are
  kept as floats. ``start_us`` stays on the trace clock; traces that carry
  ``baseTimeNanoseconds`` have ``ts`` relative to it, the frame does not add it.

Columns
-------
``category`` is the event's ``cat``; the capitalized categories of early Kineto releases
are renamed to today's (``Operator`` → ``cpu_op``, ``Runtime`` → ``cuda_runtime``,
``Kernel`` → ``kernel``, ``Memcpy`` → ``gpu_memcpy``, ``Memset`` → ``gpu_memset``,
``Python`` → ``python_function``), any other name is lower-cased; events of the legacy
autograd-profiler export (no ``cat``, pid ``"CPU functions"``/``"CUDA functions"``) get
``cpu_op``/``kernel``. ``device`` is ``args.device`` (for device events without it: the
pid), ``stream`` is ``args.stream`` (hex strings such as ``"0x0"`` included; for device
events without it: the tid), ``correlation`` is ``args.correlation``, the extra column
``external_id`` is ``args["External id"]`` (links CPU ops to runtime calls), ``trace`` is
the file name.

Examples
--------
>>> import io, json
>>> trace = {"traceEvents": [
...     {"ph": "X", "cat": "Kernel", "name": "gemm", "pid": 0, "tid": 7, "ts": 10.5, "dur": 2.25,
...      "args": {"device": 0, "stream": 7, "correlation": 42}}]}
>>> df = load_torch_trace(io.BytesIO(json.dumps(trace).encode()))
>>> df.select("name", "category", "duration_us", "stream", "correlation").row(0)
('gemm', 'kernel', 2.25, 7, 42)
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import polars as pl

from obskit.errors import ParseError
from obskit.limits import DEEPEST_JSON, too_deep
from obskit.load._quarantine import Quarantine, reject, warn_unquarantined
from obskit.load._sources import Input, SourceLike, decompressed_bytes, resolve
from obskit.schemas import KERNELS

__all__ = ["load_torch_trace"]

_SUFFIXES = (".json", ".json.gz", ".json.zst")

_OLD_CATEGORIES = {
    "Operator": "cpu_op",
    "Runtime": "cuda_runtime",
    "Kernel": "kernel",
    "Memcpy": "gpu_memcpy",
    "Memset": "gpu_memset",
    "Python": "python_function",
}
_LEGACY_PIDS = {"CPU functions": "cpu_op", "CUDA functions": "kernel"}
DEVICE_CATEGORIES = frozenset(
    {"kernel", "gpu_memcpy", "gpu_memset", "gpu_user_annotation", "cuda_sync"}
)
_INT32 = (-(2**31), 2**31 - 1)
_RAW_LIMIT = 500

_SCHEMA = pl.Schema({**KERNELS.polars_schema, "external_id": pl.Int64()})


def _json_loads() -> Callable[[bytes], Any]:
    try:
        orjson = importlib.import_module("orjson")
    except ImportError:
        return json.loads
    loads: Callable[[bytes], Any] = orjson.loads
    return loads


class _BadEvent(Exception):
    """An ``X`` event that cannot become a row; the message is the reason."""


def _category(event: dict[str, Any]) -> str:
    cat = event.get("cat")
    if isinstance(cat, str) and cat:
        return _OLD_CATEGORIES.get(cat, cat.lower())
    return _LEGACY_PIDS.get(str(event.get("pid")), "unknown")


#: A traced event longer than this (one day, in microseconds) is a corrupt record, not a kernel.
_LONGEST_EVENT_US = 86_400e6


def _float(value: Any, what: str) -> float:
    if isinstance(value, bool) or value is None:
        raise _BadEvent(f"missing or invalid {what!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _BadEvent(f"{what!r} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise _BadEvent(f"{what!r} is not a finite number: {value!r}")
    return number


def _int(value: Any, bounds: tuple[int, int] | None = None) -> int | None:
    """An int from an int, a float with no fraction or a decimal/hex string; else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None
    elif isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError:
            return None
    if not isinstance(value, int):
        return None
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        return None
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _row(event: dict[str, Any], trace: str) -> tuple[Any, ...]:
    name = event.get("name")
    if not isinstance(name, str):
        raise _BadEvent("event has no name")
    start = _float(event.get("ts"), "ts")
    duration = _float(event.get("dur"), "dur")
    if duration < 0:
        raise _BadEvent(f"negative duration {duration}")
    if duration > _LONGEST_EVENT_US:
        raise _BadEvent(f"duration {duration:g} us is longer than a day")
    args = event.get("args")
    args = args if isinstance(args, dict) else {}
    category = _category(event)
    on_device = category in DEVICE_CATEGORIES
    device = _int(args.get("device"), _INT32)
    stream = _int(args.get("stream"), _INT32)
    if on_device:
        device = device if device is not None else _int(event.get("pid"), _INT32)
        stream = stream if stream is not None else _int(event.get("tid"), _INT32)
    return (
        name,
        category,
        start,
        duration,
        _text(event.get("pid")),
        _text(event.get("tid")),
        device,
        stream,
        _int(args.get("correlation")),
        trace,
        _int(args.get("External id")),
    )


def _events(doc: Any, name: str) -> list[Any]:
    if isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list):
        return list(doc["traceEvents"])
    if isinstance(doc, list):
        return doc
    raise ParseError("not a Chrome trace: no 'traceEvents' list", path=name)


_TOO_DEEP = "__obskit_too_deep__"
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def _cut_deep_events(data: bytes, item_depth: int, limit: int = DEEPEST_JSON) -> bytes:
    """``data`` with each container at ``item_depth`` that nests deeper than ``limit`` replaced.

    The replacement is ``{"__obskit_too_deep__": true}``, rejected as one event; the other
    events load. A Python loop over the brackets: only called for a trace :func:`too_deep` found.

    >>> _cut_deep_events(b'[{"a": [[[1]]]}, {"b": "[[[["}]', 2, limit=3)
    b'[{"__obskit_too_deep__": true}, {"b": "[[[["}]'
    """
    out: list[bytes] = []
    depth, keep_from, item_start, bad = 0, 0, -1, False
    for m in _TOKEN.finditer(data):
        tok = m.group()
        if tok[:1] == b'"':
            continue
        if tok in (b"[", b"{"):
            depth += 1
            if depth == item_depth:
                item_start, bad = m.start(), False
            elif depth > limit and item_start >= 0:
                bad = True
        else:
            if depth == item_depth and item_start >= 0:
                if bad:
                    out.append(data[keep_from:item_start])
                    out.append(b'{"' + _TOO_DEEP.encode() + b'": true}')
                    keep_from = m.end()
                item_start = -1
            depth -= 1
    out.append(data[keep_from:])
    return b"".join(out)


def _parse(inp: Input, loads: Callable[[bytes], Any]) -> list[Any]:
    data = decompressed_bytes(inp)
    if not data.strip():
        raise ParseError("empty trace file", path=inp.name)
    if too_deep(data):
        # each too-deep event is cut out (and rejected in _trace_rows), so the parser cannot
        # recurse without bound; events sit at depth 2 of a bare list, 3 of {"traceEvents": [...]}
        data = _cut_deep_events(data, 2 if data.lstrip()[:1] == b"[" else 3)
        if too_deep(data):
            raise ParseError(f"JSON nested deeper than {DEEPEST_JSON} levels outside traceEvents", path=inp.name)
    try:
        doc = loads(data)
    except RecursionError:
        raise ParseError(f"JSON nested deeper than {DEEPEST_JSON} levels", path=inp.name) from None
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg}", path=inp.name, line=exc.lineno, column=exc.colno
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise ParseError(f"invalid JSON: {exc}", path=inp.name) from None
    return _events(doc, inp.name)


def _trace_rows(
    events: list[Any],
    inp: Input,
    strict: bool,
    quarantine: Quarantine | None,
) -> tuple[list[tuple[Any, ...]], int]:
    trace = PurePath(inp.name).name
    rows: list[tuple[Any, ...]] = []
    rejected = 0
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            reason = f"traceEvents[{i}] is not an object"
        elif _TOO_DEEP in event:
            reason = f"traceEvents[{i}]: nested deeper than {DEEPEST_JSON} levels"
        elif event.get("ph") != "X":
            continue
        else:
            try:
                rows.append(_row(event, trace))
                continue
            except _BadEvent as exc:
                reason = f"traceEvents[{i}]: {exc}"
        raw = json.dumps(event, default=str)[:_RAW_LIMIT]
        reject(quarantine, strict, inp.name, None, reason, raw)
        rejected += 1
    return rows, rejected


def load_torch_trace(
    source: SourceLike,
    *,
    strict: bool = False,
    quarantine: Quarantine | None = None,
) -> pl.DataFrame:
    """Load PyTorch profiler / Kineto Chrome traces into a ``kernels`` frame.

    Parameters
    ----------
    source
        A trace file (``.json``, ``.json.gz``, ``.json.zst``), glob, directory, list of
        paths, or file-like object.
    strict
        Raise :class:`~obskit.errors.ParseError` on the first bad event or unreadable
        file instead of quarantining it.
    quarantine
        Lenient mode: receives bad events (missing ``ts``/``dur``, negative duration, ...)
        and files that are not valid JSON, so one truncated trace in a folder does not
        stop the load. Without one, a warning counts them.

    Returns
    -------
    polars.DataFrame
        A ``kernels`` frame plus ``external_id`` (Int64), one row per ``X`` event, in
        file order.

    Raises
    ------
    SourceError
        Missing file, empty directory.
    ParseError
        Strict mode: the first bad event or file. Lenient mode: only when no input
        could be parsed at all.

    Examples
    --------
    >>> import io
    >>> load_torch_trace(io.BytesIO(b'[{"ph": "X", "name": "aten::mm", "cat": "Operator",'
    ...                              b' "ts": 1, "dur": 3, "pid": 1, "tid": 1}]'))["category"][0]
    'cpu_op'
    """
    inputs = resolve(source, suffixes=_SUFFIXES)
    loads = _json_loads()
    rows: list[tuple[Any, ...]] = []
    rejected, failures = 0, []
    for inp in inputs:
        try:
            events = _parse(inp, loads)
        except ParseError as exc:
            if strict:
                raise
            failures.append(exc)
            reject(quarantine, False, inp.name, exc.line, f"unreadable trace: {exc.reason}")
            rejected += 1
            continue
        got, bad = _trace_rows(events, inp, strict, quarantine)
        rows.extend(got)
        rejected += bad
    if failures and len(failures) == len(inputs):
        raise failures[0]
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    _account(quarantine, inputs, frame.height, rejected)
    return frame


def _account(quarantine: Quarantine | None, inputs: list[Input], rows: int, rejected: int) -> None:
    if quarantine is None:
        warn_unquarantined(rejected, "load_torch_trace")
        return
    stats = quarantine.stats
    stats.files.extend(i.name for i in inputs)
    stats.bytes += sum(i.size for i in inputs)
    stats.rows += rows
    stats.rejected += rejected
