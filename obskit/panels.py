"""``[[panels]]``: any Prometheus metric a user already has, as a chart in the health report.

Each panel is a PromQL ``query`` with a ``title``, an optional ``unit`` and ``threshold``.
With a live server (``[sources.prometheus] url``) the query runs as ``query_range`` over the
report's period, with a step chosen from the period (about :data:`TARGET_POINTS` points;
the client splits longer ranges). Without one, a panel's ``file`` holds a saved
``query_range`` response of the same query. An unreachable server or an HTTP error is a
*problem* of the ``prometheus`` source (the run is degraded, exit 4, the page says why);
the token is read from the environment variable the config names and never shown.

Examples
--------
>>> from datetime import timedelta
>>> choose_step(timedelta(hours=24))
'3m'
>>> choose_step(timedelta(minutes=10))
'15s'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import polars as pl

from obskit.errors import ObskitError
from obskit.problems import Problem

if TYPE_CHECKING:
    from obskit.config import Config, Panel
    from obskit.load._quarantine import Quarantine
    from obskit.load.prometheus_api import PrometheusClient
    from obskit.load.registry import SourceConfig


class Period(Protocol):
    """What the panels read of a session: its config and period, and where problems and rejects go.

    :class:`~obskit.session.Session` is one; the panels need nothing else of it (and do not
    import it: the session is the layer above).
    """

    config: Config
    start: datetime | None
    end: datetime | None
    problems: list[Problem]
    quarantine: Quarantine

    def data_span(self) -> tuple[datetime, datetime] | None:
        """The period, or the data's span where it is open."""

__all__ = [
    "LIVE_SERIES",
    "TARGET_POINTS",
    "PanelData",
    "Period",
    "choose_step",
    "client_for",
    "live_metrics",
    "live_source",
    "panel_series",
    "query_panels",
]

TARGET_POINTS = 500
#: The series the reports' own analyses read from a live server (Triton's cumulative counters).
LIVE_SERIES = '{__name__=~"nv_inference_(request|queue|compute_input|compute_infer|compute_output)_duration_us|' \
              'nv_inference_request_(success|failure)"}'
