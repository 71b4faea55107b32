"""Project configuration (``obskit.toml``): sources, column mapping, features, SLOs, panels, report.

The file is TOML, read with :mod:`tomllib` (never evaluated). Unknown keys are errors (a
typo must not silently disable a check). Relative paths are resolved against the config
file's folder.

Sources are ``[sources.<name>]`` tables naming a *kind* of the source registry
(:mod:`obskit.load.registry`): ``kind = "dmon"``, or implied by the name for the kinds'
own names (``[sources.requests]``, ``[sources.prometheus]``, ``[sources.torch_trace]``...).
Each kind checks its own options. The former ``[sources.gpu]`` table (``nvidia_smi`` /
``dcgm`` keys) is still read.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "obskit.toml").write_text('[project]\\nmodel = "m"\\n[sources.requests]\\npath = "r.jsonl"\\n')
>>> cfg = load_config(d / "obskit.toml")
>>> cfg.project.model, cfg.requests.path.name
('m', 'r.jsonl')
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obskit.alerts.defaults import default_rules
from obskit.alerts.rules import Rule, parse_rules
from obskit.errors import ConfigError, InvalidArgument
from obskit.limits import SHORTEST_WINDOW
from obskit.load.registry import SourceConfig
from obskit.promql_map import PromqlMapping, parse_promql
from obskit.timeutil import bounded_duration

__all__ = [
    "BusinessConfig",
    "Config",
    "FeaturesConfig",
    "Panel",
    "ProjectConfig",
    "ReportConfig",
    "SloConfig",
    "SourceConfig",
    "load_config",
]


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "obskit project"
    model: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True)
class Panel:
    """A metric panel: a PromQL query shown as one chart (``[[panels]]``)."""

    title: str
    query: str
    unit: str = ""
    threshold: float | None = None
    file: Path | None = None
    legend: str = ""


@dataclass(frozen=True)
class FeaturesConfig:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        """Numeric then categorical feature names."""
        return self.numeric + self.categorical


@dataclass(frozen=True)
class SloConfig:
    latency_ms: float = 200.0
    latency_quantile: float = 0.99
    availability: float = 0.99
    window: str = "5m"


@dataclass(frozen=True)
class BusinessConfig:
    confidence_threshold: float = 0.8
    correction_rate_max: float = 0.01


@dataclass(frozen=True)
class ReportConfig:
    window: str = "5m"
    max_rows: int = 5_000_000
    #: ``window`` was set in the file; otherwise reports choose it from the period
    #: (:func:`obskit.timeutil.report_window`).
    window_set: bool = False


@dataclass(frozen=True)
class Config:
    """The whole project config."""

    path: Path
    project: ProjectConfig
    sources: tuple[SourceConfig, ...]
    features: FeaturesConfig
    slo: SloConfig
    business: BusinessConfig
    report: ReportConfig
    alerts: tuple[Rule, ...] = ()
    panels: tuple[Panel, ...] = ()
    promql: PromqlMapping = field(default_factory=lambda: PromqlMapping())
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def sources_for(self, frame: str) -> list[SourceConfig]:
        """The configured sources producing canonical frame ``frame`` (``requests``, ``gpu``...)."""
        return [s for s in self.sources if s.frame == frame]

    def source(self, name: str) -> SourceConfig | None:
        """The source named ``name`` (``[sources.<name>]``), or None."""
        return next((s for s in self.sources if s.name == name), None)

    def _first(self, frame: str) -> SourceConfig | None:
        found = self.sources_for(frame)
        return found[0] if found else None

    @property
    def requests(self) -> SourceConfig | None:
        """The first source of requests (request logs or OTLP spans), or None."""
        return self._first("requests")

    @property
    def feedback(self) -> SourceConfig | None:
        """The first feedback source, or None."""
        return self._first("feedback")

    @property
    def reference(self) -> SourceConfig | None:
        """The first reference (training set) source, or None."""
        return self._first("reference")


_TOP = {"project", "sources", "features", "slo", "business", "report", "alerts", "panels", "promql"}
_LEGACY_GPU = {"nvidia_smi", "dcgm", "timezone", "host"}


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{key}: {reason}", path=self.path)

    def table(self, data: Any, key: str) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.fail(key, f"expected a table, got {type(data).__name__}")
        return data

    def keys(self, data: dict[str, Any], key: str, allowed: set[str]) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(key, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")

    def typed(self, data: dict[str, Any], key: str, name: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if name not in data:
            return default
        value = data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{key}.{name}", f"expected {want}, got {value!r}")
        return value

    def path_of(self, value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a path string, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p


def load_config(path: str | Path) -> Config:
    """Read and validate an ``obskit.toml``.

    Raises
    ------
    ConfigError
        Missing file, invalid TOML (with line), unknown keys, wrong types.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError("config file not found", path=p)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("config is not valid UTF-8", path=p) from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", str(exc))
        raise ConfigError(f"invalid TOML: {msg}", path=p, line=line) from None
    r = _Reader(p)
    r.keys(raw, "<top>", _TOP)
    proj = r.table(raw.get("project"), "project")
    r.keys(proj, "project", {"name", "model", "timezone"})
    project = ProjectConfig(
        name=r.typed(proj, "project", "name", str, "obskit project"),
        model=r.typed(proj, "project", "model", str, ""),
        timezone=r.typed(proj, "project", "timezone", str, "UTC"),
    )
    check_timezone(r, "project.timezone", project.timezone)
    sources = _sources(r, r.table(raw.get("sources"), "sources"), project)
    feat = r.table(raw.get("features"), "features")
    r.keys(feat, "features", {"numeric", "categorical"})
    for k in ("numeric", "categorical"):
        v = feat.get(k, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise r.fail(f"features.{k}", "expected a list of column names")
    features = FeaturesConfig(tuple(feat.get("numeric", [])), tuple(feat.get("categorical", [])))
    slo_t = r.table(raw.get("slo"), "slo")
    r.keys(slo_t, "slo", {"latency_ms", "latency_quantile", "availability", "window"})
    slo = SloConfig(
        latency_ms=r.typed(slo_t, "slo", "latency_ms", float, 200.0),
        latency_quantile=r.typed(slo_t, "slo", "latency_quantile", float, 0.99),
        availability=r.typed(slo_t, "slo", "availability", float, 0.99),
        window=r.typed(slo_t, "slo", "window", str, "5m"),
    )
    if not (math.isfinite(slo.latency_ms) and slo.latency_ms > 0):
        raise r.fail("slo.latency_ms", f"must be a positive number of milliseconds, got {slo.latency_ms}")
    if not 0 < slo.latency_quantile < 1:
        raise r.fail("slo.latency_quantile", f"must be in (0, 1), got {slo.latency_quantile}")
    if not 0 < slo.availability < 1:
        raise r.fail("slo.availability", f"must be in (0, 1), got {slo.availability}")
    bus_t = r.table(raw.get("business"), "business")
    r.keys(bus_t, "business", {"confidence_threshold", "correction_rate_max"})
    business = BusinessConfig(
        confidence_threshold=r.typed(bus_t, "business", "confidence_threshold", float, 0.8),
        correction_rate_max=r.typed(bus_t, "business", "correction_rate_max", float, 0.01),
    )
    for key, share in (("confidence_threshold", business.confidence_threshold),
                       ("correction_rate_max", business.correction_rate_max)):
        if not 0 <= share <= 1:  # NaN fails this too
            raise r.fail(f"business.{key}", f"must be a share in [0, 1], got {share}")
    rep_t = r.table(raw.get("report"), "report")
    r.keys(rep_t, "report", {"window", "max_rows"})
    report = ReportConfig(window=r.typed(rep_t, "report", "window", str, "5m"),
                          max_rows=r.typed(rep_t, "report", "max_rows", int, 5_000_000),
                          window_set="window" in rep_t)
    if report.max_rows < 0:
        raise r.fail("report.max_rows", f"must be >= 0, got {report.max_rows}")
    for key, value in (("slo.window", slo.window), ("report.window", report.window)):
        try:
            bounded_duration(key, value, shortest=SHORTEST_WINDOW)
        except ConfigError as exc:
            raise ConfigError(exc.reason, path=p) from None
    _check_mappings(r, sources, features)
    return Config(
        path=p,
        project=project,
        sources=sources,
        features=features,
        slo=slo,
        business=business,
        report=report,
        # no `alerts` key: the default rules, as `obskit init` writes them; `alerts = []`: none
        alerts=tuple(parse_rules(raw["alerts"] or [], path=p)) if "alerts" in raw else tuple(default_rules()),
        panels=_panels(r, raw.get("panels")),
        promql=parse_promql(raw.get("promql"), fail=r.fail),
        raw=raw,
    )


def _sources(r: _Reader, table: dict[str, Any], project: ProjectConfig) -> tuple[SourceConfig, ...]:
    from obskit.load.registry import KINDS, validate_options

    out: list[SourceConfig] = []
    for name, data in table.items():
        key = f"sources.{name}"
        d = r.table(data, key)
        if name == "gpu" and "kind" not in d:  # the former [sources.gpu] table
            r.keys(d, key, _LEGACY_GPU)
            if "nvidia_smi" not in d and "dcgm" not in d:
                continue
            kind = "nvidia_smi" if "nvidia_smi" in d else "dcgm"
            d = {"path": d[kind], **{k: v for k, v in d.items() if k in ("timezone", "host")}}
            if kind == "dcgm":
                d.pop("timezone", None)
        else:
            kind = d.get("kind", name)
            if not isinstance(kind, str) or kind not in KINDS:
                shown = f"unknown kind {kind!r}" if "kind" in d else "missing 'kind'"
                raise r.fail(key, f"{shown} (kinds: {', '.join(sorted(KINDS))})")
        opts = validate_options(KINDS[kind], d, key=key, base=r.base, fail=r.fail)
        if isinstance(opts.get("timezone"), str):
            check_timezone(r, f"{key}.timezone", opts["timezone"])
        out.append(SourceConfig(name, kind, opts))
    return tuple(out)


def _panels(r: _Reader, data: Any) -> tuple[Panel, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise r.fail("panels", "expected [[panels]] entries")
    out = []
    titles: set[str] = set()
    for i, entry in enumerate(data):
        key = f"panels[{i}]"
        d = r.table(entry, key)
        r.keys(d, key, {"title", "query", "unit", "threshold", "file", "legend"})
        for need in ("title", "query"):
            if not isinstance(d.get(need), str) or not d[need].strip():
                raise r.fail(f"{key}.{need}", "required, a non-empty string")
        if d["title"] in titles:
            raise r.fail(f"{key}.title", f"duplicate panel title {d['title']!r}")
        titles.add(d["title"])
        threshold = r.typed(d, key, "threshold", float, None)
        if threshold is not None and not math.isfinite(threshold):
            raise r.fail(f"{key}.threshold", f"must be finite, got {threshold}")
        out.append(Panel(d["title"], d["query"], r.typed(d, key, "unit", str, ""), threshold,
                         None if "file" not in d else r.path_of(d["file"], f"{key}.file"),
                         r.typed(d, key, "legend", str, "")))
    return tuple(out)


_MAPPABLE = {"feedback": {"request_id", "corrected_label", "corrected_at"}}
_REFERENCE_MAPPABLE = {"prediction", "label"}


def _check_mappings(r: _Reader, sources: tuple[SourceConfig, ...], features: FeaturesConfig) -> None:
    """A column-map key names a canonical column or a configured feature: a typo is an error, not a no-op."""
    from obskit.schemas import REQUESTS

    for src in sources:
        mapping = src.options.get("columns")
        if not mapping:
            continue
        allowed = _MAPPABLE.get(src.kind) or ({c.name for c in REQUESTS.columns} | {"corrected_at"}
                                               | set(features.all))
        if src.kind == "reference":  # the training set: the names the requests' features and predictions have
            allowed = _REFERENCE_MAPPABLE | set(features.all)
        for key in mapping:
            if key not in allowed:
                raise r.fail(f"sources.{src.name}.columns.{key}",
                             f"not a canonical column{' or a [features] name' if src.kind != 'feedback' else ''} "
                             f"(canonical: {', '.join(sorted(allowed - set(features.all)))})")


def check_timezone(r: _Reader, key: str, name: str) -> None:
    """An IANA timezone name (``Europe/Berlin``, ``UTC``) or a ConfigError naming ``key``."""
    import zoneinfo

    try:
        if not name or name != name.strip() or "\x00" in name:
            raise InvalidArgument(name)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise r.fail(key, f"unknown timezone {name!r} (use an IANA name such as 'UTC' or 'Europe/Berlin')") from None
