"""The source registry: every loader as a *kind* a config can name, with its typed options.

``[sources.<name>]`` in ``obskit.toml`` picks a kind (``kind = "dmon"``; the legacy names
``requests``, ``feedback``, ``reference`` and ``prometheus`` imply theirs) and gives its
options. Each kind says which canonical frame it produces, which options it takes (type,
default, allowed values) and how to load; :class:`obskit.session.Session` loads any kind
the same way. Adding a loader is one :func:`register` call.

Examples
--------
>>> sorted(KINDS)[:4]
['compute_apps', 'dcgm', 'dmon', 'feedback']
>>> KINDS["pmon"].frame, KINDS["pmon"].loader
('gpu_processes', 'load_pmon')
>>> print(KINDS["dmon"].describe().splitlines()[0])
dmon -> gpu: nvidia-smi dmon text (-s pucm); sections of a capture get their own timestamps
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obskit.errors import InvalidArgument

if TYPE_CHECKING:
    import polars as pl

    from obskit.load._quarantine import Quarantine

__all__ = ["KEEP_LINES", "KINDS", "LoadContext", "Option", "SourceConfig", "SourceKind", "kinds_for", "register"]

#: An option set by code, never by a config: a request source keeps each row's line in its file
#: (:data:`obskit.load.logs.LINE_COLUMN`); staging sets it to name rows rejected later by line.
KEEP_LINES = "__keep_lines"


@dataclass(frozen=True)
class Option:
    """One option of a source kind.

    ``type`` is one of ``str``, ``float``, ``int``, ``bool``, ``path`` (relative to the
    config), ``paths`` (one path or a list), ``table`` (a TOML table of strings),
    ``lists`` (a table of lists of strings), ``strs`` (a list of distinct non-empty strings).
    """

    name: str
    type: str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceConfig:
    """One configured source: its name, kind and validated options (paths resolved)."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """An option's value, or its kind's default."""
        if key in self.options:
            return self.options[key]
        spec = {o.name: o for o in KINDS[self.kind].options}.get(key)
        return spec.default if spec is not None else None

    @property
    def frame(self) -> str:
        """The canonical frame this source produces (``requests``, ``gpu``...)."""
        return KINDS[self.kind].frame

    @property
    def path(self) -> Path | None:
        """The local path (None for a URL or a kind without one)."""
        p = self.options.get("path")
        return p if isinstance(p, Path) else None

    @property
    def location(self) -> str:
        """Where the data is, for messages: a path, or a URL without its credentials."""
        from obskit.redact import scrub

        for key in ("path", "url", "scrapes", "query_range"):
            value = self.options.get(key)
            if value:
                if isinstance(value, tuple):
                    value = ", ".join(str(v) for v in value)
                return scrub(str(value))
        return ""

    @property
    def columns(self) -> dict[str, str]:
        """The column mapping (``{canonical name: field}``), empty when none is given."""
        return dict(self.get("columns") or {})


@dataclass
class LoadContext:
    """What a loader needs beyond its options: the quarantine, the project's defaults."""

    quarantine: Quarantine
    timezone: str = "UTC"
    model: str = ""


Loader = Callable[[SourceConfig, LoadContext], "pl.DataFrame"]


@dataclass(frozen=True)
class SourceKind:
    """A loader as the config sees it."""

    name: str
    frame: str
    loader: str
    description: str
    options: tuple[Option, ...]
    load: Loader
    requires: tuple[tuple[str, ...], ...] = (("path",),)

    def describe(self) -> str:
        """A few lines for ``obskit check`` and error messages."""
        lines = [f"{self.name} -> {self.frame}: {self.description}"]
        for o in self.options:
            default = "" if o.default in (None, "", ()) else f", default {o.default!r}"
            choice = f" [{', '.join(o.choices)}]" if o.choices else ""
            lines.append(f"  {o.name} ({o.type}{choice}{default}){': ' + o.help if o.help else ''}")
        return "\n".join(lines)


