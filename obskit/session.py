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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from obskit._atomic import atomic_write_text
from obskit.config import Config, load_config
from obskit.errors import ObskitError
from obskit.load._quarantine import Quarantine
from obskit.timeutil import parse_time

if TYPE_CHECKING:
    from obskit.alerts import AlertRun

__all__ = ["Problem", "Session", "atomic_write_text"]


@dataclass(frozen=True)
class Problem:
    """A source that failed, and why."""

    source: str
    reason: str


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
    _signals: dict[str, pl.DataFrame] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, config: str | Path, *, start: str = "", end: str = "", model: str = "",
             version: str = "") -> Session:
        """Read the config and set the period (empty strings mean "all the data")."""
        cfg = load_config(config)
        return cls(cfg, parse_time(start) if start else None, parse_time(end) if end else None,
                   model or cfg.project.model, version)

    # ------------------------------------------------------------------ loading
    def _load(self, name: str, loader: Any) -> pl.DataFrame | None:
        if name not in self._cache:
            try:
                self._cache[name] = loader()
            except ObskitError as exc:
                self.problems.append(Problem(name, str(exc)))
                self._cache[name] = None
            except OSError as exc:
                self.problems.append(Problem(name, f"{exc.strerror or exc}"))
                self._cache[name] = None
        return self._cache[name]

    def _period(self, df: pl.DataFrame, col: str = "timestamp") -> pl.DataFrame:
        if self.start is not None:
            df = df.filter(pl.col(col) >= self.start)
        if self.end is not None:
            df = df.filter(pl.col(col) < self.end)
        return df

    @property
    def requests(self) -> pl.DataFrame | None:
        """The ``requests`` frame of the period (feedback joined), or None if it failed."""

        def load() -> pl.DataFrame:
            from obskit.load.logs import attach_feedback, load_feedback, load_requests

            src = self.config.requests
            if src is None:
                raise ObskitError("no [sources.requests] in the config", path=self.config.path)
            df = load_requests(
                src.path, format=src.format, columns=src.columns, timestamp_format=src.timestamp_format,
                timezone=self.config.project.timezone, status_convention=src.status_convention,
                defaults={"model": self.config.project.model} if self.config.project.model else None,
                quarantine=self.quarantine,
            )
            fb = self.config.feedback
            if fb is not None:
                try:
                    df = attach_feedback(df, load_feedback(fb.path, columns=fb.columns,
                                                           timestamp_format=fb.timestamp_format,
                                                           quarantine=self.quarantine))
                except ObskitError as exc:
                    self.problems.append(Problem("feedback", str(exc)))
            df = self._period(df)
            if self.model:
                df = df.filter(pl.col("model") == self.model)
            if self.version:
                df = df.filter(pl.col("model_version") == self.version)
            return df

        return self._load("requests", load)

    @property
    def reference(self) -> pl.DataFrame | None:
        """The training reference set, or None if it failed."""

        def load() -> pl.DataFrame:
            from obskit.load.logs import load_reference

            src = self.config.reference
            if src is None:
                raise ObskitError("no [sources.reference] in the config", path=self.config.path)
            return load_reference(src.path, format=src.format)

        return self._load("reference", load)

    @property
    def gpu(self) -> pl.DataFrame | None:
        """The ``gpu`` frame of the period (nvidia-smi log, else DCGM scrape), or None."""
        src = self.config.gpu
        if src.nvidia_smi is None and src.dcgm is None:
            return None

        def load() -> pl.DataFrame:
            if src.nvidia_smi is not None:
                from obskit.load.gpu import load_nvidia_smi

                df = load_nvidia_smi(src.nvidia_smi, timezone=src.timezone, quarantine=self.quarantine)
            else:
                from obskit.load.gpu_metrics import gpu_from_metrics
                from obskit.load.prometheus_text import load_prometheus_text

                assert src.dcgm is not None
                df = gpu_from_metrics(load_prometheus_text(src.dcgm, quarantine=self.quarantine))
            return self._period(df)

        return self._load("gpu", load)

    @property
    def metrics(self) -> pl.DataFrame | None:
        """Prometheus samples of the period (saved query_range responses and scrapes), or None."""
        src = self.config.prometheus
        if not src.query_range and src.scrapes is None:
            return None

        def load() -> pl.DataFrame:
            from obskit.load.prometheus_api import load_prometheus_json
            from obskit.load.prometheus_text import load_prometheus_text

            frames = [load_prometheus_json(p, quarantine=self.quarantine) for p in src.query_range]
            if src.scrapes is not None:
                frames.append(load_prometheus_text(src.scrapes, quarantine=self.quarantine))
            return self._period(pl.concat(frames, how="diagonal_relaxed"))

        return self._load("metrics", load)

    def signal_frames(self) -> dict[str, pl.DataFrame]:
        """The result frames alert signals read (see :func:`obskit.alerts.inputs.signal_frames`), cached.

        Reports reuse them (e.g. the hourly KL divergence per feature) instead of recomputing.
        """
        if self._signals is None:
            from obskit.alerts.inputs import signal_frames

            self._signals = signal_frames(
                self.requests, reference=self.reference, gpu=self.gpu, features=self.config.features.all,
                confidence_threshold=self.config.business.confidence_threshold, slo_ms=self.config.slo.latency_ms,
            )
        return self._signals

    def alerts(self) -> AlertRun | None:
        """The config's alert rules backtested over the period (None without requests)."""
        if "_alerts" not in self._runs:
            from obskit.alerts import evaluate

            if self.requests is None or self.requests.height == 0:
                self._runs["_alerts"] = None
            else:
                self._runs["_alerts"] = evaluate(self.config.alerts, self.signal_frames(), start=self.start,
                                                 end=self.end)
        return self._runs["_alerts"]

    # ------------------------------------------------------------------ summary
    @property
    def period_label(self) -> str:
        """Human period, from the parameters or from the data."""
        start, end = self.start, self.end
        df = self._cache.get("requests")
        if df is not None and df.height and (start is None or end is None):
            start = start or df["timestamp"].min()  # type: ignore[assignment]
            end = end or df["timestamp"].max()  # type: ignore[assignment]
        if start is None or end is None:
            return "all data"
        return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"

    @property
    def day(self) -> str:
        """The date a report of this session is filed under (period start, else data start)."""
        if self.start is not None:
            return f"{self.start:%Y-%m-%d}"
        df = self._cache.get("requests")
        if df is not None and df.height:
            first = df["timestamp"].min()
            assert isinstance(first, datetime)
            return f"{first:%Y-%m-%d}"
        return f"{datetime.now(UTC):%Y-%m-%d}"

    @property
    def status(self) -> str:
        """``ok`` or ``degraded`` (a source failed)."""
        return "degraded" if self.problems else "ok"

    def problems_html(self) -> str:
        """An escaped HTML note listing failed sources (empty string when none)."""
        if not self.problems:
            return ""
        items = "".join(f"<li><b>{html.escape(p.source)}</b>: {html.escape(p.reason)}</li>" for p in self.problems)
        return f'<div class="obskit-problems"><p><b>Degraded run</b>: some sources failed.</p><ul>{items}</ul></div>'

    def write_summary(self, output_dir: str | Path, figures: dict[str, Any]) -> Path | None:
        """Write ``summary.json`` (period, status, problems, key figures) into ``output_dir``."""
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
            "problems": [{"source": p.source, "reason": p.reason} for p in self.problems],
            "rejected_records": self.quarantine.count,
            "figures": dict(figures),
        }
        run = self._runs.get("_alerts")
        if run is not None:
            from obskit.alerts import alerts_json

            body["figures"]["alerts_fired"] = run.fired.height
            atomic_write_text(out / "alerts.json", json.dumps(alerts_json(run), indent=2, default=str) + "\n")
        path = out / "summary.json"
        atomic_write_text(path, json.dumps(body, indent=2, default=str) + "\n")
        return path
