"""A report's view of a project: config, period, sources loaded on first use, problems kept.

:class:`Session` is what notebooks work with. Sources are loaded lazily; a source that
fails (missing file, corrupt data, unreachable server) does not raise in the notebook: the
failure is recorded in :attr:`Session.problems`, the section that needed it shows why, and
the run is marked *degraded* in ``summary.json``.

Examples
--------
>>> s = Session.open("data/samples/obskit.toml")  # doctest: +SKIP
>>> s.requests.height  # doctest: +SKIP
150000
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from obskit._atomic import atomic_write_text
from obskit.config import Config, load_config
from obskit.errors import ObskitError
from obskit.load._quarantine import Quarantine
from obskit.problems import Problem
from obskit.redact import scrub
from obskit.timeutil import parse_time

if TYPE_CHECKING:
    from obskit.alerts import AlertRun
    from obskit.load.registry import SourceConfig
    from obskit.panels import PanelData
    from obskit.scale.rollup import Rollup

__all__ = ["Session", "atomic_write_text"]


_HOST_FRAMES = ("gpu", "gpu_processes", "kernels")


class _AlreadyRecorded(Exception):
    """No frame, and nothing to record: its input failed (already recorded) or is not configured."""


@dataclass
class Session:
    """Config + period + lazily loaded canonical frames."""

    config: Config
    start: datetime | None = None
    end: datetime | None = None
    model: str = ""
    version: str = ""
    problems: list[Problem] = field(default_factory=list)
    quarantine: Quarantine = field(default_factory=Quarantine)
    _cache: dict[str, pl.DataFrame | None] = field(default_factory=dict, repr=False)
    _runs: dict[str, AlertRun | None] = field(default_factory=dict, repr=False)
    _states: dict[str, Rollup | None] = field(default_factory=dict, repr=False)
    _signals: dict[str, pl.DataFrame] | None = field(default=None, repr=False)
    _panels: list[PanelData] | None = field(default=None, repr=False)
    #: Set by a report at scale (:mod:`obskit.report.scale`): the request rows are never loaded.
    scale: Any = None
    scale_span: tuple[datetime, datetime] | None = None
    #: A large parquet request source of which only the period is read (filters pushed into the scan).
    pushdown: Any = None

    @classmethod
    def open(cls, config: str | Path, *, start: str = "", end: str = "", model: str = "",
             version: str = "") -> Session:
        """Read the config and set the period (empty strings mean "all the data")."""
        from obskit.limits import check_period

        cfg = load_config(config)
        lo, hi = parse_time(start) if start else None, parse_time(end) if end else None
        check_period(lo, hi)
        return cls(cfg, lo, hi, model or cfg.project.model, version)

    # ------------------------------------------------------------------ loading
    def _load(self, name: str, loader: Any, *, problem: str = "") -> pl.DataFrame | None:
        if name not in self._cache:
            try:
                self._cache[name] = loader()
            except _AlreadyRecorded:
                self._cache[name] = None
            except ObskitError as exc:
                self.problems.append(Problem(problem or name, scrub(str(exc))))
                self._cache[name] = None
            except OSError as exc:
                self.problems.append(Problem(problem or name, scrub(f"{exc.strerror or exc}")))
                self._cache[name] = None
        return self._cache[name]

    def _period(self, df: pl.DataFrame, col: str = "timestamp") -> pl.DataFrame:
        if self.start is not None:
            df = df.filter(pl.col(col) >= self.start)
        if self.end is not None:
            df = df.filter(pl.col(col) < self.end)
        return df

    def _load_source(self, src: SourceConfig) -> pl.DataFrame | None:
        """One configured source through its kind's loader (cached; a failure becomes a problem)."""

        def load() -> pl.DataFrame:
            from obskit.load.registry import KINDS, LoadContext

            if self.scale is not None and src.kind == "requests":
                raise _AlreadyRecorded  # at scale the rows are streamed, never loaded
            if self.pushdown is not None and src.kind == "requests":
                from obskit.load.request_source import load_period

                return load_period(self.pushdown, start=self.start, end=self.end, model=self.model,
                                   version=self.version)

            kind = KINDS[src.kind]
            ctx = LoadContext(self.quarantine, self.config.project.timezone, self.config.project.model)
            skipped, warned = len(self.quarantine.stats.skipped), len(self.quarantine.stats.warnings)
            df = kind.load(src, ctx)
            for file, why in self.quarantine.stats.skipped[skipped:]:  # a bad file of a glob: the rest loaded
                self.problems.append(Problem(src.name, scrub(f"{file}: {why}")))
            for _, why in self.quarantine.stats.warnings[warned:]:  # loaded, but its figures look wrong
                self.problems.append(Problem(src.name, scrub(why)))
            if kind.frame in _HOST_FRAMES and df.height:
                host = src.get("host") or src.name
                if "host" not in df.columns:
                    df = df.with_columns(pl.lit(host, pl.String).alias("host"))
                else:
                    df = df.with_columns(pl.col("host").cast(pl.String).fill_null(host))
            return df

        return self._load(f"source:{src.name}", load, problem=src.name)

    def load_all(self) -> list[Problem]:
        """Load every configured source (cached), so a failure is known even if no section read it."""
        for src in self.config.sources:
            self._load_source(src)
        return list(self.problems)

    def check_periods(self, *, pad: timedelta = timedelta(0)) -> list[Problem]:
        """Record as problems the configured sources that have no row in the report's period.

        A source that loads but covers another span (a GPU trace of another day) is as much
        a failure as a missing file: its sections would be silently empty. The period is the
        parameters, else the requests' span widened by ``pad`` (the chart window; see
        :meth:`data_span`). Request sources are left out (an empty period is ``no_data``,
        :func:`obskit.report.status.run_status`), as are the reference set and feedback
        (no period: joined on request ids), frames without timestamps (profiler kernels)
        and a live Prometheus server (queried over the period, nothing loaded).
        Returns the problems added.
        """
        span = self.data_span()
        if span is None:
            return []
        lo, hi = span
        added: list[Problem] = []
        for src in self.config.sources:
            if src.frame in ("requests", "reference", "feedback"):
                continue
            df = self._load_source(src)
            if df is None or "timestamp" not in df.columns:
                continue  # failed (already a problem), or rows without times
            ts = pl.col("timestamp")
            first = ts >= self.start if self.start is not None else ts >= lo - pad
            last = ts < self.end if self.end is not None else ts <= hi + pad
            if df.filter(first & last).height:
                continue
            period = f"{lo:%Y-%m-%d %H:%M} – {hi:%Y-%m-%d %H:%M} UTC"
            what = "the file" if src.path is not None and src.path.is_file() else "the source"
            a, b = (df["timestamp"].min(), df["timestamp"].max()) if df.height else (None, None)
            if isinstance(a, datetime) and isinstance(b, datetime):
                covers = f"{what} covers {a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} UTC"
            else:
                covers = f"{what} has no row that loads"
            where = f" in {src.location}" if src.location else ""
            added.append(Problem(src.name, scrub(f"no rows in the period {period} ({covers}){where}")))
        self.problems.extend(added)
        return added

    def source(self, name: str) -> pl.DataFrame | None:
        """The frame of the source ``[sources.<name>]`` as loaded (whole file, no period), or None."""
        src = self.config.source(name)
        if src is None:
            raise ObskitError(f"no source named {name!r} (configured: "
                              f"{', '.join(s.name for s in self.config.sources) or 'none'})", path=self.config.path)
        return self._load_source(src)

    def frame(self, frame: str) -> pl.DataFrame | None:
        """Canonical frame ``frame`` from every source that produces it, in the period.

        None when no source of it is configured or every one failed (see :attr:`problems`).
        """
        def load() -> pl.DataFrame | None:
            parts = [df for src in self.config.sources_for(frame) if (df := self._load_source(src)) is not None]
            if not parts:
                return None
            df = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")
            if frame != "reference" and "timestamp" in df.columns:
                df = self._period(df)
            return df

        key = f"frame:{frame}"
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    @property
    def requests(self) -> pl.DataFrame | None:
        """The ``requests`` frame of the period (feedback joined), or None if there is none."""

        def load() -> pl.DataFrame:
            from obskit.load.logs import attach_feedback

            if not self.config.sources_for("requests"):
                raise _AlreadyRecorded  # not configured is not a failure: sections say "no request logs"
            df = self.frame("requests")
            if df is None:
                raise _AlreadyRecorded
            feedback = self.frame("feedback")
            if feedback is not None:
                df = attach_feedback(df, feedback)
            if self.model:
                df = df.filter(pl.col("model") == self.model)
            if self.version:
                df = df.filter(pl.col("model_version") == self.version)
            return df

        return self._load("requests", load)

    @property
    def reference(self) -> pl.DataFrame | None:
        """The training reference set, or None if there is none."""
        return self.frame("reference")

    @property
    def gpu(self) -> pl.DataFrame | None:
        """The ``gpu`` frame of the period (every GPU source, a ``host`` column apart), or None."""
        return self.frame("gpu")

    @property
    def host(self) -> pl.DataFrame | None:
        """Host CPU and memory of the period from node_exporter in the live Prometheus, or None.

        The ``host`` frame of :mod:`obskit.load.host`; None without a live metrics source or
        when it has no node_exporter series (a failing server is recorded as a problem).
        """
        def load() -> pl.DataFrame:
            from obskit.load.host import NODE_QUERIES, node_host_frame
            from obskit.panels import choose_step, client_for, live_source

            live = live_source(self.config)
            span = self.data_span()
            if live is None or span is None:
                raise _AlreadyRecorded
            start, end = span
            step = live.get("step") or choose_step(end - start)
            client = client_for(live)
            frame = node_host_frame(*(client.query_range(NODE_QUERIES[c], start, end, step) for c in
                                      ("cpu_utilization_pct", "memory_used_share")))
            if frame.height == 0:
                raise _AlreadyRecorded  # no node_exporter: nothing to show, nothing wrong
            return frame

        return self._load("host", load, problem="host")

    @property
    def gpu_processes(self) -> pl.DataFrame | None:
        """Per-process GPU use of the period (pmon, compute-apps), or None."""
        return self.frame("gpu_processes")

    @property
    def kernels(self) -> pl.DataFrame | None:
        """GPU kernels from profiler traces, or None."""
        return self.frame("kernels")

    @property
    def metrics(self) -> pl.DataFrame | None:
        """Prometheus samples of the period: saved responses and scrapes, and from a live server the
        series the reports' analyses read (:data:`obskit.panels.LIVE_SERIES`); None when there are none."""
        if "_live_metrics" not in self._cache:
            from obskit.panels import live_metrics

            self._cache["_live_metrics"] = live_metrics(self)
        parts = [df for df in (self.frame("metrics"), self._cache["_live_metrics"]) if df is not None and df.width]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")

    def panels(self) -> list[PanelData]:
        """Each ``[[panels]]`` entry's series over the report period (live server or saved file)."""
        if self._panels is None:
            from obskit.panels import query_panels

            self._panels = query_panels(self)
        return self._panels

    def data_span(self) -> tuple[datetime, datetime] | None:
        """The period, or where it is open, the span of the data (requests, else GPU samples, metrics)."""
        if self.scale_span is not None:
            return self.start or self.scale_span[0], self.end or self.scale_span[1]
        for frame in ("requests", "gpu", "metrics", "gpu_processes"):
            if not self.config.sources_for(frame):
                continue
            df = self.requests if frame == "requests" else self.frame(frame)
            if df is not None and df.height and "timestamp" in df.columns:
                lo, hi = df["timestamp"].min(), df["timestamp"].max()
                if isinstance(lo, datetime) and isinstance(hi, datetime):
                    return self.start or lo, self.end or hi
        if self.start is not None and self.end is not None:
            return self.start, self.end
        return None

    def signal_frames(self) -> dict[str, pl.DataFrame]:
        """The result frames alert signals read (see :func:`obskit.alerts.inputs.signal_frames`), cached.

        Reports reuse them (e.g. the hourly KL divergence per feature) instead of recomputing.
        """
        if self._signals is None:
            from obskit.alerts.inputs import signal_frames

            self._signals = signal_frames(
                self.requests, reference=self.reference, gpu=self.gpu, features=self.config.features.all,
                confidence_threshold=self.config.business.confidence_threshold, slo_ms=self.config.slo.latency_ms,
                start=self.start, end=self.end,
            )
            if self.requests is None and self.scale is not None:
                # rows never loaded: the signals counts determine, streamed from the files
                from obskit.alerts.count_state import count_state_of, label_minutes
                from obskit.alerts.scale_inputs import scale_signal_frames

                scan = self.request_scan()
                assert scan is not None
                period = self.window_state()
                self._signals.update(scale_signal_frames(
                    scan, start=self.start, end=self.end, slo_ms=self.config.slo.latency_ms,
                    confidence_threshold=self.config.business.confidence_threshold, reference=self.reference,
                    features=self.config.features.all, drift_every=self._drift_every(),
                    state=None if period is None else count_state_of(period),
                    labels=None if period is None else label_minutes(period),
                    plain=self.request_scan(feedback=False)))
            if any(r.signal == "panel" for r in self.config.alerts):
                self._signals["panel"] = self.panel_signal()
        return self._signals

    def _drift_every(self) -> str | None:
        """At scale, the hourly drift tests are run only when a rule reads them (one more pass): "1h" or None."""
        from obskit.alerts.signals import SIGNALS

        wanted = any(SIGNALS[r.signal].frame == "drift_over_time" for r in self.config.alerts if r.signal in SIGNALS)
        return "1h" if wanted else None

    def request_scan(self, *, feedback: bool = True) -> pl.LazyFrame | None:
        """At scale, the period's requests as a lazy scan (feedback joined as the rows stream), else None.

        Sections and signals that read every row at scale aggregate this scan in streaming
        passes; the corrections are few and held. ``feedback=False`` leaves the join out for
        a reader of features only (drift).
        """
        if self.scale is None:
            return None
        from obskit.load.request_source import canonical_scan

        scan = canonical_scan(self.scale, start=self.start, end=self.end, model=self.model, version=self.version)
        corrections = self._corrections() if feedback else None
        if corrections is not None and "request_id" in scan.collect_schema().names():
            from obskit.load.logs import attach_feedback

            scan = attach_feedback(scan, corrections)
        return scan

    def window_state(self) -> Rollup | None:
        """The period's requests as one-minute window state per model version, cached (None without requests).

        One pass over the rows held, or at scale over the scan (corrections joined): exact
        counts (requests, errors, successful and slow ones, within the SLO, the business
        counts), latency sketches and error messages. The report's sections and the alerts'
        count signals at scale read it (coarsened), instead of each reading the rows again.
        """
        if "period" not in self._states:
            from obskit.scale.rollup import build_rollup

            rows: pl.DataFrame | pl.LazyFrame | None = self.request_scan() if self.scale is not None else self.requests
            self._states["period"] = None if rows is None else build_rollup(
                rows, slo_ms=self.config.slo.latency_ms,
                confidence_threshold=self.config.business.confidence_threshold, every="1m")
        return self._states["period"]

    def _corrections(self) -> pl.DataFrame | None:
        """The loaded corrections (``feedback``), or None when none is configured or it failed to load."""
        return self.frame("feedback") if self.config.sources_for("feedback") else None

    def panel_signal(self) -> pl.DataFrame:
        """Every ``[[panels]]`` series as one signal frame: ``timestamp``, ``panel``, ``series``, ``value``."""
        from obskit.panels import panel_series

        parts = [panel_series(d.frame, d.panel.legend).with_columns(pl.lit(d.panel.title).alias("panel"))
                 for d in self.panels() if d.frame is not None and d.frame.height]
        if not parts:
            return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "panel": pl.String,
                                        "series": pl.String, "value": pl.Float64})
        return pl.concat([p.select("timestamp", "panel", "series", "value") for p in parts])

    def alerts(self) -> AlertRun | None:
        """The config's alert rules backtested over the period (None without requests, GPU samples or panel rules)."""
        if "_alerts" not in self._runs:
            from obskit.alerts import evaluate
            from obskit.alerts.explain import explain_run

            has_requests = (self.requests is not None and self.requests.height > 0) or self.scale_span is not None
            has_gpu = self.gpu is not None and self.gpu.height > 0
            if not has_requests and not has_gpu and not any(r.signal == "panel" for r in self.config.alerts):
                self._runs["_alerts"] = None
            else:
                start, end = self.start, self.end
                if has_requests and start is None and end is None and self.requests is not None:
                    # an open period is the requests' span, as on the page: GPU samples of other
                    # hours are not this report's (no alert outside what the page shows)
                    ts = self.requests["timestamp"]
                    lo, hi = ts.min(), ts.max()
                    if isinstance(lo, datetime) and isinstance(hi, datetime):
                        minute = timedelta(minutes=1)
                        start = lo.replace(second=0, microsecond=0)
                        end = hi.replace(second=0, microsecond=0) + minute
                if self.scale_span is not None and start is None and end is None:  # at scale: the files' span
                    minute = timedelta(minutes=1)
                    start = self.scale_span[0].replace(second=0, microsecond=0)
                    end = self.scale_span[1].replace(second=0, microsecond=0) + minute
                run = evaluate(self.config.alerts, self.signal_frames(), start=start, end=end)
                # at scale each episode reads its window's rows, the corrections joined to those alone
                rows = self.request_scan(feedback=False) if self.scale is not None else self.requests
                self._runs["_alerts"] = explain_run(
                    run, rows, reference=self.reference, gpu=self.gpu, numeric=self.config.features.numeric,
                    slo_ms=self.config.slo.latency_ms, confidence_threshold=self.config.business.confidence_threshold,
                    feedback=self._corrections() if self.scale is not None else None)
        return self._runs["_alerts"]

    def evaluated_alerts(self) -> AlertRun | None:
        """The alert run if a section evaluated the rules, else None (never evaluates them)."""
        return self._runs.get("_alerts")

    # ------------------------------------------------------------------ summary
    @property
    def period_label(self) -> str:
        """Human period: the parameters, else the span of the data (requests, GPU samples, metrics)."""
        span = self.data_span()
        if span is None:
            return "all data"
        start, end = span
        return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"

    @property
    def day(self) -> str:
        """The date a report is filed under: the period's start, else the data's first day, else today."""
        span = self.data_span()
        if span is not None:
            return f"{span[0]:%Y-%m-%d}"
        return f"{self.start or datetime.now(UTC):%Y-%m-%d}"

    @property
    def status(self) -> str:
        """``ok`` or ``degraded`` (a source failed)."""
        return "degraded" if self.problems else "ok"

    def problems_html(self) -> str:
        """An escaped HTML note listing failed sources (empty string when none)."""
        if not self.problems:
            return ""
        items = "".join(f"<li><b>{html.escape(p.source)}</b>: {html.escape(p.reason)}</li>" for p in self.problems)
        return ('<div class="obskit-problems"><p><b>Degraded run</b>: part of what the config names could not be '
                f'read or checked.</p><ul>{items}</ul></div>')

    def write_summary(self, output_dir: str | Path, figures: dict[str, Any],
                      status: dict[str, Any] | None = None) -> Path | None:
        """Write ``summary.json`` (period, status, problems, key figures) into ``output_dir``.

        ``status`` (``status``, ``flags``, ``reasons``) comes from the report; without it the
        status is ``degraded`` when a source failed, else ``ok``. Non-finite numbers are
        written as null: the file is strict JSON.
        """
        if not output_dir:
            return None
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {
            "project": self.config.project.name,
            "model": self.model,
            "day": self.day,
            "period": self.period_label,
            "status": self.status,
            "flags": [self.status] if self.status != "ok" else [],
            "reasons": [],
            "problems": [{"source": p.source, "reason": p.reason} for p in self.problems],
            "rejected_records": self.quarantine.count,
            "figures": dict(figures),
        }
        body.update(status or {})
        run = self._runs.get("_alerts")
        if run is not None:
            from obskit.alerts import alerts_json

            body["figures"]["alerts_fired"] = run.fired.height
            atomic_write_text(out / "alerts.json", strict_json(alerts_json(run)))
        path = out / "summary.json"
        atomic_write_text(path, strict_json(body))
        return path


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def strict_json(obj: Any) -> str:
    """Indented strict JSON (NaN and infinities become null; other values their ``str``).

    >>> strict_json({"p99_ms": float("nan"), "n": 3})
    '{\\n  "p99_ms": null,\\n  "n": 3\\n}\\n'
    """
    return json.dumps(_finite(json.loads(json.dumps(obj, default=str))), indent=2, allow_nan=False) + "\n"