KINDS: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    """Add (or replace) a kind in :data:`KINDS`; returns it."""
    names = [o.name for o in kind.options]
    if len(set(names)) != len(names) or "kind" in names:
        raise InvalidArgument(f"{kind.name}: option names must be unique and not 'kind'")
    KINDS[kind.name] = kind
    return kind


def kinds_for(frame: str) -> list[str]:
    """The kinds that produce ``frame``."""
    return sorted(k.name for k in KINDS.values() if k.frame == frame)


# --------------------------------------------------------------------------- validation

def validate_options(kind: SourceKind, data: Mapping[str, Any], *, key: str, base: Path,
                     fail: Callable[[str, str], Exception]) -> dict[str, Any]:
    """Typed, checked options of one ``[sources.<name>]`` table (paths resolved against ``base``)."""
    specs = {o.name: o for o in kind.options}
    unknown = sorted(set(data) - set(specs) - {"kind"})
    if unknown:
        raise fail(key, f"unknown key {unknown[0]!r} for kind {kind.name!r} (allowed: {', '.join(sorted(specs))})")
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name == "kind":
            continue
        out[name] = _typed(specs[name], value, f"{key}.{name}", base, fail)
    for group in kind.requires:
        if not any(g in out for g in group):
            raise fail(key, f"missing {' or '.join(repr(g) for g in group)} (kind {kind.name!r})")
    return out


