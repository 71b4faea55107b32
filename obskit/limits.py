"""The one home of obskit's limits: how long, how fine, how big, how deep, how plausible.

Every bound a user can hit is a constant here, documented in the README with its value, and
checked where the input enters (config load, CLI arguments, loaders, URL reads). A refusal is
one :class:`~obskit.errors.ObskitError` line naming the key, or the file and line.

====================================  ================================  =========================
limit                                 value                             checked at
====================================  ================================  =========================
:data:`LONGEST_PERIOD`                400 days                          ``--last``, ``--start/--end``,
                                                                        every duration in the config
:data:`SHORTEST_WINDOW`               1 s                               ``[report] window``, rule
                                                                        ``interval``/``window``, ``-p window``
:data:`MOST_WINDOWS`                  200,000 windows per series        a period cut by a window
:data:`URL_MAX_BYTES`                 256 MiB per response              every URL read
:data:`URL_DEADLINE_S`                120 s per response, in all        every URL read (not per read)
:data:`DEEPEST_JSON`                  64 levels of nesting              every JSON reader
:data:`PLAUSIBLE_YEARS`               1990 to 2200                      every loader's timestamps
:data:`GPU_RANGES`                    physical ranges of GPU values     nvidia-smi, dmon, pmon, DCGM
:data:`PLAUSIBLE_MEDIAN_LATENCY_MS`   median 0.5 ms to 1,000,000 ms     a request source's
                                                                        ``latency_unit`` (a warning)
:data:`PROBABILITY_SUM_TOLERANCE`     0.05                              a list of class probabilities
====================================  ================================  =========================

Examples
--------
>>> check_windows(timedelta(days=1), timedelta(minutes=5))
289
>>> too_deep(b'[' * 100_000)
True
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from obskit.errors import ConfigError, InvalidArgument

__all__ = [
    "DEEPEST_JSON",
    "EXPANSION_FREE_BYTES",
    "GPU_RANGES",
    "GPU_USED_TOLERANCE_MIB",
    "LATENCY_CHECK_MIN_ROWS",
    "LONGEST_PERIOD",
    "MOST_EXPANSION",
    "MOST_WINDOWS",
    "PLAUSIBLE_MEDIAN_LATENCY_MS",
    "PLAUSIBLE_YEARS",
    "PROBABILITY_SUM_TOLERANCE",
    "SHORTEST_WINDOW",
    "URL_DEADLINE_S",
    "URL_MAX_BYTES",
    "WEBHOOK_REPLY_BYTES",
    "check_period",
    "check_windows",
    "decompressed_allowance",
    "fmt_duration",
    "loads_json",
    "plausible_time",
    "read_body",
    "too_deep",
]

#: The longest period a report, a ``--last``, a rule window or any duration may cover.
LONGEST_PERIOD = timedelta(days=400)
#: The shortest window or evaluation interval (a finer one makes millions of empty windows).
SHORTEST_WINDOW = timedelta(seconds=1)
#: The most windows a period cut by a window may make (a chart, a rule's series, a timeline).
MOST_WINDOWS = 200_000
#: The most bytes one URL response may have; a larger one is refused, not read whole.
URL_MAX_BYTES = 256 * 1024 * 1024
#: The most seconds one URL response may take in all (connect and every read together).
URL_DEADLINE_S = 120.0
#: The most bytes of a webhook's answer that are read (it is only logged).
WEBHOOK_REPLY_BYTES = 64 * 1024
#: How many times its stored size a compressed file may expand to (logs compress 5-20x) ...
MOST_EXPANSION = 1000
#: ... beyond a first gigabyte, which any file may reach.
EXPANSION_FREE_BYTES = 1 << 30
#: The deepest nesting of objects and arrays any JSON record may have.
DEEPEST_JSON = 64
#: Timestamps outside these years are rejected by every loader (a 9999 or 0001 is a bug).
PLAUSIBLE_YEARS = (1990, 2200)
#: Physical range of each kind of GPU reading, by unit (lowest, highest; inclusive). A value
#: outside it is a broken sensor or a corrupt log, never a measurement (150 %, -5 MiB, -300 °C).
GPU_RANGES: dict[str, tuple[float, float]] = {
    "pct": (0.0, 100.0),
    "mib": (0.0, math.inf),
    "w": (0.0, math.inf),
    "mhz": (0.0, math.inf),
    "c": (-40.0, 150.0),
}
#: How far memory used may exceed memory total (the two readings are rounded separately).
GPU_USED_TOLERANCE_MIB = 1.0
#: A request source whose median latency (after ``latency_unit``) lies outside this range, in ms,
#: is almost surely in another unit (0.012 "ms" is 12 ms logged in seconds; 2.5e8 "ms" is 250 ms
#: logged in nanoseconds): the run is degraded with a warning naming the likely unit.
PLAUSIBLE_MEDIAN_LATENCY_MS = (0.5, 1_000_000.0)
#: Fewer latencies than this: no unit check (too few to trust a median).
LATENCY_CHECK_MIN_ROWS = 20
#: How far from 1 the class probabilities of one prediction may sum (rounded logs) before the
#: record is rejected (logits, multi-label scores or a truncated top-k are not a distribution).
PROBABILITY_SUM_TOLERANCE = 0.05

_PLAUSIBLE_LO = datetime(PLAUSIBLE_YEARS[0], 1, 1, tzinfo=UTC)
_PLAUSIBLE_HI = datetime(PLAUSIBLE_YEARS[1], 12, 31, 23, 59, 59, tzinfo=UTC)


def fmt_duration(d: timedelta) -> str:
    """A duration in its largest whole unit (``"400d"``, ``"90m"``, ``"0.5s"``)."""
    secs = d.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size and secs % size == 0:
            return f"{int(secs // size)}{unit}"
    return f"{secs:g}s"


def check_period(start: datetime | None, end: datetime | None, *, key: str = "period") -> None:
    """A period's bounds are plausible times, and it is at most :data:`LONGEST_PERIOD` long."""
    for name, t in (("start", start), ("end", end)):
        if t is not None and not plausible_time(t):
            raise ConfigError(f"{key}: {name} {t.isoformat()} is outside the years "
                              f"{PLAUSIBLE_YEARS[0]}–{PLAUSIBLE_YEARS[1]}")
    if start is not None and end is not None and end - start > LONGEST_PERIOD:
        raise ConfigError(f"{key}: {start.isoformat()} to {end.isoformat()} is longer than the longest period, "
                          f"{fmt_duration(LONGEST_PERIOD)}")