_STEPS = (15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


@dataclass(frozen=True)
class PanelData:
    """A panel and its series (``metrics`` frame), or the reason there are none."""

    panel: Panel
    frame: pl.DataFrame | None
    reason: str = ""
    origin: str = ""


def choose_step(span: timedelta, *, target: int = TARGET_POINTS) -> str:
    """The smallest round step giving at most ``target`` points over ``span`` (at least 15 s)."""
    need = span.total_seconds() / max(target, 1)
    step = next((s for s in _STEPS if s >= need), _STEPS[-1])
    if step % 3600 == 0:
        return f"{step // 3600}h"
    return f"{step // 60}m" if step % 60 == 0 else f"{step}s"


def client_for(src: SourceConfig) -> PrometheusClient:
    """A client for a live ``prometheus`` source; the bearer token comes from ``token_env``.

    Raises
    ------
    ConfigError
        The named environment variable is not set, or the URL is not http(s).
    """
    from obskit.errors import ConfigError
    from obskit.load.prometheus_api import PrometheusClient

    token = None
    env = src.get("token_env")
    if env:
        token = os.environ.get(env)
        if not token:
            raise ConfigError(f"sources.{src.name}.token_env: environment variable {env} is not set")
    try:
        return PrometheusClient(str(src.get("url")), bearer_token=token, timeout=float(src.get("timeout")),
                                retries=1, backoff=0.2)
    except ValueError as exc:
        raise ConfigError(f"sources.{src.name}.url: {exc}") from None


def _period(session: Period) -> tuple[datetime, datetime]:
    span = session.data_span()
    if span is not None:
        return span
    end = session.end or datetime.now(UTC).replace(microsecond=0)
    return session.start or end - timedelta(hours=24), end


def live_source(cfg: Config) -> SourceConfig | None:
    """The config's live Prometheus (the first metrics source with a ``url``), or None."""
    return next((s for s in cfg.sources_for("metrics") if s.get("url")), None)


def query_panels(session: Period) -> list[PanelData]:
    """Every configured panel's series over the session's period (problems recorded on the session)."""

    cfg = session.config
    if not cfg.panels:
        return []
    live = live_source(cfg)
    start, end = _period(session)
    out: list[PanelData] = []
    client: PrometheusClient | None = None
    failed = ""
    for panel in cfg.panels:
        if panel.file is not None:
            out.append(_from_file(panel, session, start, end))
            continue
        if live is None:
            out.append(PanelData(panel, None, "no live Prometheus server ([sources.prometheus] url) and no saved "
                                              "file for this panel"))
            continue
        if failed:
            out.append(PanelData(panel, None, failed, live.location))
            continue
        try:
            client = client or client_for(live)
            step = live.get("step") or choose_step(end - start)
            frame = client.query_range(panel.query, start, end, step)
        except (ObskitError, ValueError) as exc:
            from obskit.errors import RemoteError
            from obskit.redact import scrub

            reason = scrub(str(exc))
            if isinstance(exc, RemoteError) and exc.status is not None and exc.status < 500:
                # the server answered: this query is wrong (bad PromQL...), the next panels may be fine
                session.problems.append(Problem(f"panel {panel.title}", reason))
            else:  # unreachable, timed out, 5xx, or no token: every panel would fail the same way
                failed = reason
                session.problems.append(Problem(live.name, reason))
            out.append(PanelData(panel, None, reason, live.location))
            continue
        out.append(PanelData(panel, frame, "" if frame.height else "the query returned no series in this period",
                             live.location))
    return out


def _from_file(panel: Panel, session: Period, start: datetime, end: datetime) -> PanelData:
    from obskit.load.prometheus_api import load_prometheus_json

    assert panel.file is not None
    try:
        frame = load_prometheus_json(str(panel.file), quarantine=session.quarantine)
    except (ObskitError, OSError) as exc:
        reason = str(exc)
        session.problems.append(Problem(f"panel {panel.title}", reason))
        return PanelData(panel, None, reason, str(panel.file))
    if session.start is not None or session.end is not None:
        frame = frame.filter(pl.col("timestamp").is_between(start, end, closed="left"))
    return PanelData(panel, frame, "" if frame.height else "no sample in this period", str(panel.file))


def panel_series(frame: pl.DataFrame, legend: str = "") -> pl.DataFrame:
    """A panel's samples as ``timestamp``, ``series`` (a label per series), ``value``.

    ``legend`` is a Grafana-style template (``"{{model}} {{version}}"``); by default the
    labels that differ between the series name them (the metric name for a single series).

    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "metric": ["m", "m"],
    ...                   "value": [1.0, 2.0], "job": ["a", "a"], "model": ["x", "y"]})
    >>> panel_series(f)["series"].to_list()
    ['model=x', 'model=y']
    >>> panel_series(f, "{{model}} @ {{job}}")["series"].to_list()
    ['x @ a', 'y @ a']
    """
    import re

    labels = [c for c in frame.columns if c not in ("timestamp", "value", "family")]
    if legend:
        parts: list[pl.Expr] = []
        pos = 0
        for m in re.finditer(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", legend):
            parts.append(pl.lit(legend[pos:m.start()]))
            name = m.group(1)
            parts.append(pl.col(name).cast(pl.String).fill_null("") if name in frame.columns else pl.lit(""))
            pos = m.end()
        parts.append(pl.lit(legend[pos:]))
        series = pl.concat_str(parts)
    else:
        varying = [c for c in labels if frame[c].n_unique() > 1]
        if not varying:
            series = pl.col("metric").cast(pl.String) if "metric" in frame.columns else pl.lit("value")
        else:
            series = pl.concat_str([pl.lit(f"{c}=") + pl.col(c).cast(pl.String).fill_null("") for c in varying],
                                   separator=", ")
    return frame.select("timestamp", series.alias("series"), pl.col("value").cast(pl.Float64)).sort(
        "series", "timestamp")


def live_metrics(session: Period) -> pl.DataFrame | None:
    """The series the reports read (:data:`LIVE_SERIES`) from a live server over the period, or None.

    None without a live source; a failure is recorded as a problem of that source.
    """

    live = live_source(session.config)
    if live is None:
        return None
    start, end = _period(session)
    try:
        return client_for(live).query_range(LIVE_SERIES, start, end, live.get("step") or choose_step(end - start))
    except (ObskitError, ValueError) as exc:
        from obskit.redact import scrub

        session.problems.append(Problem(live.name, scrub(str(exc))))
        return None
