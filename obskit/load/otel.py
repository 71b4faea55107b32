"""OpenTelemetry spans (OTLP JSON, as the collector's ``file`` exporter writes it) as requests.

Each line of an OTLP JSON file is one ``ExportTraceServiceRequest``:
``{"resourceSpans": [{"resource": {...}, "scopeSpans": [{"spans": [...]}]}]}``. Every span
that represents an inference request (by default: server spans without a parent, i.e. the
entry point of a trace) becomes one row of the ``requests`` frame:

=================  ==========================================================================
``timestamp``      ``startTimeUnixNano`` (ns since epoch) as UTC microseconds
``request_id``     ``spanId`` (hex)
``latency_ms``     ``endTimeUnixNano - startTimeUnixNano`` in ms
``status``         ``error`` when the span status code is ERROR (2) or the HTTP/gRPC status
                   attribute says so (HTTP >= 500 on a server span, gRPC != 0), else ``ok``
``status_code``    ``http.response.status_code`` / ``http.status_code`` / ``rpc.grpc.status_code``
``error``          the span status message, else the ``exception.message`` of an exception event
``model`` ...      from span or resource attributes (``model.name``, ``model.version`` by default;
                   see ``attributes``), falling back to ``service.name`` / ``"unknown"``
=================  ==========================================================================

Other span attributes become extra columns (dots replaced by underscores), so features a
service records on its spans (``image.brightness``) can be analysed like log fields.

Examples
--------
>>> import io, json
>>> span = {"traceId": "0af7", "spanId": "b7ad", "name": "infer", "kind": 2,
...         "startTimeUnixNano": "1763805600000000000", "endTimeUnixNano": "1763805600012500000",
...         "attributes": [{"key": "model.name", "value": {"stringValue": "resnet50"}},
...                        {"key": "http.response.status_code", "value": {"intValue": "200"}}]}
>>> doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}
>>> df = load_otlp_spans(io.BytesIO(json.dumps(doc).encode()))
>>> df.select("request_id", "model", "latency_ms", "status").row(0)
('b7ad', 'resnet50', 12.5, 'ok')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from obskit.errors import InvalidArgument, SourceError
from obskit.limits import loads_json
from obskit.load._plausible import implausible_us
from obskit.load._quarantine import Quarantine, reject, warn_unquarantined
from obskit.load._sources import SourceLike, decompressed_bytes, resolve
from obskit.schemas import REQUESTS, STATUS, TIMESTAMP

__all__ = ["DEFAULT_ATTRIBUTES", "load_otlp_spans"]

DEFAULT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "model": ("model.name", "ml.model.name", "service.name"),
    "model_version": ("model.version", "ml.model.version", "service.version"),
    "prediction": ("model.prediction", "ml.prediction"),
    "confidence": ("model.confidence", "ml.confidence"),
}
_HTTP = ("http.response.status_code", "http.status_code")
_GRPC = ("rpc.grpc.status_code",)
_SERVER = 2


_INT64 = (-(2**63), 2**63 - 1)


def _plain(v: Any) -> Any:
    """The Python value of an OTLP ``AnyValue``; arrays and kvlists stay Python lists/dicts."""
    if not isinstance(v, Mapping):
        raise InvalidArgument(f"attribute value is not an AnyValue object: {type(v).__name__}")
    if "stringValue" in v:
        return str(v["stringValue"])
    if "intValue" in v:
        n = int(v["intValue"])
        if not _INT64[0] <= n <= _INT64[1]:
            raise InvalidArgument(f"intValue {n} does not fit in 64 bits")
        return n
    if "doubleValue" in v:
        return float(v["doubleValue"])  # OTLP allows NaN and infinities here
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_plain(x) for x in (v["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in v:
        return {_key(kv): _plain(kv.get("value", {})) for kv in (v["kvlistValue"] or {}).get("values") or []}
    if "bytesValue" in v:
        return str(v["bytesValue"])
    return None


def _value(v: Any) -> Any:
    """An attribute's column value: scalars as they are, arrays and kvlists as one JSON text.

    Serialising once at the top (not at every level) keeps nested kvlists linear in size:
    escaping JSON inside JSON doubled the backslashes per level (1.4 KB in, 67 MB out).
    """
    out = _plain(v)
    return json.dumps(out) if isinstance(out, (list, dict)) else out


def _key(kv: Any) -> str:
    if not isinstance(kv, Mapping) or not isinstance(kv.get("key"), str):
        raise InvalidArgument("attribute without a string 'key'")
    return kv["key"]


def _attrs(items: Any) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise InvalidArgument(f"attributes is not a list: {type(items).__name__}")
    return {_key(kv): _value(kv.get("value", {})) for kv in items}


def _objects(value: Any, what: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, Mapping) for x in value):
        raise InvalidArgument(f"{what} is not a list of objects")
    return value


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in attrs and attrs[k] is not None:
            return attrs[k]
    return None


def _row(span: Mapping[str, Any], resource: Mapping[str, Any], names: Mapping[str, tuple[str, ...]]
         ) -> dict[str, Any]:
    attrs = _attrs(span.get("attributes"))
    merged = {**resource, **attrs}
    start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
    if end < start:
        raise InvalidArgument("endTimeUnixNano is before startTimeUnixNano")
    why = implausible_us(start // 1000) or implausible_us(end // 1000)
    if why:
        raise InvalidArgument(f"start or end time {why}")
    code = _first(attrs, _HTTP)
    grpc = _first(attrs, _GRPC)
    st = span.get("status") or {}
    failed = st.get("code") in (2, "STATUS_CODE_ERROR") or (code is not None and int(code) >= 500) or (
        grpc is not None and int(grpc) != 0)
    message = st.get("message") or None
    if failed and message is None:
        for ev in span.get("events") or []:
            ev_attrs = _attrs(ev.get("attributes"))
            if "exception.message" in ev_attrs:
                message = str(ev_attrs["exception.message"])
                break
    status_code = None if code is None and grpc is None else int(code if code is not None else grpc)
    if status_code is not None and not 0 <= status_code <= 999:
        raise InvalidArgument(f"status code {status_code} is not an HTTP or gRPC code")
    row: dict[str, Any] = {
        "timestamp": start // 1000,
        "request_id": span["spanId"],
        "latency_ms": (end - start) / 1e6,
        "status": "error" if failed else "ok",
        "status_code": status_code,
        "error": message if failed else None,
        "trace_id": span.get("traceId"),
        "span_name": span.get("name"),
    }
    for canon, keys in names.items():
        val = _first(merged, keys)
        row[canon] = val
    conf = row.get("confidence")
    if conf is not None and not (isinstance(conf, (int, float)) and not isinstance(conf, bool)
                                 and math.isfinite(conf) and 0 <= conf <= 1):
        raise InvalidArgument(f"confidence {conf!r} is outside [0, 1] or not a number")
    for k, v in attrs.items():
        col = k.replace(".", "_")
        if col not in row and k not in _HTTP + _GRPC:
            row[col] = v
    return row


def load_otlp_spans(
    source: SourceLike,
    *,
    attributes: Mapping[str, tuple[str, ...]] | None = None,
    root_only: bool = True,
    span_name: str | None = None,
    strict: bool = False,
    quarantine: Quarantine | None = None,
    default_model: str | None = None,
) -> pl.DataFrame:
    """Load OTLP JSON trace files into the ``requests`` frame (one row per request span).

    Parameters
    ----------
    source
        File(s), glob, folder or file-like; gzip/zstd allowed. One JSON document per line.
    attributes
        Canonical column -> attribute keys to look for, in order (merged over
        :data:`DEFAULT_ATTRIBUTES`); span attributes win over resource attributes.
    root_only
        Keep only spans without a parent (the request entry points). With ``False``, keep
        every server span (``kind`` SERVER).
    span_name
        Keep only spans with this name (e.g. ``"POST /v2/models/resnet50/infer"``).
    strict, quarantine
        As for every loader: raise on the first bad line/span, or keep it with its reason.
    default_model
        The model of spans that name none (default ``"unknown"``).
    """
    names = {**DEFAULT_ATTRIBUTES, **(attributes or {})}
    q = quarantine if quarantine is not None else Quarantine()
    before = q.count
    rows: list[dict[str, Any]] = []
    left_out = {"parent": 0, "kind": 0, "name": 0}  # spans the options leave out, by option
    names_read: list[str] = []
    for inp in resolve(source, suffixes=(".json", ".jsonl", ".gz", ".zst")):
        names_read.append(inp.name)
        data = decompressed_bytes(inp)
        q.stats.files.append(inp.name)
        q.stats.bytes += inp.size
        for i, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                doc = loads_json(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                reject(q, strict, inp.name, i, f"invalid JSON: {exc}", raw[:200].decode("utf-8", "replace"))
                continue
            if not isinstance(doc, dict) or "resourceSpans" not in doc:
                reject(q, strict, inp.name, i, "not an OTLP trace export (no 'resourceSpans')")
                continue
            try:  # the structure around the spans: one line, one rejection
                scopes = []
                for rs in _objects(doc["resourceSpans"], "resourceSpans"):
                    resource = _attrs((rs.get("resource") or {}).get("attributes"))
                    for ss in _objects(rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans"), "scopeSpans"):
                        scopes.append((resource, _objects(ss.get("spans"), "spans")))
            except (ValueError, TypeError, AttributeError, ArithmeticError) as exc:
                reject(q, strict, inp.name, i, f"malformed OTLP export: {exc}", raw[:200].decode("utf-8", "replace"))
                continue
            for resource, spans in scopes:
                for span in spans:
                    if root_only and span.get("parentSpanId"):
                        left_out["parent"] += 1
                        continue
                    if not root_only and span.get("kind") not in (_SERVER, "SPAN_KIND_SERVER"):
                        left_out["kind"] += 1
                        continue
                    if span_name is not None and span.get("name") != span_name:
                        left_out["name"] += 1
                        continue
                    try:
                        rows.append(_row(span, resource, names))
                    except (KeyError, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
                        reason = f"bad span {span.get('spanId', '?')}: {exc}"
                        reject(q, strict, inp.name, i, reason)
    if quarantine is None:
        warn_unquarantined(q.count - before, "load_otlp_spans")
    if not rows:
        if any(left_out.values()):
            raise SourceError(_none_kept(left_out, span_name), path=", ".join(names_read[:3]))
        return pl.DataFrame(schema=REQUESTS.polars_schema)
    _stringify_mixed(rows)
    df = pl.DataFrame(rows, infer_schema_length=None, strict=False)
    df = df.with_columns(
        pl.col("timestamp").cast(pl.Int64).cast(TIMESTAMP),
        pl.col("status").cast(STATUS),
        pl.col("status_code").cast(pl.Int32),
        pl.col("model").cast(pl.String).fill_null(default_model or "unknown"),
        pl.col("model_version").cast(pl.String).fill_null("unknown"),
        pl.col("latency_ms").cast(pl.Float64),
        pl.col("error").cast(pl.String),
        pl.col("prediction").cast(pl.String),
        pl.col("confidence").cast(pl.Float64, strict=False),
    )
    q.stats.rows += df.height
    q.stats.rejected += q.count - before
    canon = [c.name for c in REQUESTS.columns if c.name in df.columns]
    return df.select(canon + [c for c in df.columns if c not in canon]).sort("timestamp", maintain_order=True)


def _none_kept(left_out: Mapping[str, int], span_name: str | None) -> str:
    """Why no span became a request, and which option keeps them.

    >>> _none_kept({"parent": 1000, "kind": 0, "name": 0}, None)[:60]
    'no span kept: 1,000 have a parent span (root_only = true kee'
    """
    why = []
    if left_out["parent"]:
        why.append(f"{left_out['parent']:,} have a parent span (root_only = true keeps only root spans; a service "
                   "behind a gateway has none: set root_only = false to keep every SERVER span)")
    if left_out["kind"]:
        why.append(f"{left_out['kind']:,} are not SERVER spans (root_only = false keeps SERVER spans only)")
    if left_out["name"]:
        why.append(f"{left_out['name']:,} are not named {span_name!r} (span_name)")
    return "no span kept: " + "; ".join(why)


def _stringify_mixed(rows: list[dict[str, Any]]) -> None:
    """An attribute key seen with values of different kinds (number, bool, text) becomes text in every row.

    Otherwise the column type depends on which spans a file holds (``true`` next to ``1.5``
    silently became ``1.0``).
    """
    kinds: dict[str, set[type]] = {}
    for row in rows:
        for k, v in row.items():
            if v is not None:
                kind = bool if isinstance(v, bool) else float if isinstance(v, int) else type(v)
                kinds.setdefault(k, set()).add(kind)
    mixed = [k for k, ks in kinds.items() if len(ks) > 1 and k not in _FIXED]
    for row in rows:
        for k in mixed:
            v = row.get(k)
            if v is not None and not isinstance(v, str):
                row[k] = json.dumps(v)


_FIXED = frozenset({"timestamp", "latency_ms", "status_code", "confidence"})
