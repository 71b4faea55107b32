"""Property: every loader, fed random hostile records, loses nothing and never raises.

For each loader a record is the unit it loads or rejects (a sample line, a span, a trace
event, a GPU row, a correction). Records are good or spoiled in one of the ways real files
are: nested too deep, huge or non-finite numbers, a type where another was expected, cut in
half, not UTF-8. Whatever the mix: ``loaded + rejected == records``, and no exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.load._quarantine import Quarantine

SPOILS = ["ok", "ok", "ok", "deep", "huge", "nan", "type", "cut", "utf8"]
_T = 1_763_805_600  # 2025-11-22T10:00:00Z
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _cut(text: str) -> str:
    return text[: max(1, len(text) // 2)]


# ----------------------------------------------------------------------------- one record per loader


def _scrape(i: int, spoil: str) -> str:
    ts = (_T + i) * 1000
    value = {"ok": "1.5", "deep": "[[[[1]]]]", "huge": "1e400", "nan": "NaN", "type": "true", "cut": "1.5",
             "utf8": "1.5"}[spoil]
    line = f'obskit_test{{i="{i}"}} {value} {ts}'
    if spoil == "huge":
        line = f'obskit_test{{i="{i}"}} 1 {2**70}'
    if spoil == "cut":
        return f'obskit_test{{i="{i}"'
    if spoil == "utf8":
        return f'obskit_test{{i="\udcff{i}"}} 1 {ts}'
    return line


def _qr_sample(i: int, spoil: str) -> object:
    ts: object = _T + i
    value: object = "1.5"
    if spoil == "deep":
        value = [[[[["1"]]]]]
    elif spoil == "huge":
        ts = 1e300
    elif spoil == "nan":
        ts = float("nan")
    elif spoil == "type":
        value = {"a": 1}
    elif spoil == "cut":
        return [ts]
    elif spoil == "utf8":
        ts = "yesterday"
    return [ts, value]


def _span(i: int, spoil: str) -> str:
    start = (_T + i) * 1_000_000_000
    attrs = [{"key": "model.name", "value": {"stringValue": "m"}},
             {"key": "http.response.status_code", "value": {"intValue": "200"}},
             {"key": "model.confidence", "value": {"doubleValue": 0.9}}]
    span: dict[str, object] = {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "infer", "kind": 2,
                               "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 5_000_000),
                               "attributes": attrs, "status": {}}
    if spoil == "deep":
        span["attributes"] = [*attrs, {"key": "x", "value": json.loads("[" * 100 + "]" * 100)}]
    elif spoil == "huge":
        span["endTimeUnixNano"] = 1e300
    elif spoil == "nan":
        attrs[2] = {"key": "model.confidence", "value": {"doubleValue": "NaN"}}
    elif spoil == "type":
        span["attributes"] = "not a list"
    doc = json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]})
    if spoil == "cut":
        return _cut(doc)
    if spoil == "utf8":
        return doc.replace('"infer"', '"\udcff"')
    return doc


def _event(i: int, spoil: str) -> str:
    ev: dict[str, object] = {"ph": "X", "cat": "kernel", "name": f"k{i}", "pid": 0, "tid": 7,
                             "ts": (_T + i) * 1_000_000, "dur": 5, "args": {"device": 0, "stream": 7}}
    if spoil == "deep":
        return json.dumps(ev)[:-1] + ', "x": ' + "[" * 200 + "]" * 200 + "}"
    if spoil == "huge":
        ev["dur"] = 1e300
    elif spoil == "nan":
        return json.dumps(ev).replace('"dur": 5', '"dur": NaN')
    elif spoil == "type":
        ev["ts"] = "soon"
    elif spoil == "cut":
        ev["dur"] = -5
    elif spoil == "utf8":
        ev["args"] = "none"
    return json.dumps(ev)


def _smi_row(i: int, spoil: str) -> str:
    when = f"2025/11/22 10:{i // 60 % 60:02d}:{i % 60:02d}.000"
    util, used, temp = "50 %", "1000 MiB", "60"
    if spoil == "deep":
        util = "[[[[50]]]] %"
    elif spoil == "huge":
        used = "1e400 MiB"
    elif spoil == "nan":
        temp = "nan"
    elif spoil == "type":
        util = "true"
    elif spoil == "cut":
        return f"{when}, 0, {util}"
    elif spoil == "utf8":
        when = "9999/11/22 10:00:00.000"
    return f"{when}, 0, {util}, {used}, 8192 MiB, {temp}"


def _dmon_row(i: int, spoil: str) -> str:
    pwr, temp, sm = "69", "41", "10"
    if spoil == "deep":
        sm = "[[[[1]]]]"
    elif spoil == "huge":
        pwr = "1e400"
    elif spoil == "nan":
        temp = "nan"
    elif spoil == "type":
        sm = "true"
    elif spoil == "cut":
        return "    0     69"
    elif spoil == "utf8":
        sm = "\udcff"
    return f"    0 {pwr:>6} {temp:>6}     47 {sm:>6}      0"


def _feedback_row(i: int, spoil: str) -> str:
    when = f"2025-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}Z"
    if spoil in ("deep", "type"):
        when = "[[[[x]]]]" if spoil == "deep" else "true"
    elif spoil == "huge":
        when = "99999-01-01T00:00:00Z"
    elif spoil == "nan":
        when = "NaN"
    elif spoil == "cut":
        return f"r{i},cat"
    elif spoil == "utf8":
        when = ""
    return f"r{i},cat,{when}"


# ----------------------------------------------------------------------------- files and loaders


def _write(path: Path, lines: list[str]) -> None:
    path.write_bytes(b"".join(ln.encode("utf-8", "surrogateescape") + b"\n" for ln in lines))


def _load_scrape(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from obskit.load.prometheus_text import load_prometheus_text

    path = tmp / "m.prom"
    _write(path, ["# TYPE obskit_test gauge", *(_scrape(i, s) for i, s in enumerate(spoils))])
    q = Quarantine()
    return load_prometheus_text(path, quarantine=q).height, q.count, len(spoils)


def _load_query_range(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from obskit.load.prometheus_api import load_prometheus_json

    path = tmp / "qr.json"
    series = {"metric": {"__name__": "up", "job": "a"}, "values": [_qr_sample(i, s) for i, s in enumerate(spoils)]}
    text = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [series]}})
    path.write_text(text)
    q = Quarantine()
    return load_prometheus_json(path, quarantine=q).height, q.count, len(spoils)


def _load_otlp(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from obskit.load.otel import load_otlp_spans

    path = tmp / "spans.jsonl"
    _write(path, [_span(i, s) for i, s in enumerate(spoils)])
    q = Quarantine()
    return load_otlp_spans(path, quarantine=q).height, q.count, len(spoils)


def _load_trace(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from obskit.load.traces import load_torch_trace

    path = tmp / "trace.json"
    path.write_text('{"traceEvents": [' + ", ".join(_event(i, s) for i, s in enumerate(spoils)) + "]}")
    q = Quarantine()
    return load_torch_trace(path, quarantine=q).height, q.count, len(spoils)


def _load_smi(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from obskit.load.gpu import load_nvidia_smi

    path = tmp / "smi.csv"
    head = "timestamp, index, utilization.gpu [%], memory.used [MiB], memory.total [MiB], temperature.gpu"
    _write(path, [head, *(_smi_row(i, s) for i, s in enumerate(spoils))])
    q = Quarantine()
    return load_nvidia_smi(path, quarantine=q).height, q.count, len(spoils)


def _load_dmon(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from datetime import UTC, datetime

    from obskit.load.gpu import load_dmon

    path = tmp / "dmon.txt"
    _write(path, ["# gpu    pwr  gtemp  mtemp     sm    mem", "# Idx      W      C      C      %      %",
                  *(_dmon_row(i, s) for i, s in enumerate(spoils))])
    q = Quarantine()
    return load_dmon(path, quarantine=q, start=datetime(2025, 11, 22, 10, tzinfo=UTC)).height, q.count, len(spoils)


def _load_feedback(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from obskit.load.logs import load_feedback

    path = tmp / "feedback.csv"
    _write(path, ["request_id,corrected_label,corrected_at", *(_feedback_row(i, s) for i, s in enumerate(spoils))])
    q = Quarantine()
    return load_feedback(path, quarantine=q).height, q.count, len(spoils)


def _load_reference(tmp: Path, spoils: list[str]) -> tuple[int, int, int]:
    from obskit.load.logs import load_reference

    path = tmp / "reference.jsonl"
    lines = []
    for i, spoil in enumerate(spoils):
        row = json.dumps({"brightness": 100.0 + i, "client": "ios"})
        lines.append({"deep": '{"brightness": ' + "[" * 100 + "]" * 100 + "}", "cut": _cut(row),
                      "utf8": row.replace("ios", "\udcff"), "type": "[1, 2]"}.get(spoil, row))
    _write(path, lines)
    q = Quarantine()
    return load_reference(path, quarantine=q).height, q.count, len(spoils)


LOADERS: dict[str, Callable[[Path, list[str]], tuple[int, int, int]]] = {
    "prometheus_text": _load_scrape,
    "prometheus_json": _load_query_range,
    "otlp": _load_otlp,
    "torch_trace": _load_trace,
    "nvidia_smi": _load_smi,
    "dmon": _load_dmon,
    "feedback": _load_feedback,
    "reference": _load_reference,
}


@pytest.mark.parametrize("loader", sorted(LOADERS))
@PROPERTY
@given(spoils=st.lists(st.sampled_from(SPOILS), min_size=1, max_size=25))
def test_loaded_plus_rejected_equals_records(loader: str, spoils: list[str], tmp_path_factory: pytest.TempPathFactory
                                             ) -> None:
    tmp = tmp_path_factory.mktemp(loader)
    loaded, rejected, records = LOADERS[loader](tmp, ["ok", *spoils])  # one good record: the file is never empty
    assert loaded + rejected == records, (loaded, rejected, spoils)
    assert loaded >= 1 + sum(1 for s in spoils if s == "ok")


def test_a_good_file_of_each_loader_rejects_nothing(tmp_path: Path) -> None:
    for name, load in LOADERS.items():
        loaded, rejected, records = load(tmp_path, ["ok"] * 5)
        assert (loaded, rejected) == (records, 0), name



@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3 * 86_400_000), min_size=0, max_size=400),
       st.lists(st.integers(-400 * 86_400_000, 400 * 86_400_000), max_size=5))
def test_far_bounds_keep_what_far_from_bulk_keeps(bulk_ms: list[int], outliers_ms: list[int]) -> None:
    """The scan's whole-log time check (two streaming passes) keeps exactly the rows the loader's keeps."""
    from datetime import UTC, datetime, timedelta

    from obskit.load._plausible import far_bounds, far_from_bulk

    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    ts = pl.Series("timestamp", [t0 + timedelta(milliseconds=v) for v in [*bulk_ms, *outliers_ms]],
                   dtype=pl.Datetime("us", "UTC"))
    expected = ~far_from_bulk(ts)
    bounds = far_bounds(pl.LazyFrame({"timestamp": ts}))
    if bounds is None:
        assert expected.all()  # too few rows: nothing is far
    else:
        assert ts.is_between(*bounds).to_list() == expected.to_list()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 30)), min_size=1, max_size=120),
       st.integers(1, 50))
def test_duplicate_rows_at_scale_reject_what_the_loader_rejects(rows: list[tuple[int, int]], part_rows: int) -> None:
    """The scan's repeated-id check (hashed ids, in parts) rejects exactly the rows the in-memory loader rejects.

    Ids from a small set and seconds with many ties, out of time order: the first occurrence in
    time is kept, ties going to the earlier row, at any number of parts.
    """
    import io
    from datetime import UTC, datetime, timedelta

    from obskit.load._duplicates import duplicate_rows
    from obskit.load.logs import load_requests

    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    times = [t0 + timedelta(seconds=s) for _, s in rows]
    ids = [f"r{i}" for i, _ in rows]
    text = "".join(json.dumps({"timestamp": t.isoformat(), "request_id": i, "model": "m", "model_version": "v1",
                               "latency_ms": float(n), "status": "ok"}) + "\n"
                   for n, (t, i) in enumerate(zip(times, ids, strict=True)))
    kept = load_requests(io.BytesIO(text.encode()), format="jsonl", quarantine=Quarantine())
    lf = pl.LazyFrame({"request_id": ids, "timestamp": times}).with_row_index("row")
    dropped = set(duplicate_rows(lf, row="row", part_rows=part_rows).to_list())
    assert sorted(int(v) for v in kept["latency_ms"]) == [n for n in range(len(rows)) if n not in dropped]
