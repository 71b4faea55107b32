"""Project configuration (``obskit.toml``): sources, column mapping, features, SLOs, report.

The file is TOML, read with :mod:`tomllib` (never evaluated). Unknown keys are errors (a
typo must not silently disable a check). Relative paths are resolved against the config
file's folder.

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

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obskit.alerts.rules import Rule, parse_rules
from obskit.errors import ConfigError

__all__ = [
    "BusinessConfig",
    "Config",
    "FeaturesConfig",
    "GpuSourceConfig",
    "ProjectConfig",
    "PrometheusSourceConfig",
    "ReportConfig",
    "SloConfig",
    "TableSourceConfig",
    "load_config",
]


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "obskit project"
    model: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True)
class TableSourceConfig:
    """A tabular source (request logs, feedback, reference)."""

    path: Path
    format: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    timestamp_format: str = "iso8601"
    status_convention: str = "auto"


@dataclass(frozen=True)
class PrometheusSourceConfig:
    query_range: tuple[Path, ...] = ()
    scrapes: Path | None = None
    url: str | None = None


@dataclass(frozen=True)
class GpuSourceConfig:
    nvidia_smi: Path | None = None
    dcgm: Path | None = None
    timezone: str = "UTC"


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


@dataclass(frozen=True)
class Config:
    """The whole project config."""

    path: Path
    project: ProjectConfig
    requests: TableSourceConfig | None
    feedback: TableSourceConfig | None
    reference: TableSourceConfig | None
    prometheus: PrometheusSourceConfig
    gpu: GpuSourceConfig
    features: FeaturesConfig
    slo: SloConfig
    business: BusinessConfig
    report: ReportConfig
    alerts: tuple[Rule, ...] = ()
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


_TOP = {"project", "sources", "features", "slo", "business", "report", "alerts"}
_SOURCES = {"requests", "feedback", "reference", "prometheus", "gpu"}


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

    def table_source(self, data: Any, key: str) -> TableSourceConfig | None:
        if data is None:
            return None
        d = self.table(data, key)
        self.keys(d, key, {"path", "format", "columns", "timestamp_format", "status_convention"})
        if "path" not in d:
            raise self.fail(key, "missing 'path'")
        cols = self.table(d.get("columns"), f"{key}.columns")
        for k, v in cols.items():
            if not isinstance(v, str):
                raise self.fail(f"{key}.columns.{k}", f"expected a field name string, got {v!r}")
        fmt = self.typed(d, key, "format", str, None)
        if fmt is not None and fmt not in ("jsonl", "ndjson", "csv", "parquet"):
            raise self.fail(f"{key}.format", f"unknown format {fmt!r} (jsonl, csv, parquet)")
        tsf = self.typed(d, key, "timestamp_format", str, "iso8601")
        if tsf not in ("iso8601", "s", "ms", "us", "ns"):
            raise self.fail(f"{key}.timestamp_format", f"unknown {tsf!r} (iso8601, s, ms, us, ns)")
        conv = self.typed(d, key, "status_convention", str, "auto")
        if conv not in ("auto", "http", "text", "bool", "grpc"):
            raise self.fail(f"{key}.status_convention", f"unknown {conv!r} (auto, http, text, bool, grpc)")
        return TableSourceConfig(self.path_of(d["path"], f"{key}.path"), fmt, dict(cols), tsf, conv)


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
    src = r.table(raw.get("sources"), "sources")
    r.keys(src, "sources", _SOURCES)
    prom = r.table(src.get("prometheus"), "sources.prometheus")
    r.keys(prom, "sources.prometheus", {"query_range", "scrapes", "url"})
    qr = prom.get("query_range", [])
    if isinstance(qr, str):
        qr = [qr]
    if not isinstance(qr, list):
        raise r.fail("sources.prometheus.query_range", "expected a path or a list of paths")
    scrapes = prom.get("scrapes")
    prometheus = PrometheusSourceConfig(
        query_range=tuple(r.path_of(q, "sources.prometheus.query_range") for q in qr),
        scrapes=None if scrapes is None else r.path_of(scrapes, "sources.prometheus.scrapes"),
        url=r.typed(prom, "sources.prometheus", "url", str, None),
    )
    gpu_t = r.table(src.get("gpu"), "sources.gpu")
    r.keys(gpu_t, "sources.gpu", {"nvidia_smi", "dcgm", "timezone"})
    gpu = GpuSourceConfig(
        nvidia_smi=None if "nvidia_smi" not in gpu_t else r.path_of(gpu_t["nvidia_smi"], "sources.gpu.nvidia_smi"),
        dcgm=None if "dcgm" not in gpu_t else r.path_of(gpu_t["dcgm"], "sources.gpu.dcgm"),
        timezone=r.typed(gpu_t, "sources.gpu", "timezone", str, "UTC"),
    )
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
    rep_t = r.table(raw.get("report"), "report")
    r.keys(rep_t, "report", {"window"})
    report = ReportConfig(window=r.typed(rep_t, "report", "window", str, "5m"))
    from obskit.timeutil import parse_duration

    for key, value in (("slo.window", slo.window), ("report.window", report.window)):
        try:
            parse_duration(value)
        except ValueError as exc:
            raise r.fail(key, str(exc)) from None
    return Config(
        path=p,
        project=project,
        requests=r.table_source(src.get("requests"), "sources.requests"),
        feedback=r.table_source(src.get("feedback"), "sources.feedback"),
        reference=r.table_source(src.get("reference"), "sources.reference"),
        prometheus=prometheus,
        gpu=gpu,
        features=features,
        slo=slo,
        business=business,
        report=report,
        alerts=tuple(parse_rules(raw.get("alerts") or [], path=p)),
        raw=raw,
    )
