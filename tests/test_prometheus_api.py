"""obskit.load.prometheus_api: saved-response parsing, the HTTP client against a real
Prometheus server, and its error/auth/retry behaviour against a scripted local server."""

from __future__ import annotations

import base64
import io
import itertools
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from obskit.errors import ParseError, RemoteError
from obskit.load._quarantine import Quarantine
from obskit.load.prometheus_api import (
    PrometheusClient,
    PrometheusWarning,
    load_prometheus_json,
    parse_duration,
    parse_time,
)
from obskit.schemas import validate
from tests.prometheus_server import PrometheusServer, free_port, running_prometheus

TOKEN = "s3cr3t-T0KEN-do-not-leak"
PASSWORD = "hunter2-pa55word"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# --------------------------------------------------------------------------- helpers


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def frame_points(frame: pl.DataFrame) -> dict[tuple, float]:
    """{(metric, labels, ts_ms): value} of a metrics frame."""
    labels = [c for c in frame.columns if c not in ("timestamp", "metric", "value")]
    out = {}
    for row in frame.iter_rows(named=True):
        key_labels = tuple(sorted((c, row[c]) for c in labels if row[c] is not None))
        ts_ms = (row["timestamp"] - EPOCH) // timedelta(milliseconds=1)
        out[(row["metric"], key_labels, ts_ms)] = row["value"]
    return out


def raw_points(body: dict, expr: str) -> dict[tuple, float]:
    """The same mapping computed straight from the server's JSON."""
    assert body["status"] == "success"
    data = body["data"]
    out = {}
    for series in data["result"]:
        labels = dict(series["metric"])
        name = labels.pop("__name__", expr)
        key_labels = tuple(sorted(labels.items()))
        samples = series.get("values") or ([series["value"]] if "value" in series else [])
        for ts, v in samples:
            out[(name, key_labels, round(ts * 1000))] = float(v)
    return out


def assert_points_equal(a: dict[tuple, float], b: dict[tuple, float]) -> None:
    assert a.keys() == b.keys()
    bad = [k for k in a if not _same(a[k], b[k])]
    assert not bad, bad[:5]


# --------------------------------------------------------------------------- saved JSON


def _ts(s: float) -> datetime:
    return datetime.fromtimestamp(s, tz=UTC)


SAVED_CASES: dict[str, list[tuple[Any, ...]]] = {
    "matrix.json": [
        (_ts(1700000000), "nv_inference_count", 10.0, "resnet50", "1"),
        (_ts(1700000015.5), "nv_inference_count", 12.5, "resnet50", "1"),
        (_ts(1700000000), "nv_inference_count", 3.0, "bert", None),
    ],
    "vector.json": [
        (_ts(1700000000.123), "up", 1.0, "127.0.0.1:8002", "triton"),
        (_ts(1700000000.123), "up", 0.0, "127.0.0.1:8003", "triton"),
    ],
    "scalar.json": [(_ts(1700000000), "scalar", 42.5)],
    "string.json": [(_ts(1700000000), "string", math.nan, "hello")],
    "special_values.json": [
        (_ts(1700000000), "ratio", math.nan),
        (_ts(1700000060), "ratio", math.inf),
        (_ts(1700000120), "ratio", -math.inf),
        (_ts(1700000180), "ratio", -0.25),
        (_ts(1700000240), "ratio", 0.001),
    ],
    "no_name.json": [(_ts(1700000000), "", 0.5, "resnet50"), (_ts(1700000000), "", 2.0, None)],
    "native_histogram.json": [
        (_ts(1700000000), "rpc_duration_seconds_count", 10.0, "api", None, None, None),
        (_ts(1700000000), "rpc_duration_seconds_sum", 3.5, "api", None, None, None),
        (_ts(1700000000), "rpc_duration_seconds_bucket", 2.0, "api", "-0.001", "0.001", "[]"),
        (_ts(1700000000), "rpc_duration_seconds_bucket", 5.0, "api", "0.5", "1", "(]"),
        (_ts(1700000000), "rpc_duration_seconds_bucket", 3.0, "api", "1", "2", "(]"),
    ],
    "native_histogram_matrix.json": [
        (_ts(1700000000), "rpc_duration_seconds_count", 4.0, "api", None, None, None),
        (_ts(1700000000), "rpc_duration_seconds_sum", 1.25, "api", None, None, None),
        (_ts(1700000000), "rpc_duration_seconds_bucket", 4.0, "api", "0.25", "0.5", "(]"),
        (_ts(1700000015), "rpc_duration_seconds_count", 6.0, "api", None, None, None),
        (_ts(1700000015), "rpc_duration_seconds_sum", -1.0, "api", None, None, None),
        (_ts(1700000015), "rpc_duration_seconds_bucket", 1.0, "api", "-1", "-0.5", "[)"),
        (_ts(1700000015), "rpc_duration_seconds_bucket", 5.0, "api", "0.25", "0.5", "(]"),
    ],
    "warnings.json": [],
}

