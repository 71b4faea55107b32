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
from collections.abc import Mapping
from typing import Any

import polars as pl

from obskit.errors import InvalidArgument
from obskit.limits import loads_json
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


def _value(v: Mapping[str, Any]) -> Any:
    """The Python value of an OTLP ``AnyValue``."""
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return json.dumps([_value(x) for x in v["arrayValue"].get("values", [])])
    if "kvlistValue" in v:
        return json.dumps({kv["key"]: _value(kv.get("value", {})) for kv in v["kvlistValue"].get("values", [])})
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def _attrs(items: Any) -> dict[str, Any]:
    return {kv["key"]: _value(kv.get("value", {})) for kv in items or []}


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
    row: dict[str, Any] = {
        "timestamp": start // 1000,
        "request_id": span["spanId"],
        "latency_ms": (end - start) / 1e6,
        "status": "error" if failed else "ok",
        "status_code": None if code is None and grpc is None else int(code if code is not None else grpc),
        "error": message if failed else None,
        "trace_id": span.get("traceId"),
        "span_name": span.get("name"),
    }
    for canon, keys in names.items():
        val = _first(merged, keys)
        row[canon] = val
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
    for inp in resolve(source, suffixes=(".json", ".jsonl", ".gz", ".zst")):
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
            for rs in doc["resourceSpans"] or []:
                resource = _attrs((rs.get("resource") or {}).get("attributes"))
                for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
                    for span in ss.get("spans") or []:
                        if root_only and span.get("parentSpanId"):
                            continue
                        if not root_only and span.get("kind") not in (_SERVER, "SPAN_KIND_SERVER"):
                            continue
                        if span_name is not None and span.get("name") != span_name:
                            continue
                        try:
                            rows.append(_row(span, resource, names))
                        except (KeyError, ValueError, TypeError) as exc:
                            reason = f"bad span {span.get('spanId', '?')}: {exc}"
                            reject(q, strict, inp.name, i, reason)
    if quarantine is None:
        warn_unquarantined(q.count - before, "load_otlp_spans")
    if not rows:
        return pl.DataFrame(schema=REQUESTS.polars_schema)
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
