"""Column mapping: a user's field names (nested ones included) onto obskit's canonical names.

A mapping is ``{canonical name: field}`` as written in ``[sources.<name>.columns]``. A field
may be a dotted path into nested objects (``request_id = "trace.request_id"``,
``brightness = "features.brightness"``): JSON objects are read as structs and the path is
followed. A top-level field whose name itself contains a dot (``"http.status"``) wins over
the path. The same function serves eager frames (loaders) and lazy ones (the streaming and
Dask paths), so both read a log the same way.

Examples
--------
>>> import polars as pl
>>> df = pl.DataFrame({"trace": [{"request_id": "a"}], "ms": [3.0]})
>>> apply_mapping(df, {"request_id": "trace.request_id", "latency_ms": "ms"}).columns
['trace', 'request_id', 'latency_ms']
>>> missing_fields(df, {"request_id": "trace.rid"})
{'request_id': 'trace.rid'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import polars as pl

__all__ = ["apply_mapping", "field_expr", "missing_fields", "nested_hint"]

F = TypeVar("F", pl.DataFrame, pl.LazyFrame)


def _schema(frame: pl.DataFrame | pl.LazyFrame) -> pl.Schema:
    return frame.schema if isinstance(frame, pl.DataFrame) else frame.collect_schema()


def field_expr(schema: Mapping[str, Any], field: str) -> pl.Expr | None:
    """An expression reading ``field`` (a column or a dotted path into structs), or None if absent."""
    if field in schema:
        return pl.col(field)
    parts = field.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest top-level name first ("a.b" then "a")
        head = ".".join(parts[:cut])
        if head not in schema:
            continue
        dtype: Any = schema[head]
        expr = pl.col(head)
        for part in parts[cut:]:
            if not isinstance(dtype, pl.Struct):
                break
            names = {f.name: f.dtype for f in dtype.fields}
            if part not in names:
                break
            expr = expr.struct.field(part)
            dtype = names[part]
        else:
            return expr
    return None


def missing_fields(frame: pl.DataFrame | pl.LazyFrame, columns: Mapping[str, str]) -> dict[str, str]:
    """The mapped fields ``frame`` lacks: ``{canonical name: field}``."""
    schema = _schema(frame)
    return {canon: src for canon, src in columns.items() if field_expr(schema, src) is None}


def nested_hint(frame: pl.DataFrame | pl.LazyFrame, field: str) -> str:
    """Where a missing field might be: the dotted paths of nested fields with the same last name."""
    schema = _schema(frame)
    leaf = field.rsplit(".", 1)[-1]
    found: list[str] = []

    def walk(prefix: str, dtype: Any) -> None:
        if isinstance(dtype, pl.Struct):
            for f in dtype.fields:
                path = f"{prefix}.{f.name}"
                if f.name == leaf:
                    found.append(path)
                walk(path, f.dtype)

    for name, dtype in schema.items():
        walk(name, dtype)
    if found:
        return f"; did you mean {' or '.join(repr(p) for p in found[:3])}?"
    tops = [n for n in schema if not n.startswith("__")][:12]
    return f"; the records have {', '.join(tops)}" if tops else ""


def apply_mapping(frame: F, columns: Mapping[str, str]) -> F:
    """Rename (and extract nested) mapped fields to their canonical names; absent fields are left out."""
    schema = _schema(frame)
    # every output from the original columns, in one step: a canonical name written from one
    # field is never renamed again because it is also another mapping's source
    exprs: dict[str, pl.Expr] = {}
    for canon, src in columns.items():
        if src == canon:
            continue
        expr = field_expr(schema, src)
        if expr is not None:
            exprs[canon] = expr.alias(canon)
    renamed = {src for canon, src in columns.items() if src in schema and src != canon and canon in exprs}
    keep = [pl.col(c) for c in schema if c not in renamed and c not in exprs]
    return frame.select(*keep, *exprs.values()) if exprs else frame