COLUMNS = {
    "matrix.json": ["timestamp", "metric", "value", "model", "version"],
    "vector.json": ["timestamp", "metric", "value", "instance", "job"],
    "scalar.json": ["timestamp", "metric", "value"],
    "string.json": ["timestamp", "metric", "value", "string"],
    "special_values.json": ["timestamp", "metric", "value"],
    "no_name.json": ["timestamp", "metric", "value", "model"],
    "native_histogram.json": [
        "timestamp",
        "metric",
        "value",
        "job",
        "bucket_lower",
        "bucket_upper",
        "bucket_bounds",
    ],
    "native_histogram_matrix.json": [
        "timestamp",
        "metric",
        "value",
        "job",
        "bucket_lower",
        "bucket_upper",
        "bucket_bounds",
    ],
    "warnings.json": ["timestamp", "metric", "value"],
}


def _rows_equal(got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert len(g) == len(w)
        for x, y in zip(g, w, strict=True):
            if isinstance(y, float):
                assert _same(x, y), (g, w)
            else:
                assert x == y, (g, w)


@pytest.mark.filterwarnings("ignore::obskit.load.prometheus_api.PrometheusWarning")
@pytest.mark.parametrize("name", sorted(SAVED_CASES))
def test_saved_json(data_dir: Path, name: str) -> None:
    frame = load_prometheus_json(data_dir / "prometheus_api" / name)
    assert frame.columns == COLUMNS[name]
    assert validate(frame, "metrics") == []
    assert all(frame.schema[c] == pl.String for c in frame.columns[3:])
    _rows_equal(frame.rows(), SAVED_CASES[name])


@pytest.mark.parametrize("name", ["matrix.json", "native_histogram.json"])
def test_saved_json_accepts_dict_bytes_text_and_data_only(data_dir: Path, name: str) -> None:
    path = data_dir / "prometheus_api" / name
    raw = path.read_bytes()
    want = load_prometheus_json(path)
    for source in (
        json.loads(raw),
        raw,
        io.BytesIO(raw),
        io.StringIO(raw.decode()),
        json.loads(raw)["data"],
        str(path),
    ):
        assert load_prometheus_json(source).equals(want)


def test_saved_json_expr_names_nameless_series(data_dir: Path) -> None:
    frame = load_prometheus_json(data_dir / "prometheus_api" / "no_name.json", expr="rate(x[5m])")
    assert frame["metric"].to_list() == ["rate(x[5m])", "rate(x[5m])"]
    scalar = load_prometheus_json(data_dir / "prometheus_api" / "scalar.json", expr="1 + 41.5")
    assert scalar["metric"].to_list() == ["1 + 41.5"]


def test_saved_error_envelope(data_dir: Path) -> None:
    with pytest.raises(RemoteError) as info:
        load_prometheus_json(data_dir / "prometheus_api" / "error.json")
    assert "bad_data" in str(info.value)
    assert "unexpected end of input" in str(info.value)
    assert info.value.url is not None and info.value.url.endswith("error.json")


def test_saved_warnings_are_reported(data_dir: Path) -> None:
    with pytest.warns(PrometheusWarning, match="partial data"):
        frame = load_prometheus_json(data_dir / "prometheus_api" / "warnings.json")
    assert frame.height == 0


def test_saved_malformed() -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        load_prometheus_json(b"{nope")
    with pytest.raises(ParseError, match="resultType"):
        load_prometheus_json({"status": "success", "data": {"result": []}})
    with pytest.raises(ParseError, match="unknown resultType"):
        load_prometheus_json({"resultType": "table", "result": []})
    bad = {
        "resultType": "matrix",
        "result": [{"metric": {"__name__": "x"},
                    "values": [[1700000001, "1"], [1700000002, "abc"], [1700000003, "3"]]}],
    }
    with pytest.raises(ParseError, match="abc"):
        load_prometheus_json(bad, strict=True)
    q = Quarantine()
    frame = load_prometheus_json(bad, quarantine=q)
    assert frame["value"].to_list() == [1.0, 3.0]
    assert q.count == 1 and "abc" in q.frame()["raw"][0]


def test_label_clashing_with_canonical_column_is_renamed() -> None:
    data = {
        "resultType": "vector",
        "result": [{"metric": {"__name__": "x", "value": "v", "metric": "m"}, "value": [1700000001, "2"]}],
    }
    frame = load_prometheus_json(data)
    assert frame.columns == ["timestamp", "metric", "value", "label_metric", "label_value"]
    assert frame.row(0)[1:] == ("x", 2.0, "m", "v")


def test_parse_duration_and_time() -> None:
    assert parse_duration("15s") == 15_000
    assert parse_duration("1h30m") == 5_400_000
    assert parse_duration("250ms") == 250
    assert parse_duration(0.5) == 500
    for bad in ("", "0s", "5x", "-1", "1m 2s"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_time("2024-01-01T00:00:00.5Z") == 1704067200500
    assert parse_time(datetime(2024, 1, 1)) == 1704067200000
    assert parse_time("1704067200.25") == 1704067200250


# --------------------------------------------------------------------------- real server


@pytest.fixture(scope="module")
def prom() -> Iterator[PrometheusServer]:
    with running_prometheus() as server:
        yield server


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "expr",
    [
        "obskit_requests_total",
        "rate(obskit_requests_total[1m])",
        "sum by (le, model) (rate(obskit_latency_seconds_bucket[1m]))",
        "obskit_queue_depth / 0",  # +Inf and NaN values
    ],
)
def test_query_range_equals_raw_json(prom: PrometheusServer, expr: str) -> None:
    start, end, step = prom.base_s + 60, prom.base_s + 1500, 15
    client = PrometheusClient(prom.url)
    frame = client.query_range(expr, start, end, step)
    assert validate(frame, "metrics") == []
    raw = prom.raw("/api/v1/query_range", query=expr, start=str(start), end=str(end), step=str(step))
    assert raw["data"]["result"]
    assert_points_equal(frame_points(frame), raw_points(raw, expr))


@pytest.mark.prometheus
def test_query_instant_and_raw_samples(prom: PrometheusServer) -> None:
    client = PrometheusClient(prom.url)
    t = prom.base_s + 1000
    for expr in (
        "obskit_requests_total",
        "obskit_requests_total[2m]",
        "sum(obskit_queue_depth)",
        "scalar(sum(obskit_queue_depth))",
    ):
        frame = client.query(expr, time=t)
        raw = prom.raw("/api/v1/query", query=expr, time=str(t))
        if raw["data"]["resultType"] == "scalar":
            ts, v = raw["data"]["result"]
            assert frame.rows() == [(_ts(ts), expr, float(v))]
        else:
            assert_points_equal(frame_points(frame), raw_points(raw, expr))
    # The range selector returns exactly the samples that were written.
    samples = client.query("obskit_requests_total[2m]", time=t)
    written = next(s for s in prom.series if s.name == "obskit_requests_total" and s.labels == (("model", "b"),))
    want = [
        (ms, v) for ms, v in zip(written.times_ms, written.values, strict=True) if (t - 120) * 1000 <= ms <= t * 1000
    ]
    got = samples.filter(pl.col("model") == "b").select(pl.col("timestamp").dt.epoch("ms"), "value").rows()
    assert got == want


@pytest.mark.prometheus
def test_query_range_is_split_and_concatenated(prom: PrometheusServer, monkeypatch: pytest.MonkeyPatch) -> None:
    expr = "rate(obskit_requests_total[1m])"
    start, end, step = prom.base_s + 60, prom.base_s + 1000, "10s"  # 95 points per series
    whole = PrometheusClient(prom.url).query_range(expr, start, end, step)
    client = PrometheusClient(prom.url, max_points=7)
    calls: list[dict] = []
    original = client._post

    def counting(path: str, params: dict) -> Any:
        calls.append(dict(params))
        return original(path, params)

    monkeypatch.setattr(client, "_post", counting)
    split = client.query_range(expr, start, end, step)
    assert len(calls) == math.ceil(95 / 7)
    # consecutive chunks: aligned on the grid, no overlap, no gap
    bounds = [(float(c["start"]), float(c["end"])) for c in calls]
    for (_, a1), (b0, _) in itertools.pairwise(bounds):
        assert b0 - a1 == 10 and (b0 - start) % 10 == 0
    assert bounds[0][0] == start and bounds[-1][1] == end
    key = ["model", "timestamp"]
    assert split.sort(key).equals(whole.sort(key))
    assert split.select(key).is_duplicated().sum() == 0


@pytest.mark.prometheus
def test_server_resolution_limit_is_avoided_by_splitting(prom: PrometheusServer) -> None:
    start, end = prom.base_s, prom.base_s + 12_000  # 12,001 points at 1s
    with pytest.raises(RemoteError, match="11,000 points"):
        PrometheusClient(prom.url, max_points=20_000).query_range("vector(1)", start, end, 1)
    frame = PrometheusClient(prom.url).query_range("vector(1)", start, end, 1)
    assert frame.height == 12_001
    assert frame["timestamp"].is_sorted() and frame["timestamp"].n_unique() == 12_001


@pytest.mark.prometheus
def test_real_server_bad_query_is_remote_error(prom: PrometheusServer) -> None:
    client = PrometheusClient(prom.url, retries=0)
    with pytest.raises(RemoteError) as info:
        client.query("rate(obskit_requests_total[1m]")
    assert info.value.status == 400
    assert "bad_data" in str(info.value) and "parse error" in str(info.value)


@pytest.mark.prometheus
def test_live_scrape(prom: PrometheusServer) -> None:
    prom.wait_for_live()
    prom.live_counter.labels(model="b").inc(7)
    client = PrometheusClient(prom.url)
    up = client.query('up{job="obskit-live"}')
    assert up["value"].to_list() == [1.0]
    now = time.time()
    expr = '{job="obskit-live", __name__=~"obskit_live_.*"}'
    frame = client.query_range(expr, now - 30, now, "1s")
    raw = prom.raw(
        "/api/v1/query_range",
        query=expr,
        start=repr(parse_time(now - 30) / 1000),
        end=repr(parse_time(now) / 1000),
        step="1",
    )
    assert_points_equal(frame_points(frame), raw_points(raw, expr))
    assert set(frame["metric"].unique()) >= {
        "obskit_live_requests_total",
        "obskit_live_temperature",
    }


# --------------------------------------------------------------------------- scripted server


class Stub:
    """A loopback HTTP server answering from a script and recording requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes, dict[str, str], float]] = []
        self.default: tuple[int, bytes, dict[str, str], float] = (
            200,
            json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode(),
            {},
            0.0,
        )
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                stub.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                status, payload, headers, delay = stub.script.pop(0) if stub.script else stub.default
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.script.append((status, payload, headers or {}, delay))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.close()


VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [{"metric": {"__name__": "up", "job": "x"}, "value": [1700000000, "1"]}],
    },
}


def _no_secret(text: str) -> None:
    for secret in (TOKEN, PASSWORD, base64.b64encode(f"alice:{PASSWORD}".encode()).decode()):
        assert secret not in text


def test_bearer_token_sent_and_never_shown(stub: Stub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = PrometheusClient(stub.url, bearer_token=TOKEN, retries=1, backoff=0.01)
    stub.reply(200, VECTOR)
    frame = client.query("up", time=1700000000)
    assert frame.rows() == [(_ts(1700000000), "up", 1.0, "x")]
    req = stub.requests[0]
    assert req["path"] == "/api/v1/query"
    assert req["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert "query=up" in req["body"] and "time=1700000000" in req["body"]
    # The server echoes the token in its error, on a retried 5xx and then on a 400.
    echo = {"status": "error", "errorType": "bad_data", "error": f"bad token {TOKEN}"}
    stub.reply(503, echo)
    stub.reply(400, echo)
    with pytest.raises(RemoteError) as info:
        client.query("up")
    _no_secret(str(info.value))
    _no_secret(repr(info.value))
    _no_secret(str(info.value.url))
    _no_secret(repr(client))
    _no_secret(str(vars(client)))
    for record in caplog.records:
        _no_secret(record.getMessage())
    assert "<redacted>" in str(info.value)


def test_basic_auth_and_extra_headers(stub: Stub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = PrometheusClient(stub.url, basic_auth=("alice", PASSWORD), headers={"X-Scope-OrgID": "tenant-1"})
    stub.reply(200, VECTOR)
    client.query("up")
    headers = stub.requests[0]["headers"]
    expected = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert headers["authorization"] == f"Basic {expected}"
    assert headers["x-scope-orgid"] == "tenant-1"
    _no_secret(repr(client))
    assert "basic" in repr(client)
    # credentials in the URL become basic auth and disappear from the URL
    host = stub.url.removeprefix("http://")
    url_client = PrometheusClient(f"http://alice:{PASSWORD}@{host}/")
    assert url_client.base_url == stub.url
    stub.reply(404, b"not here")
    with pytest.raises(RemoteError) as info:
        url_client.query("up")
    assert stub.requests[1]["headers"]["authorization"] == f"Basic {expected}"
    assert info.value.status == 404
    _no_secret(str(info.value))
    _no_secret(repr(url_client))
    for record in caplog.records:
        _no_secret(record.getMessage())
    with pytest.raises(ValueError, match="not both"):
        PrometheusClient(stub.url, bearer_token=TOKEN, basic_auth=("a", PASSWORD))


def test_unreachable_server_fails_fast_after_retries() -> None:
    port = free_port()  # nothing listens there any more
    client = PrometheusClient(f"http://127.0.0.1:{port}", retries=2, backoff=0.01, timeout=2)
    with pytest.raises(RemoteError) as info:
        client.query("up")
    assert info.value.status is None
    assert "3 attempts" in str(info.value)
    assert "refused" in str(info.value).lower()


def test_timeout_is_retried_then_reported(stub: Stub) -> None:
    stub.reply(200, VECTOR, delay=1.0)
    stub.reply(200, VECTOR, delay=1.0)
    client = PrometheusClient(stub.url, timeout=0.2, retries=1, backoff=0.01)
    with pytest.raises(RemoteError, match="2 attempts"):
        client.query("up")
    assert len(stub.requests) == 2


def test_http_400_with_prometheus_error_is_not_retried(stub: Stub) -> None:
    stub.reply(
        400,
        {
            "status": "error",
            "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:6: parse error',
        },
    )
    client = PrometheusClient(stub.url, retries=3, backoff=0.01)
    with pytest.raises(RemoteError) as info:
        client.query("rate(")
    assert info.value.status == 400
    assert "bad_data" in str(info.value) and "parse error" in str(info.value)
    assert info.value.url == f"{stub.url}/api/v1/query"
    assert len(stub.requests) == 1


def test_status_error_body(stub: Stub) -> None:
    stub.reply(200, {"status": "error", "errorType": "execution", "error": "query timed out"})
    with pytest.raises(RemoteError, match="execution error: query timed out"):
        PrometheusClient(stub.url).query("up")
    stub.reply(200, b"<html>proxy login</html>")
    with pytest.raises(RemoteError, match="not JSON"):
        PrometheusClient(stub.url).query("up")


def test_retries_on_503_and_429_then_succeeds(stub: Stub) -> None:
    stub.reply(503, {"status": "error", "errorType": "unavailable", "error": "busy"})
    stub.reply(429, b"slow down", {"Retry-After": "0"})
    stub.reply(200, VECTOR)
    client = PrometheusClient(stub.url, retries=3, backoff=0.01)
    assert client.query("up").height == 1
    assert len(stub.requests) == 3


def test_persistent_5xx_gives_up(stub: Stub) -> None:
    for _ in range(3):
        stub.reply(500, {"status": "error", "errorType": "internal", "error": "boom"})
    client = PrometheusClient(stub.url, retries=2, backoff=0.01)
    with pytest.raises(RemoteError) as info:
        client.query("up")
    assert info.value.status == 500 and "internal error: boom" in str(info.value)
    assert len(stub.requests) == 3


def test_redirect_is_not_followed(stub: Stub) -> None:
    stub.reply(302, b"", {"Location": "http://example.invalid/api/v1/query"})
    with pytest.raises(RemoteError, match="redirect"):
        PrometheusClient(stub.url, bearer_token=TOKEN).query("up")
    assert len(stub.requests) == 1


def test_query_range_params(stub: Stub) -> None:
    stub.reply(200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
    frame = PrometheusClient(stub.url).query_range(
        "up", "2024-01-01T00:00:00Z", datetime(2024, 1, 1, 1, tzinfo=UTC), "1m"
    )
    assert frame.columns == ["timestamp", "metric", "value"] and frame.height == 0
    body = stub.requests[0]["body"]
    assert "start=1704067200&" in body and "end=1704070800&" in body and "step=60" in body
    with pytest.raises(ValueError, match="before start"):
        PrometheusClient(stub.url).query_range("up", 10, 5, 1)


def test_a_live_server_feeds_the_reports_triton_breakdown(stub: Stub, tmp_path: Path, samples_dir: Path) -> None:
    """With only a live server configured, the GPU report's serving section reads Triton's counters from it."""
    import urllib.parse

    from obskit.panels import LIVE_SERIES
    from obskit.report import gpu
    from obskit.report.section import open_report

    stub.default = (200, (samples_dir / "prometheus" / "query_range.json").read_bytes(), {}, 0.0)
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[sources.prometheus]\nurl = "{stub.url}"\n')
    rep = open_report(str(cfg), start="2026-11-22T00:00:00Z", end="2026-11-23T00:00:00Z")
    sec = gpu.serving(rep)
    assert sec.status == "ok", sec.reason
    assert sec.frames["breakdown"].height > 0
    sent = [urllib.parse.parse_qs(r["body"]) for r in stub.requests if r["path"].endswith("/query_range")]
    assert sent and sent[0]["query"] == [LIVE_SERIES]
    assert rep.session.problems == []


# ------------------------------------------------- the vectorised float samples equal the per-sample path

_TIME = st.one_of(st.integers(1_500_000_000, 1_900_000_000),
                  st.floats(1_500_000_000, 1_900_000_000),
                  st.floats(1_500_000_000, 1_900_000_000).map(lambda t: round(t, 3)))
_VALUE = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.sampled_from(["NaN", "+Inf", "-Inf", "1e3", "0", "-0.5"]))


@settings(max_examples=60, deadline=None)
@example(series=[[(1_600_000_000, "1"), (1_600_000_000, "2"), (1_600_000_001.5, "3")],
                 [(1_600_000_000.1, "4"), (1_600_000_000.7, "5")]])
@given(series=st.lists(st.lists(st.tuples(_TIME, _VALUE), max_size=30), min_size=1, max_size=4))
def test_float_samples_read_at_once_equal_the_per_sample_path(series: list[list[tuple[float, str]]]) -> None:
    """Times twice in a series send it down the per-sample path; every other series is read at once."""
    import obskit.load.prometheus_api as api

    data = {"resultType": "matrix", "result": [
        {"metric": {"__name__": "m", "s": str(i)}, "values": [[t, v] for t, v in samples]}
        for i, samples in enumerate(series)]}

    def read() -> tuple[pl.DataFrame, int]:
        q = Quarantine()
        return api._frame_from_data(data, expr=None, source="x.json", strict=False, quarantine=q), q.stats.rejected

    fast, fast_rejected = read()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(api, "_float_samples", lambda samples: None)
        slow, slow_rejected = read()
    assert fast_rejected == slow_rejected
    assert fast.equals(slow, null_equal=True)