def check_windows(span: timedelta, window: timedelta, *, key: str = "window") -> int:
    """How many windows ``span`` makes at ``window``; more than :data:`MOST_WINDOWS` is a ConfigError."""
    if window <= timedelta(0):
        raise ConfigError(f"{key}: must be positive")
    n = int(span / window) + 1
    if n > MOST_WINDOWS:
        raise ConfigError(f"{key}: {fmt_duration(window)} windows over {fmt_duration(span)} make {n:,} windows, "
                          f"more than the {MOST_WINDOWS:,} allowed (use a longer window)")
    return n


def plausible_time(t: datetime) -> bool:
    """Whether ``t`` lies in :data:`PLAUSIBLE_YEARS` (naive times are taken as UTC).

    >>> plausible_time(datetime(2026, 11, 22, tzinfo=UTC)), plausible_time(datetime(9999, 1, 1, tzinfo=UTC))
    (True, False)
    """
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return _PLAUSIBLE_LO <= t <= _PLAUSIBLE_HI


_KEEP = b'[]{}"'
_NOT_KEPT = bytes(b for b in range(256) if b not in _KEEP)
_TO_SQUARE = bytes.maketrans(b"{}", b"[]")


def too_deep(data: bytes | str, *, limit: int = DEEPEST_JSON) -> bool:
    """Whether a JSON text nests objects and arrays deeper than ``limit``, without parsing it.

    Python's ``json`` module recurses once per level, so a line of a hundred thousand ``[``
    would end the run with a ``RecursionError``. This check runs in C-speed byte operations
    (about a quarter of ``json.loads`` on the same bytes): escapes are dropped, only brackets
    and quotes are kept, the brackets inside strings are cut out, and the rest is peeled one
    ``[]`` level at a time, at most ``limit + 1`` times. Brackets inside strings do not count.

    >>> too_deep('{"a": "[[[["}', limit=2), too_deep('[' * 1000), too_deep('{"a": [1, {"b": 2}]}', limit=3)
    (False, True, False)
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cannot be deeper than its number of brackets
    if b"\\" in raw:  # a backslash pairs with the character after it: escaped backslashes, then quotes
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = raw.translate(_TO_SQUARE, _NOT_KEPT).replace(b'""', b"")
    brackets = b"".join(kept.split(b'"')[::2])  # the parts outside strings
    depth = 0
    while brackets and depth <= limit:
        peeled = brackets.replace(b"[]", b"")
        if len(peeled) == len(brackets):
            # unbalanced (a truncated record): what is left opens this many more levels
            return depth + len(brackets) > limit if brackets.count(b"]") == 0 else False
        brackets, depth = peeled, depth + 1
    return depth > limit


def loads_json(raw: str | bytes, *, limit: int = DEEPEST_JSON) -> Any:
    """``json.loads`` that refuses a document nested deeper than ``limit`` levels.

    The refusal is a :class:`json.JSONDecodeError` (a ``ValueError``), so callers that reject
    invalid JSON reject it the same way, with the reason "nested deeper than N levels".

    >>> loads_json('{"a": [1]}')
    {'a': [1]}
    >>> loads_json('[' * 100_000)
    Traceback (most recent call last):
    ...
    json.decoder.JSONDecodeError: nested deeper than 64 levels: line 1 column 1 (char 0)
    """
    if too_deep(raw, limit=limit):
        raise json.JSONDecodeError(f"nested deeper than {limit} levels", "", 0)
    try:
        return json.loads(raw)
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {limit} levels", "", 0) from None


class _Readable(Protocol):
    def read1(self, n: int = ..., /) -> bytes: ...


def read_body(resp: _Readable, *, limit: int = URL_MAX_BYTES, deadline: float | None = None,
              what: str = "response") -> bytes:
    """Read a response body of at most ``limit`` bytes before ``deadline`` (a ``time.monotonic()`` value).

    A socket timeout bounds each read, so a server that trickles a byte every few seconds
    would never time out; the deadline bounds the whole answer. ``read1`` returns after one
    receive, so the deadline is checked between receives. Past the deadline: ``TimeoutError``
    (an ``OSError``); over the limit: :class:`~obskit.errors.InvalidArgument`, and nothing more
    is read.

    >>> import io
    >>> read_body(io.BufferedReader(io.BytesIO(b"abc")), limit=10)
    b'abc'
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not complete after {URL_DEADLINE_S:g} s in all")
        chunk = resp.read1(65536)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise InvalidArgument(f"{what}: larger than {limit >> 20} MiB, the most a response may have")
        chunks.append(chunk)


def decompressed_allowance(stored: int) -> int:
    """The most bytes a compressed file of ``stored`` bytes may expand to before it is refused.

    >>> decompressed_allowance(100 << 10) == 1 << 30, decompressed_allowance(10 << 30) == 10_000 << 30
    (True, True)
    """
    return max(EXPANSION_FREE_BYTES, MOST_EXPANSION * stored)
