"""Host CPU utilisation and memory: the local host's ``/proc``, or node_exporter through Prometheus.

:class:`HostSampler` reads the local host (Linux ``/proc/stat`` and ``/proc/meminfo``) once
per call; the CPU share is the busy share of the time elapsed since the previous call, as
node_exporter's ``rate(node_cpu_seconds_total)`` gives it. :data:`NODE_QUERIES` are the
PromQL a watcher asks a live Prometheus for the hosts node_exporter watches. Both give the
``host`` frame: ``timestamp``, ``host``, ``cpu_utilization_pct`` (0..100) and
``memory_used_share`` (0..1, ``1 - MemAvailable / MemTotal``).

Examples
--------
>>> s = HostSampler()
>>> first = s.sample()          # the first call only primes the CPU counters
>>> row = s.sample()
>>> sorted(row) if row else None  # doctest: +SKIP
['cpu_utilization_pct', 'host', 'memory_used_share', 'timestamp']
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["HOST_SCHEMA", "NODE_QUERIES", "HostSampler", "host_frame", "node_host_frame"]

HOST_SCHEMA = pl.Schema([("timestamp", pl.Datetime("us", "UTC")), ("host", pl.String),
                         ("cpu_utilization_pct", pl.Float64), ("memory_used_share", pl.Float64)])

#: node_exporter PromQL, per ``host`` column (label ``instance`` becomes ``host``).
NODE_QUERIES = {
    "cpu_utilization_pct": '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))',
    "memory_used_share": "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
}


def _cpu_times(root: Path) -> tuple[float, float] | None:
    try:
        first = (root / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if first[0] != "cpu":
        return None
    values = [float(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
    return sum(values[:8]), idle  # guest time is already in user/nice


def _memory_used(root: Path) -> float | None:
    try:
        fields = dict(line.split(":", 1) for line in (root / "meminfo").read_text().splitlines() if ":" in line)
        total = float(fields["MemTotal"].split()[0])
        avail = float(fields["MemAvailable"].split()[0])
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return 1.0 - avail / total if total > 0 else None


class HostSampler:
    """Samples of the local host, one per :meth:`sample` call (``proc`` for tests)."""

    def __init__(self, host: str | None = None, *, proc: str | Path = "/proc") -> None:
        self.host = host or socket.gethostname()
        self.proc = Path(proc)
        self._last: tuple[float, float] | None = None

    def sample(self, now: datetime | None = None) -> dict[str, Any] | None:
        """One sample (None on the first call, or where ``/proc`` is unreadable)."""
        times = _cpu_times(self.proc)
        last, self._last = self._last, times
        if times is None or last is None or times[0] <= last[0]:
            return None
        busy = 1.0 - (times[1] - last[1]) / (times[0] - last[0])
        return {"timestamp": now or datetime.now(UTC), "host": self.host,
                "cpu_utilization_pct": round(100.0 * min(max(busy, 0.0), 1.0), 3),
                "memory_used_share": _memory_used(self.proc)}


def host_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Samples as a ``host`` frame."""
    return pl.DataFrame(rows, schema=HOST_SCHEMA) if rows else pl.DataFrame(schema=HOST_SCHEMA)


def node_host_frame(cpu: pl.DataFrame, memory: pl.DataFrame) -> pl.DataFrame:
    """The ``host`` frame from the answers (``metrics`` frames) to the two :data:`NODE_QUERIES`.

    The ``instance`` label names the host; a host missing from one answer has a null there.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = [datetime(2026, 1, 1, tzinfo=UTC)]
    >>> cpu = pl.DataFrame({"timestamp": t, "metric": [""], "instance": ["n1:9100"], "value": [37.5]})
    >>> mem = pl.DataFrame({"timestamp": t, "metric": [""], "instance": ["n1:9100"], "value": [0.25]})
    >>> node_host_frame(cpu, mem).select("host", "cpu_utilization_pct", "memory_used_share").row(0)
    ('n1:9100', 37.5, 0.25)
    """
    def part(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        if frame.height == 0:
            return pl.DataFrame(schema={"timestamp": HOST_SCHEMA["timestamp"], "host": pl.String, name: pl.Float64})
        host = pl.col("instance").cast(pl.String) if "instance" in frame.columns else pl.lit("")
        return frame.select(pl.col("timestamp").cast(HOST_SCHEMA["timestamp"]), host.fill_null("").alias("host"),
                            pl.col("value").cast(pl.Float64).alias(name))

    out = part(cpu, "cpu_utilization_pct").join(part(memory, "memory_used_share"), on=["timestamp", "host"],
                                                 how="full", coalesce=True)
    return out.select(list(HOST_SCHEMA)).sort("timestamp", "host")
