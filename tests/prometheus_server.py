"""A real Prometheus server on loopback, for tests that compare obskit with PromQL.

Two kinds of data are served by one server process:

* **historical, exact data**: :func:`synthetic_series` generates counters (with resets and a
  scrape gap), a gauge and classic histograms with jittered timestamps; they are written
  as OpenMetrics text and turned into a TSDB block with
  ``promtool tsdb create-blocks-from openmetrics`` in the server's storage directory
  before it starts (retention 100y), so every test knows each sample exactly;
* **live data**: a ``prometheus_client`` exporter started in-process on another free
  port, scraped every second.

Use :func:`running_prometheus` as a context manager (tests wrap it in a module fixture);
it skips when the ``prometheus`` or ``promtool`` binary is missing.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.conftest import require_binary

#: Bucket bounds of the synthetic histogram.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
#: Length of the synthetic data in seconds, and the nominal sample interval.
SPAN_S = 1800
INTERVAL_MS = 5000

Labels = tuple[tuple[str, str], ...]


@dataclass
class Series:
    """One synthetic series: its name, labels and exact samples (ms, value)."""

    name: str
    labels: Labels
    times_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class PrometheusServer:
    """Handle on a running server and the data it holds."""

    url: str
    base_s: int
    series: list[Series]
    exporter_url: str
    registry: CollectorRegistry
    live_counter: Counter
    storage: Path

    def raw(self, path: str, **params: str) -> dict:
        """The decoded JSON of a GET on the server's API, fetched without obskit."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
            return json.loads(resp.read())

    def wait_for_live(self, timeout: float = 15.0) -> None:
        """Block until the in-process exporter has been scraped at least twice."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.raw("/api/v1/query", query='count_over_time(up{job="obskit-live"}[1m])')
            result = body["data"]["result"]
            if result and float(result[0]["value"][1]) >= 2:
                return
            time.sleep(0.25)
        raise TimeoutError("the live exporter was not scraped in time")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fmt_value(v: float) -> str:
    if v == float("inf"):
        return "+Inf"
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _fmt_ts(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def _times(rng: random.Random, base_ms: int, gap: tuple[int, int] | None = None) -> list[int]:
    """Jittered sample times every INTERVAL_MS over SPAN_S, optionally with a gap (in s)."""
    out = []
    for i in range(SPAN_S * 1000 // INTERVAL_MS + 1):
        t = base_ms + i * INTERVAL_MS + rng.randint(-400, 400)
        if gap and gap[0] * 1000 <= t - base_ms < gap[1] * 1000:
            continue
        out.append(max(t, base_ms))
    return sorted(set(out))


def synthetic_series(base_s: int, seed: int = 7) -> list[Series]:
    """Deterministic counters, gauge and histograms starting at ``base_s``."""
    rng = random.Random(seed)
    base_ms = base_s * 1000
    out: list[Series] = []

    # Counters: one from zero, one from 1000 with a reset and a 70 s scrape gap,
    # one with two resets.
    specs = [("a", 0.0, (), None), ("b", 1000.0, (700,), (400, 470)), ("c", 3.0, (300, 1200), None)]
    for model, start, resets, gap in specs:
        s = Series("obskit_requests_total", (("model", model),))
        value = start
        for t in _times(rng, base_ms, gap):
            rel = (t - base_ms) / 1000
            if resets and rel >= resets[0]:
                value = float(rng.randint(0, 5))
                resets = resets[1:]
            else:
                value += rng.randint(0, 40) * 0.25
            s.times_ms.append(t)
            s.values.append(value)
        out.append(s)

    # A gauge, for delta().
    g = Series("obskit_queue_depth", (("model", "a"),))
    level = 10.0
    for t in _times(rng, base_ms):
        level = max(0.0, level + rng.randint(-8, 8) * 0.5)
        g.times_ms.append(t)
        g.values.append(level)
    out.append(g)

    # Classic histograms: model x route, /health mostly idle (zero-rate windows), one reset.
    for model in ("a", "b"):
        for route in ("/infer", "/health"):
            labels = (("model", model), ("route", route))
            times = _times(rng, base_ms)
            counts = [0.0] * len(BUCKETS)
            total = 0.0
            per_bucket = [Series("obskit_latency_seconds_bucket", (*labels, ("le", _fmt_value(le)))) for le in BUCKETS]
            s_sum = Series("obskit_latency_seconds_sum", labels)
            s_count = Series("obskit_latency_seconds_count", labels)
            mu = -3.0 if model == "a" else -1.5
            for t in times:
                rel = (t - base_ms) / 1000
                if model == "b" and route == "/health" and 899 <= rel < 904:
                    counts, total = [0.0] * len(BUCKETS), 0.0  # process restart
                n = rng.randint(0, 30) if route == "/infer" else (rng.randint(1, 2) if rng.random() < 0.1 else 0)
                for _ in range(n):
                    x = rng.lognormvariate(mu, 1.0)
                    total += round(x, 6)
                    for i, le in enumerate(BUCKETS):
                        if x <= le:
                            counts[i] += 1
                for i, s in enumerate(per_bucket):
                    s.times_ms.append(t)
                    s.values.append(counts[i])
                s_sum.times_ms.append(t)
                s_sum.values.append(round(total, 6))
                s_count.times_ms.append(t)
                s_count.values.append(counts[-1])
            out.extend([*per_bucket, s_sum, s_count])
    return out


def openmetrics_text(series: list[Series]) -> str:
    """The series as OpenMetrics text with explicit timestamps (one family at a time)."""
    families: dict[str, list[Series]] = {}
    for s in series:
        family = s.name
        for suffix in ("_total", "_bucket", "_sum", "_count"):
            if family.endswith(suffix):
                family = family[: -len(suffix)]
                break
        families.setdefault(family, []).append(s)
    lines: list[str] = []
    for family, members in families.items():
        kind = (
            "counter"
            if members[0].name.endswith("_total")
            else ("histogram" if any(m.name.endswith("_bucket") for m in members) else "gauge")
        )
        lines.append(f"# TYPE {family} {kind}")
        if kind == "histogram":
            # A histogram's bucket/sum/count lines are grouped per label set and timestamp.
            by_labels: dict[Labels, list[Series]] = {}
            for m in members:
                key = tuple(kv for kv in m.labels if kv[0] != "le")
                by_labels.setdefault(key, []).append(m)
            for group in by_labels.values():
                for i in range(len(group[0].times_ms)):
                    for m in group:
                        lines.append(_sample_line(m, i))
        else:
            for m in members:
                lines.extend(_sample_line(m, i) for i in range(len(m.times_ms)))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _sample_line(s: Series, i: int) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in s.labels)
    return f"{s.name}{{{labels}}} {_fmt_value(s.values[i])} {_fmt_ts(s.times_ms[i])}"


@contextlib.contextmanager
def running_prometheus(startup_timeout: float = 20.0, extra_targets: tuple[str, ...] = ()
                       ) -> Iterator[PrometheusServer]:
    """Start Prometheus with the synthetic block and a live exporter; stop both after.

    ``extra_targets`` (``host:port``) are scraped every second too, as job ``extra``.
    """
    prometheus = require_binary("prometheus")
    promtool = require_binary("promtool")
    with tempfile.TemporaryDirectory(prefix="obskit-prom-") as tmp:
        root = Path(tmp)
        storage = root / "data"
        storage.mkdir()
        base_s = (int(time.time()) // 3600) * 3600 - 3 * 3600
        series = synthetic_series(base_s)
        om = root / "synthetic.om"
        om.write_text(openmetrics_text(series))
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(storage)],
            check=True,
            capture_output=True,
            timeout=60,
        )

        registry = CollectorRegistry()
        live_counter = Counter("obskit_live_requests", "Live test counter.", ["model"], registry=registry)
        live_counter.labels(model="a").inc(3)
        Gauge("obskit_live_temperature", "Live test gauge.", registry=registry).set(42.5)
        exporter_port = free_port()
        http_server, thread = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)

        port = free_port()
        config = root / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: obskit-live\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{exporter_port}']\n"
            + (f"  - job_name: extra\n    static_configs:\n      - targets: {list(extra_targets)!r}\n"
               if extra_targets else "")
        )
        log = (root / "prometheus.log").open("wb")
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("prometheus exited: " + (root / "prometheus.log").read_text()[-2000:])
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("prometheus did not become ready")
                time.sleep(0.1)
            yield PrometheusServer(
                url,
                base_s,
                series,
                f"http://127.0.0.1:{exporter_port}",
                registry,
                live_counter,
                storage,
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            log.close()
            http_server.shutdown()
            http_server.server_close()
            thread.join(timeout=5)
