"""``obskit watch``: the config's alert rules evaluated as the data arrives.

A :class:`Watcher` does, every ``interval``, what a report does once:

1. **reads** the lines appended to the request logs since the last tick
   (:class:`~obskit.watch.tail.LogTail`: growing, rotated and truncated files, new files of
   a glob), through the loader's own checks (:class:`~obskit.watch.parse.LineParser`);
   samples the local host (or node_exporter through the live Prometheus) and local GPUs
   through NVML when present; queries the live Prometheus for the ``[[panels]]``;
2. **updates its state**: the new rows become a :class:`~obskit.alerts.count_state.CountState`
   merged into the one it keeps (the same state a report at scale builds in one pass), and
   a bounded buffer of recent rows for the signals that need rows (class mix, feature shift,
   null share, confidence shift, label arrival, a version's tail latency);
3. **evaluates** the rules with :func:`obskit.alerts.evaluate` over the complete minutes it
   keeps (a minute is complete once a line of a later minute was read, or ``grace`` after
   its end when no line comes), so an episode has the times ``obskit report`` over the same
   data gives it afterwards;
4. **notifies** each firing and each resolution once (:mod:`obskit.watch.episodes`),
   with the subject and hints of :func:`obskit.alerts.explain.explain_run`;
5. **publishes** its signals and alert states as Prometheus metrics
   (:class:`~obskit.watch.metrics.SignalCollector`) and its status in ``status.json``;
6. **checkpoints** (:mod:`obskit.watch.checkpoint`): after a restart it continues where it
   stopped, neither notifying twice nor losing an episode.

A source that fails (a log folder gone, the Prometheus server down) makes the status
``degraded`` (logged once, in ``status.json`` and ``obskit_watch_degraded``); the watcher
keeps going and says when it recovered.

Examples
--------
>>> w = Watcher.open("obskit.toml", WatchOptions(interval=15))  # doctest: +SKIP
>>> w.tick().status  # doctest: +SKIP
'ok'
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from obskit.alerts.count_state import CountState, count_signal_frames, count_state
from obskit.alerts.notify import WebhookNotifier, alert_records
from obskit.alerts.row_tails import ROW_SIGNAL_FRAMES
from obskit.config import Config, load_config
from obskit.errors import ConfigError, ObskitError
from obskit.load.host import NODE_QUERIES, HostSampler, host_frame, node_host_frame
from obskit.redact import scrub
from obskit.watch.checkpoint import Checkpoint
from obskit.watch.episodes import Sent, due
from obskit.watch.mapped import MAPPED, mapped_window_stats
from obskit.watch.metrics import SignalCollector
from obskit.watch.parse import LineParser
from obskit.watch.tail import LogTail

__all__ = ["Tick", "WatchOptions", "Watcher"]

logger = logging.getLogger("obskit.watch")

#: The signal frames the watcher computes from its buffer of recent rows (the count state gives the rest).
_FROM_ROWS: frozenset[str] = ROW_SIGNAL_FRAMES | {"versions", "label_arrival", "drift_over_time"}


@dataclass
class WatchOptions:
    """How a :class:`Watcher` runs (the ``obskit watch`` flags).

    ``horizon``: how much of the past the count state keeps (the rules' windows and
    baselines must fit: error excess looks 4 h back); ``row_horizon`` and ``max_rows``: the
    buffer of recent rows for the signals that need rows; ``grace``: how long after a
    minute's end an empty minute counts as complete; ``state_dir``: checkpoint and
    ``status.json`` (default ``.obskit/watch`` beside the config).
    """

    interval: float = 15.0
    horizon: timedelta = timedelta(hours=26)
    row_horizon: timedelta = timedelta(hours=3)
    max_rows: int = 2_000_000
    grace: timedelta = timedelta(seconds=60)
    state_dir: Path | None = None
    webhook: str | None = None
    slack: bool = False
    alertmanager: bool = False
    headers: dict[str, str] | None = None
    host: bool = True
    nvml: Any = None


@dataclass
class Tick:
    """What one evaluation found: ``status`` (``ok``: the rules were evaluated and none fires;
    ``alerting``; ``degraded``: a source failed; ``no_data``: no complete minute within the
    horizon yet; ``no_rules``: the config has no ``[[alerts]]``), ``evaluated_until`` (end of
    the last complete minute), ``lines`` and ``rejected`` read this tick, ``sent`` (records
    notified), ``firing`` (rules firing now), ``problems``, ``lag_s`` (now - newest request)."""

    status: str
    evaluated_until: datetime | None
    lines: int = 0
    rejected: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    firing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lag_s: float | None = None


#: Frames of fixed windows longer than a minute, stamped at the window's start.
_WINDOWED = {"business": timedelta(hours=1), "versions": timedelta(minutes=5),
             "drift_over_time": timedelta(hours=1)}


def _lag(rule: Any) -> timedelta:
    """How long after an evaluation time its data is complete: the window of a frame stamped at its start."""
    from obskit.alerts.signals import SIGNALS

    sig = SIGNALS.get(rule.signal)
    if sig is None or sig.time != "window_start":
        return timedelta(0)
    return _WINDOWED.get(sig.frame, timedelta(minutes=1))


def _evaluate_complete(rules: Any, frames: dict[str, pl.DataFrame], first: datetime, end: datetime) -> Any:
    """:func:`obskit.alerts.evaluate` of each rule up to the last time whose data is complete at ``end``.

    A backtest evaluates a rule on a frame stamped at its windows' starts (a minute, an hour)
    at the window's start, once the whole window is known; live, that is one window later.
    """
    from obskit.alerts import evaluate
    from obskit.alerts.engine import AlertRun

    groups: dict[timedelta, list[Any]] = {}
    for rule in rules:
        groups.setdefault(_lag(rule), []).append(rule)
    runs = [evaluate(group, frames, start=first, end=max(end - lag, first)) for lag, group in sorted(groups.items())]
    if len(runs) == 1:
        return runs[0]
    order = {r.name: i for i, r in enumerate(rules)}
    return AlertRun(
        pl.concat([r.episodes for r in runs], how="diagonal_relaxed").sort("pending_at"),
        pl.concat([r.timeline for r in runs], how="diagonal_relaxed"),
        pl.concat([r.current for r in runs], how="diagonal_relaxed"),
        [s for r in runs for s in r.skipped],
        sorted((x for r in runs for x in r.rules), key=lambda x: order.get(x.name, 0)),
    )


def _floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


class Watcher:
    """Incremental evaluation of one config's rules (see the module doc)."""

    def __init__(self, config: Config, options: WatchOptions | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.options = options or WatchOptions()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tails: list[tuple[str, LogTail, LineParser]] = []
        for src in config.sources_for("requests"):
            self.tails.append((src.name, LogTail(self._pattern(src)), LineParser(
                src, timezone=config.project.timezone, model=config.project.model)))
        if not self.tails and not (self._live() is not None and any(config.promql.query(s) for s in MAPPED)):
            raise ConfigError("obskit watch needs a [sources.requests] log to follow, or a live Prometheus "
                              "([sources.*] url) with the serving signals mapped in [promql]", path=str(config.path))
        self.feedback_tails = [(src.name, LogTail(self._pattern(src)), LineParser(
            src, timezone=config.project.timezone, kind="feedback")) for src in config.sources_for("feedback")]
        self.feedback: pl.DataFrame | None = None
        base = Path(config.path).parent if config.path else Path.cwd()
        self.state_dir = Path(self.options.state_dir or base / ".obskit" / "watch")
        self.checkpoint = Checkpoint(self.state_dir)
        self.state: CountState | None = None
        self.rows: list[pl.DataFrame] = []
        self._unsaved: list[pl.DataFrame] = []
        self.sent = Sent()
        self.lines_total = 0
        self.rejected_total = 0
        self.newest: datetime | None = None
        self.host_rows: list[dict[str, Any]] = []
        self.collector = SignalCollector()
        self.notifier: WebhookNotifier | None = None
        if self.options.webhook:
            self.notifier = WebhookNotifier(self.options.webhook, headers=self.options.headers,
                                            slack=self.options.slack, alertmanager=self.options.alertmanager)
        self._host = HostSampler() if self.options.host else None
        self._nvml: Any = None
        self._reference: pl.DataFrame | None = None
        self._reference_loaded = False
        self._degraded: list[str] = []
        self.last: Tick | None = None
        self._restore()

    @classmethod
    def open(cls, config: str | Path, options: WatchOptions | None = None) -> Watcher:
        """A watcher of the config file ``config``."""
        return cls(load_config(config), options)

    # ------------------------------------------------------------------ sources
    @staticmethod
    def _pattern(src: Any) -> str:
        path = src.get("path")
        fmt = str(src.get("format") or "")
        text = str(path) if path is not None else ""
        if not text or "://" in text or fmt == "parquet" or text.endswith((".parquet", ".gz", ".zst")):
            raise ConfigError(f"obskit watch follows JSONL or CSV request logs as they grow; source {src.name!r} "
                              f"is {text or 'not a file'}: point a [sources.requests] at the live log files",
                              path=f"sources.{src.name}.path")
        return text

    @property
    def reference(self) -> pl.DataFrame | None:
        """The training set (loaded once)."""
        if not self._reference_loaded:
            from obskit.session import Session

            s = Session(self.config)
            self._reference = s.reference
            self._degraded.extend(f"{p.source}: {p.reason}" for p in s.problems)
            self._reference_loaded = True
        return self._reference

    def _read(self, problems: list[str]) -> tuple[pl.DataFrame | None, int, int]:
        frames, lines, rejected = [], 0, 0
        for name, tail, parser in self.tails:
            try:
                chunks = tail.poll()
            except OSError as exc:
                problems.append(scrub(f"{name}: {exc}"))
                continue
            if not tail.files:
                problems.append(f"{name}: no log file matches {tail.pattern}")
            before = parser.quarantine.count
            for chunk in chunks:
                lines += chunk.data.count(b"\n")
                rows = parser.parse(chunk)
                if rows.height:
                    frames.append(rows)
            rejected += parser.quarantine.count - before
        corrections = []
        for name, tail, parser in self.feedback_tails:
            try:
                corrections += [parser.parse(c) for c in tail.poll()]
            except OSError as exc:
                problems.append(scrub(f"{name}: {exc}"))
        corrections = [c for c in corrections if c.height]
        if corrections:
            known = [self.feedback] if self.feedback is not None else []
            fb = pl.concat([*known, *corrections], how="diagonal_relaxed")
            self.feedback = fb.sort("corrected_at").unique("request_id", keep="last", maintain_order=True)
        if not frames:
            return None, lines, rejected
        return pl.concat(frames, how="diagonal_relaxed"), lines, rejected

    def _gpu(self, problems: list[str], now: datetime) -> pl.DataFrame | None:
        parts = []
        if self._nvml is None and self.options.nvml is not False:
            from obskit.load.nvml import NvmlSampler

            try:
                self._nvml = NvmlSampler(interval=max(self.options.interval, 1.0), nvml=self.options.nvml,
                                         processes=False).start()
            except (ObskitError, ImportError, OSError):
                self._nvml = False  # no local GPU: nothing to sample
        if self._nvml:
            parts.append(self._nvml.frame())
        if self.config.sources_for("gpu"):
            from obskit.session import Session

            s = Session(self.config, now - self.options.horizon, now)
            gpu = s.gpu
            problems.extend(scrub(f"{p.source}: {p.reason}") for p in s.problems)
            if gpu is not None:
                parts.append(gpu)
        parts = [p for p in parts if p.height]
        if not parts:
            return None
        gpu = pl.concat(parts, how="diagonal_relaxed")
        return gpu.filter(pl.col("timestamp") >= now - self.options.horizon)

    def _live(self) -> Any:
        from obskit.panels import live_source

        return live_source(self.config)

    def _hosts(self, problems: list[str], now: datetime) -> pl.DataFrame | None:
        live = self._live()
        took = False
        if live is not None:
            from obskit.panels import client_for

            try:
                client = client_for(live)
                got = node_host_frame(*(client.query(NODE_QUERIES[c], now) for c in
                                        ("cpu_utilization_pct", "memory_used_share")))
                if got.height:
                    self.host_rows += got.with_columns(pl.lit(now).alias("timestamp")).to_dicts()
                    took = True
            except (ObskitError, ValueError) as exc:
                problems.append(scrub(f"{live.name}: {exc}"))
        if not took and self._host is not None:
            sample = self._host.sample(now)
            if sample is not None:
                self.host_rows.append(sample)
        cutoff = now - self.options.horizon
        self.host_rows = [r for r in self.host_rows if r["timestamp"] >= cutoff]
        return host_frame(self.host_rows) if self.host_rows else None

    def _mapped(self, problems: list[str], now: datetime) -> pl.DataFrame | None:
        """``window_stats`` of the mapped serving signals from the live Prometheus (:mod:`obskit.watch.mapped`)."""
        from obskit.panels import client_for

        live = self._live()
        if live is None:
            return None
        try:
            frame = mapped_window_stats(client_for(live), self.config.promql,
                                        _floor_minute(now - self.options.horizon), _floor_minute(now))
        except (ObskitError, ValueError) as exc:
            problems.append(scrub(f"{live.name}: {exc}"))
            return None
        if frame is None or frame.height == 0:
            problems.append(f"{live.name}: no serving signal in Prometheus over the last {self.options.horizon}")
            return None
        return frame

    def _panels(self, problems: list[str], now: datetime) -> pl.DataFrame | None:
        if not any(r.signal == "panel" for r in self.config.alerts):
            return None
        from obskit.session import Session

        s = Session(self.config, now - self.options.horizon, now)
        frame = s.panel_signal()
        problems.extend(scrub(f"{p.source}: {p.reason}") for p in s.problems)
        return frame

    # ------------------------------------------------------------------ state
    def _add(self, rows: pl.DataFrame) -> None:
        c = self.config
        part = count_state(rows.lazy(), slo_ms=c.slo.latency_ms,
                           confidence_threshold=c.business.confidence_threshold)
        self.state = part if self.state is None else self.state.merge(part)
        self.rows.append(rows)
        self._unsaved.append(rows)
        newest = rows["timestamp"].max()
        if isinstance(newest, datetime) and (self.newest is None or newest > self.newest):
            self.newest = newest

    def _prune(self, now: datetime) -> None:
        first = _us(_floor_minute(now - self.options.horizon))
        if self.state is not None:
            self.state = self.state.between(first)
        cutoff = now - self.options.row_horizon
        rows = [r.filter(pl.col("timestamp") >= cutoff) for r in self.rows]
        rows = [r for r in rows if r.height]
        total = sum(r.height for r in rows)
        while rows and total - rows[0].height >= self.options.max_rows:
            total -= rows[0].height
            rows.pop(0)
        if self.feedback is not None:  # corrections of requests older than the row buffer are of no use
            self.feedback = self.feedback.filter(pl.col("corrected_at") >= cutoff)
        if len(rows) > 64:  # keep the number of frames small
            rows = [pl.concat(rows, how="diagonal_relaxed")]
        self.rows = rows

    def _complete_until(self, now: datetime) -> datetime | None:
        """End of the last complete minute (see the module doc), or None before any data."""
        if self.state is None or self.state.empty:
            return None
        mark = now - self.options.grace
        if self.newest is not None and self.newest > mark:
            mark = min(self.newest, now)
        return _floor_minute(mark)

    # ------------------------------------------------------------------ evaluation
    def _frames(self, end: datetime, gpu: pl.DataFrame | None, host: pl.DataFrame | None,
                panel: pl.DataFrame | None) -> tuple[dict[str, pl.DataFrame], pl.DataFrame | None, datetime]:
        from obskit.alerts.inputs import signal_frames

        assert self.state is not None
        c = self.config
        state = self.state.between(None, _us(end))
        m = state.minutes.get_column("_m")
        first = _dt(int(m.min())) if m.len() else end - timedelta(minutes=1)  # type: ignore[arg-type]
        frames = count_signal_frames(state, start=first, end=end, slo_ms=c.slo.latency_ms)
        rows = pl.concat(self.rows, how="diagonal_relaxed").filter(pl.col("timestamp") < end) if self.rows else None
        if rows is not None and self.feedback_tails:
            from obskit.load.logs import attach_feedback

            fb = self.feedback if self.feedback is not None else pl.DataFrame(
                schema={"request_id": pl.String, "corrected_label": pl.String,
                        "corrected_at": pl.Datetime("us", "UTC")})
            rows = attach_feedback(rows, fb.filter(pl.col("corrected_at") < end))
        wanted = {r.signal for r in c.alerts}
        from obskit.alerts.signals import SIGNALS

        by_rows = _FROM_ROWS | ({"business"} if self.feedback_tails else set())
        if rows is not None and rows.height and any(SIGNALS[s].frame in by_rows for s in wanted if s in SIGNALS):
            row_first = _floor_minute(rows["timestamp"].min())  # type: ignore[arg-type]
            extra = signal_frames(rows, reference=self.reference, features=c.features.all,
                                  confidence_threshold=c.business.confidence_threshold, slo_ms=c.slo.latency_ms,
                                  start=max(row_first, first), end=end)
            frames.update({k: v for k, v in extra.items() if k in by_rows})
        # a window is evaluated once complete: a partial hour's rate is not the hour's
        for name, length in _WINDOWED.items():
            if name in frames and "window_start" in frames[name].columns:
                frames[name] = frames[name].filter(pl.col("window_start") + length <= end)
        return self._extra_frames(frames, gpu, host, panel), rows, first

    @staticmethod
    def _extra_frames(frames: dict[str, pl.DataFrame], gpu: pl.DataFrame | None, host: pl.DataFrame | None,
                      panel: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
        """``frames`` with the GPU, host and panel signal frames."""
        from obskit.alerts.inputs import signal_frames

        if gpu is not None and gpu.height:
            frames.update(signal_frames(None, gpu=gpu))
        if host is not None and host.height:
            frames["host"] = host
        if panel is not None and panel.height:
            frames["panel"] = panel
        return frames

    def tick(self, now: datetime | None = None) -> Tick:
        """Read, update, evaluate, notify, publish and checkpoint once."""
        from obskit.alerts.explain import explain_run

        now = now or self.clock()
        problems: list[str] = list(self._degraded)
        self._degraded = []
        rows, lines, rejected = self._read(problems)
        self.lines_total += lines
        self.rejected_total += rejected
        if rows is not None and rows.height:
            self._add(rows)
        self._prune(now)
        gpu = self._gpu(problems, now)
        host = self._hosts(problems, now)
        panel = self._panels(problems, now)
        end = self._complete_until(now)
        mapped = None if self.tails else self._mapped(problems, now)
        if mapped is not None:  # no request logs: the serving signals come from Prometheus
            end = _floor_minute(now)
        tick = Tick("ok", end, lines, rejected, problems=problems,
                    lag_s=None if self.newest is None else (now - self.newest).total_seconds())
        run = None
        frames: dict[str, pl.DataFrame] = {}
        if end is not None and self.config.alerts:
            if mapped is not None:
                frames, recent = self._extra_frames({"window_stats": mapped}, gpu, host, panel), None
                first = mapped["window_start"].min()
                assert isinstance(first, datetime)
            else:
                frames, recent, first = self._frames(end, gpu, host, panel)
            run = _evaluate_complete(self.config.alerts, frames, first, end)
            c = self.config
            run = explain_run(run, recent, reference=self.reference, gpu=gpu, numeric=c.features.numeric,
                              slo_ms=c.slo.latency_ms, confidence_threshold=c.business.confidence_threshold)
            tick.sent = self._notify(alert_records(run), now)
            tick.firing = sorted(set(run.firing_now["rule"].to_list()))
        if problems:
            tick.status = "degraded"
        elif tick.firing:
            tick.status = "alerting"
        elif run is None:  # "ok" only says rules were checked and found nothing
            tick.status = "no_rules" if not self.config.alerts else "no_data"
        self._log_transition(tick)
        self.collector.update(frames, None if run is None else run.current, {
            "up": 1.0, "degraded": float(bool(problems)), "lag_seconds": tick.lag_s if tick.lag_s is not None else 0.0,
            "lines_total": float(self.lines_total), "rejected_total": float(self.rejected_total),
            "firing_alerts": float(len(tick.firing)),
        })
        self.last = tick
        self._save(now, tick)
        return tick

    def _notify(self, records: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        self.sent.forget_before(now - self.options.horizon)
        marks = {k: [list(e) for e in v] for k, v in self.sent.episodes.items()}
        todo = due(records, self.sent)
        if not todo or self.notifier is None:
            return todo
        report = self.notifier.deliver(todo)
        if not report.ok:  # nothing is marked sent unless it was: the next tick tries again
            logger.warning("notification failed: %s", "; ".join(d.reason for d in report.failed))
            self.sent.episodes = marks
            return []
        return todo

    def _log_transition(self, tick: Tick) -> None:
        before = self.last.status if self.last is not None else None
        if tick.status == "degraded" and before != "degraded":
            logger.warning("degraded: %s", "; ".join(tick.problems))
        elif before == "degraded" and tick.status != "degraded":
            logger.warning("recovered: every source answers again")

    # ------------------------------------------------------------------ checkpoint
    def _save(self, now: datetime, tick: Tick) -> None:
        positions = {name: tail.positions() for name, tail, _ in [*self.tails, *self.feedback_tails]}
        self.checkpoint.save(
            state=self.state, new_rows=self._unsaved, positions=positions, sent=self.sent.as_dict(),
            feedback=self.feedback,
            counters={"lines_total": self.lines_total, "rejected_total": self.rejected_total,
                      "newest": None if self.newest is None else self.newest.isoformat()},
            row_cutoff=now - self.options.row_horizon,
            status={"status": tick.status, "at": now.isoformat(),
                    "evaluated_until": None if tick.evaluated_until is None else tick.evaluated_until.isoformat(),
                    "lag_s": tick.lag_s, "lines_total": self.lines_total, "rejected_total": self.rejected_total,
                    "firing": tick.firing, "problems": tick.problems,
                    "sent": [{"rule": r["rule"], "state": r["state"], "subject": r.get("subject")} for r in tick.sent]},
        )
        self._unsaved = []

    def _restore(self) -> None:
        saved = self.checkpoint.load()
        if saved is None:
            return
        self.state = saved.state
        self.rows = saved.rows
        self.sent = Sent.from_dict(saved.sent)
        self.lines_total = int(saved.counters.get("lines_total") or 0)
        self.rejected_total = int(saved.counters.get("rejected_total") or 0)
        newest = saved.counters.get("newest")
        self.newest = datetime.fromisoformat(newest) if newest else None
        self.feedback = saved.feedback
        for name, tail, _ in [*self.tails, *self.feedback_tails]:
            tail.restore(saved.positions.get(name, {}))

    # ------------------------------------------------------------------ loop
    def run(self, *, stop: threading.Event | None = None, metrics_port: int | None = None, once: bool = False) -> int:
        """Tick every ``interval`` until ``stop`` is set (SIGTERM/SIGINT set it from the CLI).

        Returns the exit code: 0 (stopped cleanly).
        """
        stop = stop or threading.Event()
        if metrics_port is not None:
            from prometheus_client import CollectorRegistry, start_http_server

            registry = CollectorRegistry()
            registry.register(self.collector)
            start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
        try:
            while True:
                started = _time.monotonic()
                tick = self.tick()
                logger.info("tick: %s, complete until %s, %d lines (%d rejected), %d sent, lag %s s",
                            tick.status, tick.evaluated_until, tick.lines, tick.rejected, len(tick.sent),
                            None if tick.lag_s is None else round(tick.lag_s, 1))
                if once or stop.wait(max(0.0, self.options.interval - (_time.monotonic() - started))):
                    break
        finally:
            self.close()
        return 0

    def close(self) -> None:
        """Close the files and stop sampling."""
        for _, tail, _ in self.tails:
            tail.close()
        if self._nvml:
            self._nvml.stop()
            self._nvml = None