def _path(value: Any, key: str, base: Path, fail: Callable[[str, str], Exception]) -> Path | str:
    if not isinstance(value, str) or not value:
        raise fail(key, f"expected a path string, got {value!r}")
    if value.startswith(("http://", "https://")):
        return value  # fetched by the loader; credentials never appear in messages
    if "://" in value:
        raise fail(key, f"unsupported URL scheme in {value.split('://', 1)[0]!r} (http, https or a local path)")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _typed(opt: Option, value: Any, key: str, base: Path, fail: Callable[[str, str], Exception]) -> Any:
    t = opt.type
    if t == "path":
        return _path(value, key, base, fail)
    if t == "paths":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise fail(key, "expected a path or a list of paths")
        return tuple(_path(v, key, base, fail) for v in items)
    if t == "strs":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise fail(key, f"expected a non-empty list of non-empty strings, got {value!r}")
        dup = next((v for i, v in enumerate(value) if v in value[:i]), None)
        if dup is not None:
            raise fail(key, f"{dup!r} is listed twice")
        return tuple(value)
    if t in ("table", "lists"):
        if not isinstance(value, dict):
            raise fail(key, f"expected a table, got {value!r}")
        for k, v in value.items():
            ok = isinstance(v, str) if t == "table" else (
                isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)))
            if not ok:
                raise fail(f"{key}.{k}", f"expected {'a field name string' if t == 'table' else 'a list of names'}, "
                                         f"got {v!r}")
        if t == "lists":
            return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in value.items()}
        return dict(value)
    if t == "bool":
        if not isinstance(value, bool):
            raise fail(key, f"expected true or false, got {value!r}")
        return value
    if t in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(key, f"expected a number, got {value!r}")
        if t == "int" and not isinstance(value, int):
            raise fail(key, f"expected a whole number, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise fail(key, f"must be a positive finite number, got {value!r}")
        return float(value) if t == "float" else int(value)
    if not isinstance(value, str):
        raise fail(key, f"expected a string, got {value!r}")
    if opt.choices and value not in opt.choices:
        raise fail(key, f"unknown {opt.name} {value!r} ({', '.join(opt.choices)})")
    return value


# --------------------------------------------------------------------------- the kinds

_TZ = Option("timezone", "str", None, "timezone of naive timestamps (default: the project's)")
_HOST = Option("host", "str", None, "machine name kept in a host column (default: the source's name)")
_FORMAT = Option("format", "str", None, "default: from the file name", ("jsonl", "ndjson", "csv", "parquet"))
_COLUMNS = Option("columns", "table", None, "canonical name = field in your data (dotted paths reach nested fields)")
_TS_FORMAT = Option("timestamp_format", "str", "iso8601", "", ("iso8601", "s", "ms", "us", "ns"))
_START = Option("start", "str", None, "ISO 8601 time of the first line (files without a date column)")
_INTERVAL = Option("interval", "float", 1.0, "seconds between lines (-d of the capture)")


def _src(s: SourceConfig) -> Any:
    p = s.options.get("path")
    if p is None or hasattr(p, "read"):  # a file-like object (new lines a watcher read) is read as it is
        return p
    return str(p)


def _tz(s: SourceConfig, ctx: LoadContext) -> str:
    return str(s.get("timezone") or ctx.timezone)


def _start(s: SourceConfig, ctx: LoadContext) -> Any:
    value = s.get("start")
    if not value:
        return None
    from obskit.timeutil import parse_time

    return parse_time(value)


def _load_requests(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.logs import latency_unit_warning, load_requests

    unit = s.get("latency_unit")
    df = load_requests(_src(s), format=s.get("format"), columns=s.get("columns"),
                       timestamp_format=s.get("timestamp_format"), timezone=_tz(s, ctx),
                       status_convention=s.get("status_convention"), latency_unit=unit,
                       class_names=s.get("class_names"),
                       defaults={"model": ctx.model} if ctx.model else None, quarantine=ctx.quarantine,
                       keep_lines=bool(s.options.get(KEEP_LINES)))
    if "latency_ms" in df.columns:
        why = latency_unit_warning(df["latency_ms"], unit, key=f"sources.{s.name}.latency_unit")
        if why:
            ctx.quarantine.stats.warnings.append((s.name, why))
    return df


def _load_otlp(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:

    from obskit.load.otel import load_otlp_spans

    attributes = dict(s.get("attributes") or {})
    if ctx.model and "model" not in attributes:
        # with a project model, spans that name no model are that model's, not their service's
        attributes["model"] = ("model.name", "ml.model.name")
    return load_otlp_spans(_src(s), attributes=attributes, root_only=s.get("root_only"), span_name=s.get("span_name"),
                           quarantine=ctx.quarantine, default_model=ctx.model or None)


def _load_feedback(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.logs import load_feedback

    return load_feedback(_src(s), columns=s.get("columns"), timestamp_format=s.get("timestamp_format"),
                         timezone=_tz(s, ctx), quarantine=ctx.quarantine)


def _load_reference(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.logs import load_reference

    return load_reference(_src(s), format=s.get("format"), columns=s.get("columns"), quarantine=ctx.quarantine)


def _load_prometheus(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    import polars as pl

    from obskit.load.prometheus_api import load_prometheus_json
    from obskit.load.prometheus_text import load_prometheus_text

    frames = [load_prometheus_json(str(p), quarantine=ctx.quarantine) for p in s.get("query_range") or ()]
    if s.get("scrapes") is not None:
        frames.append(load_prometheus_text(str(s.get("scrapes")), quarantine=ctx.quarantine))
    if not frames:  # a live server only: its panels are queried over the report's period
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")


def _load_nvidia_smi(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.gpu import load_nvidia_smi

    return load_nvidia_smi(_src(s), timezone=_tz(s, ctx), quarantine=ctx.quarantine)


def _load_dcgm(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.gpu_metrics import gpu_from_metrics
    from obskit.load.prometheus_text import load_prometheus_text

    return gpu_from_metrics(load_prometheus_text(_src(s), quarantine=ctx.quarantine))


def _load_dmon(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.gpu import load_dmon

    return load_dmon(_src(s), timezone=_tz(s, ctx), start=_start(s, ctx), interval=s.get("interval"),
                     quarantine=ctx.quarantine)


def _load_pmon(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.gpu import load_pmon

    return load_pmon(_src(s), timezone=_tz(s, ctx), start=_start(s, ctx), interval=s.get("interval"),
                     quarantine=ctx.quarantine)


def _load_compute_apps(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.gpu import load_compute_apps

    return load_compute_apps(_src(s), timezone=_tz(s, ctx), quarantine=ctx.quarantine)


def _load_torch_trace(s: SourceConfig, ctx: LoadContext) -> pl.DataFrame:
    from obskit.load.traces import load_torch_trace

    return load_torch_trace(_src(s), quarantine=ctx.quarantine)


_PATH = Option("path", "path", None, "a file, a glob, a folder or an http(s) URL")

register(SourceKind(
    "requests", "requests", "load_requests", "request logs (JSONL, CSV, Parquet; gzip/zstd; globs, hive folders)",
    (_PATH, _FORMAT, _COLUMNS, _TS_FORMAT,
     Option("status_convention", "str", "auto", "", ("auto", "http", "text", "bool", "grpc")),
     Option("latency_unit", "str", "ms", "unit of the logged latency, converted to latency_ms (a median that "
            "looks like another unit degrades the run, naming the likely one)", ("s", "ms", "us", "ns")),
     Option("class_names", "strs", None, "with confidence mapped to a list of class probabilities and no "
            "prediction: the prediction is class_names[argmax] (else the index)"), _TZ,
     Option("stage", "path", None, "a folder: each input file is converted once to canonical parquet there, so a "
            "day above [report] max_rows is reported at scale (see obskit.scale.staging)")),
    _load_requests))
register(SourceKind(
    "otlp", "requests", "load_otlp_spans", "OpenTelemetry OTLP JSON trace exports, one row per request span",
    (_PATH, Option("attributes", "lists", None, "canonical column = span attribute keys to look for"),
     Option("root_only", "bool", True, "keep only root spans (else every SERVER span)"),
     Option("span_name", "str", None, "keep only spans with this name")),
    _load_otlp))
register(SourceKind(
    "feedback", "feedback", "load_feedback", "user corrections, joined to the requests on request_id",
    (_PATH, Option("columns", "table", None, "request_id, corrected_label, corrected_at = field in your data"),
     _TS_FORMAT, _TZ), _load_feedback))
register(SourceKind(
    "reference", "reference", "load_reference", "the training set (the drift baseline)",
    (_PATH, _FORMAT, Option("columns", "table", None, "[features] name (or prediction, label) = field in the "
                            "training set")),
    _load_reference))
register(SourceKind(
    "prometheus", "metrics", "load_prometheus_json",
    "saved query_range responses and /metrics scrapes, or a live server (url) queried per [[panels]] entry",
    (Option("query_range", "paths", (), "saved /api/v1/query_range responses"),
     Option("scrapes", "path", None, "a /metrics text scrape, a folder or a glob of them"),
     Option("url", "str", None, "a live server's root URL (http or https)"),
     Option("token_env", "str", None, "environment variable holding a bearer token (never printed)"),
     Option("timeout", "float", 10.0, "seconds per request"),
     Option("step", "str", None, "query step (default: from the period, about 500 points)")),
    _load_prometheus, requires=(("query_range", "scrapes", "url"),)))
register(SourceKind(
    "nvidia_smi", "gpu", "load_nvidia_smi", "nvidia-smi --query-gpu=... --format=csv logs", (_PATH, _TZ, _HOST),
    _load_nvidia_smi))
register(SourceKind(
    "dcgm", "gpu", "load_prometheus_text", "dcgm-exporter (or Triton nv_gpu_*) /metrics scrapes", (_PATH, _HOST),
    _load_dcgm))
register(SourceKind(
    "dmon", "gpu", "load_dmon", "nvidia-smi dmon text (-s pucm); sections of a capture get their own timestamps",
    (_PATH, _TZ, _START, _INTERVAL, _HOST), _load_dmon))
register(SourceKind(
    "pmon", "gpu_processes", "load_pmon", "nvidia-smi pmon text: per-process SM and memory use",
    (_PATH, _TZ, _START, _INTERVAL, _HOST), _load_pmon))
register(SourceKind(
    "compute_apps", "gpu_processes", "load_compute_apps",
    "nvidia-smi --query-compute-apps=... --format=csv: per-process memory", (_PATH, _TZ, _HOST),
    _load_compute_apps))
register(SourceKind(
    "torch_trace", "kernels", "load_torch_trace", "PyTorch profiler (Kineto) Chrome traces: GPU kernels",
    (_PATH, _HOST), _load_torch_trace))
