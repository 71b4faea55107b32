"""Prometheus text 0.0.4 / OpenMetrics loader: quirks, parity with prometheus_client, scrapes."""

from __future__ import annotations

import gzip
import io
import math
import os
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from prometheus_client.openmetrics import parser as om_parser
from prometheus_client.parser import text_string_to_metric_families

from obskit.errors import ParseError, SourceError
from obskit.load._plausible import implausible_us
from obskit.load._quarantine import Quarantine, RejectedRecordsWarning
from obskit.load.families import is_dcgm_blank, lookup
from obskit.load.prometheus_text import (
    Exposition,
    load_prometheus_text,
    parse_exposition,
    scan_prometheus_text,
    timestamp_from_name,
)
from obskit.schemas import TIMESTAMP, validate

SENTINEL = datetime(1901, 1, 1, tzinfo=UTC)  # "no timestamp on the line" in parity keys


@pytest.fixture(scope="module")
def prom(data_dir: Path) -> Path:
    return data_dir / "prometheus"


def parse(path: Path, **kw: Any) -> Exposition:
    kw.setdefault("quarantine", Quarantine())
    return parse_exposition(path.read_bytes(), name=path.name, **kw)


# --------------------------------------------------------------------------- quirks


def test_counter_and_canonical_schema(prom: Path) -> None:
    exp = parse(prom / "counter.prom")
    assert validate(exp.samples, "metrics") == []
    assert exp.samples.schema["timestamp"] == TIMESTAMP
    assert exp.samples.columns[:4] == ["timestamp", "metric", "value", "family"]
    assert exp.samples.select("metric", "value", "code").rows() == [
        ("http_requests_total", 1027.0, "200"),
        ("http_requests_total", 3.0, "500"),
        ("process_cpu_seconds", 12.47, None),
    ]
    meta = {r[0]: r for r in exp.metadata.rows()}
    assert meta["http_requests_total"][1:] == ("counter", None, "Requests served, by code.", "scrape")


@pytest.mark.parametrize(
    ("fixture", "family", "type_", "metrics"),
    [
        ("gauge.prom", "queue_depth", "gauge", {"queue_depth"}),
        ("histogram.prom", "request_seconds", "histogram",
         {"request_seconds_bucket", "request_seconds_sum", "request_seconds_count"}),
        ("summary.prom", "rpc_seconds", "summary", {"rpc_seconds", "rpc_seconds_sum", "rpc_seconds_count"}),
        ("untyped.prom", "legacy_metric", "untyped", {"legacy_metric"}),
        ("untyped.prom", "orphan_sample", "untyped", {"orphan_sample"}),
        ("info.om", "serving_build", "info", {"serving_build_info"}),
        ("stateset.om", "model_state", "stateset", {"model_state"}),
        ("gaugehistogram.om", "batch_size_requests", "gaugehistogram",
         {"batch_size_requests_bucket", "batch_size_requests_gcount", "batch_size_requests_gsum"}),
        ("openmetrics_counter.om", "inference_requests", "counter",
         {"inference_requests_total", "inference_requests_created"}),
    ],
)
def test_metric_types(prom: Path, fixture: str, family: str, type_: str, metrics: set[str]) -> None:
    exp = parse(prom / fixture)
    assert exp.rejected == 0
    assert validate(exp.samples, "metrics") == []
    got = set(exp.samples.filter(pl.col("family") == family).get_column("metric"))
    assert got == metrics
    meta = exp.metadata.filter(pl.col("family") == family)
    assert meta.get_column("type").item() == type_


def test_openmetrics_unit_and_help(prom: Path) -> None:
    exp = parse(prom / "gaugehistogram.om")
    assert exp.format == "openmetrics"
    row = exp.metadata.filter(pl.col("family") == "batch_size_requests").row(0, named=True)
    assert row["unit"] == "requests"
    assert row["help"] == "Current batch sizes in the queue."


def test_label_escaping(prom: Path) -> None:
    exp = parse(prom / "escaping.prom")
    assert exp.rejected == 0
    row = exp.samples.row(0, named=True)
    assert row["path"] == "C:\\models\\bert"
    assert row["quote"] == 'say "hi"'
    assert row["multi"] == "line1\nline2"
    assert row["brace"] == 'a}b,c="d"'
    assert exp.samples.row(1, named=True)["quote"] == ""


def test_nan_and_infinities(prom: Path) -> None:
    exp = parse(prom / "special_values.prom")
    values = dict(exp.samples.select("kind", "value").rows())
    assert math.isnan(values["nan"])
    assert values["pos_inf"] == math.inf
    assert values["neg_inf"] == -math.inf
    assert values["neg_zero"] == 0.0 and math.copysign(1, values["neg_zero"]) == -1
    assert values["exp"] == 1.5e-7


def test_timestamps_text_are_milliseconds(prom: Path) -> None:
    default = datetime(2026, 1, 1, tzinfo=UTC)
    exp = parse(prom / "timestamps_ms.prom", default_timestamp=default)
    assert exp.format == "text"
    assert exp.samples.get_column("timestamp").to_list() == [
        datetime(2025, 11, 22, 10, 0, tzinfo=UTC),
        datetime(2025, 11, 22, 10, 1, tzinfo=UTC),
        default,
    ]


def test_timestamps_openmetrics_are_seconds(prom: Path) -> None:
    exp = parse(prom / "timestamps_seconds.om")
    assert exp.format == "openmetrics"
    assert exp.samples.get_column("timestamp").to_list() == [
        datetime(2025, 11, 22, 10, 0, 0, 125000, tzinfo=UTC),
        datetime(2025, 11, 22, 10, 1, tzinfo=UTC),
    ]


def test_format_can_be_forced() -> None:
    text = "up 1 1763805600\n"
    q = Quarantine()
    as_text = parse_exposition(text, format="text", quarantine=q).samples
    as_om = parse_exposition(text, format="openmetrics", quarantine=Quarantine()).samples
    assert as_text.height == 0  # milliseconds: 1970-01-21, no scrape's time; rejected with the likely unit
    assert q.frame()["reason"].to_list() == [
        "timestamp 1763805600 ms is outside the years 1990–2200 (it reads as seconds: this format writes milliseconds)"]
    assert as_om.get_column("timestamp").item() == datetime(2025, 11, 22, 10, tzinfo=UTC)


@pytest.mark.parametrize(("line", "fmt"), [("up 1 0", "text"), ("up 1 99999999999999", "text"),
                                           ("up 1 1763805600000\n# EOF", "openmetrics")])
def test_a_written_timestamp_outside_1990_2200_is_rejected(line: str, fmt: str) -> None:
    q = Quarantine()
    assert parse_exposition(line + "\n", format=fmt, quarantine=q).samples.height == 0
    assert "outside the years 1990–2200" in q.frame()["reason"][0]


def test_exemplars_kept_apart(prom: Path) -> None:
    exp = parse(prom / "exemplars.om")
    assert exp.rejected == 0
    assert exp.samples.height == 6  # exemplars are not samples
    ex = exp.exemplars
    assert ex.select("metric", "le", "value", "exemplar_value", "exemplar_trace_id", "exemplar_span_id").rows() == [
        ("request_seconds_bucket", "0.1", 8.0, 0.067, "4bf92f3577b34da6", None),
        ("request_seconds_bucket", "1.0", 11.0, 0.93, "00f067aa0ba902b7", "b7ad6b71"),
        ("jobs_total", None, 3.0, 1.0, "a1", None),
    ]
    assert ex.get_column("exemplar_timestamp").to_list() == [
        datetime(2025, 11, 22, 10, 0, 0, 500000, tzinfo=UTC), None, None,
    ]


def test_no_exemplars_gives_empty_frame(prom: Path) -> None:
    ex = parse(prom / "gauge.prom").exemplars
    assert ex.height == 0
    assert {"exemplar_value", "exemplar_timestamp", "metric"} <= set(ex.columns)


def test_missing_type_filled_from_registry(prom: Path) -> None:
    exp = parse(prom / "missing_type_triton.prom")
    meta = {r[0]: r for r in exp.metadata.rows()}
    assert meta["nv_inference_request_success"][1:3] == ("counter", None)
    assert meta["nv_inference_request_summary_us"][1:3] == ("summary", "us")
    assert meta["nv_inference_request_summary_us"][4] == "registry"
    assert meta["nv_gpu_utilization"][1:3] == ("gauge", "ratio")
    assert meta["DCGM_FI_DEV_FB_USED"][1:3] == ("gauge", "MiB")
    fam = dict(exp.samples.select("metric", "family").unique().rows())
    assert fam["nv_inference_request_summary_us_count"] == "nv_inference_request_summary_us"
    assert fam["nv_inference_request_summary_us_sum"] == "nv_inference_request_summary_us"


def test_triton_scrape(prom: Path) -> None:
    exp = parse(prom / "triton.prom")
    assert exp.rejected == 0
    assert validate(exp.samples, "metrics") == []
    s = exp.samples
    assert {"model", "version", "gpu_uuid", "reason", "quantile"} <= set(s.columns)
    p99 = s.filter(
        (pl.col("metric") == "nv_inference_request_summary_us")
        & (pl.col("model") == "bert_large")
        & (pl.col("quantile") == "0.99")
    )
    assert p99.get_column("value").item() == 30784.0
    types = dict(exp.metadata.select("family", "type").rows())
    assert types["nv_inference_request_summary_us"] == "summary"
    assert types["nv_inference_request_duration_us"] == "counter"
    assert types["nv_gpu_utilization"] == "gauge"
    assert types["nv_cache_num_hits_per_model"] == "counter"
    failures = s.filter(pl.col("metric") == "nv_inference_request_failure")
    assert failures.height == 12 and set(failures.get_column("reason")) == {"REJECTED", "CANCELED", "BACKEND", "OTHER"}


def test_dcgm_scrape_and_blank_sentinels(prom: Path) -> None:
    exp = parse(prom / "dcgm.prom")
    assert exp.rejected == 0
    s = exp.samples
    assert {"gpu", "UUID", "device", "modelName", "Hostname"} <= set(s.columns)
    mem_temp = s.filter(pl.col("metric") == "DCGM_FI_DEV_MEMORY_TEMP").sort("gpu")
    assert mem_temp.get_column("value").to_list() == [70.0, None]
    tx = s.filter(pl.col("metric") == "DCGM_FI_PROF_PCIE_TX_BYTES").sort("gpu")
    assert tx.get_column("value").to_list() == [118532211.0, None]
    # blanks are null on purpose; the canonical schema does not allow null values (yet)
    assert validate(s.drop_nulls("value"), "metrics") == []


def test_dcgm_blank_fixture(prom: Path) -> None:
    s = parse(prom / "dcgm_blank.prom").samples
    got = {(m, g): v for m, g, v in s.select("metric", "gpu", "value").rows()}
    assert got[("DCGM_FI_DEV_POWER_USAGE", "0")] == 71.3
    assert got[("DCGM_FI_DEV_POWER_USAGE", "1")] is None  # FP64 NOT_SUPPORTED
    assert got[("DCGM_FI_DEV_ENC_UTIL", "0")] is None  # INT32 NOT_SUPPORTED
    assert got[("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "0")] is None  # INT64 NOT_SUPPORTED
    assert got[("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "1")] == 3821193407.0  # > 2**31, real


def test_blank_sentinels_only_for_dcgm() -> None:
    s = parse_exposition("my_big_counter 9223372036854775794\n").samples
    assert s.get_column("value").item() == 9223372036854775794.0


def test_registry() -> None:
    assert lookup("nv_inference_compute_infer_summary_us").type == "summary"  # type: ignore[union-attr]
    assert lookup("nv_inference_compute_infer_duration_us").unit == "us"  # type: ignore[union-attr]
    assert lookup("DCGM_FI_PROF_GR_ENGINE_ACTIVE").type == "gauge"  # type: ignore[union-attr]
    assert lookup("nv_cpu_utilization").type == "gauge"  # type: ignore[union-attr]
    assert is_dcgm_blank(2147483632.0) and not is_dcgm_blank(2147483631.0)


def test_reserved_label_names_are_prefixed() -> None:
    s = parse_exposition('x{timestamp="t",metric="m",value="v",family="f",job="j"} 1\n').samples
    assert s.columns == [
        "timestamp", "metric", "value", "family",
        "label_timestamp", "label_metric", "label_value", "label_family", "job",
    ]
    assert s.row(0)[4:] == ("t", "m", "v", "f", "j")


def test_odd_spacing_and_name_in_braces(prom: Path) -> None:
    exp = parse(prom / "spacing.prom")
    assert exp.rejected == 0
    assert exp.samples.select("metric", "a", "value").rows() == [
        ("spaced", "1", 1.0), ("spaced", "3", 2.0), ("spaced", "5", 3.0),
        ("spaced", "6", 4.0), ("spaced", "7", 5.0),
    ]


# --------------------------------------------------------------------------- malformed input


BAD = [
    # fixture, first bad line, reason fragment, rows kept in lenient mode, rejected count
    ("duplicate_label.prom", 2, "duplicate label name 'job'", 1, 1),
    ("duplicate_type.prom", 3, "duplicate # TYPE for family 'up' (first on line 1)", 2, 1),
    ("non_utf8.prom", 3, "invalid UTF-8 byte 0xff", 2, 1),
    ("truncated.prom", 4, "unterminated value of label 'gpu_uuid' (truncated line?)", 2, 1),
    ("bad_float.prom", 3, "invalid value 'one'", 1, 2),
    ("bad_labels.prom", 2, "label value of 'job' must be double-quoted", 1, 3),
    ("eof_then_sample.om", 4, "content after '# EOF'", 1, 1),
    ("eof_missing.om", 3, "does not end with '# EOF'", 1, 1),
]


@pytest.mark.parametrize(("fixture", "line", "reason", "kept", "count"), BAD, ids=[b[0] for b in BAD])
def test_malformed_strict(prom: Path, fixture: str, line: int, reason: str, kept: int, count: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_exposition((prom / fixture).read_bytes(), name=fixture, strict=True)
    assert info.value.path == fixture
    assert info.value.line == line
    assert reason in info.value.reason


@pytest.mark.parametrize(("fixture", "line", "reason", "kept", "count"), BAD, ids=[b[0] for b in BAD])
def test_malformed_lenient(prom: Path, fixture: str, line: int, reason: str, kept: int, count: int) -> None:
    q = Quarantine()
    exp = parse_exposition((prom / fixture).read_bytes(), name=fixture, quarantine=q)
    assert exp.samples.height == kept
    assert q.count == count == exp.rejected
    first = q.frame().row(0, named=True)
    assert first["source"] == fixture and first["line"] == line and reason in first["reason"]


def test_lenient_without_quarantine_warns(prom: Path) -> None:
    with pytest.warns(RejectedRecordsWarning, match="1 records rejected"):
        parse_exposition((prom / "truncated.prom").read_bytes(), name="truncated.prom")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('up{job="a"}', "sample has no value"),
        ('up{job="a"} 1 2 3', "unexpected text after the timestamp"),
        ("up 1 NaN", "invalid timestamp"),
        ('up{job="a",job="b"} 1', "duplicate label name 'job'"),
        ('up{job="a" x="b"} 1', "expected ',' or '}'"),
        ("9up 1", "expected a metric name"),
        ('up{__name__="down"} 1', "metric name given both"),
        ("up 1 # trace", "exemplar must start with a label set"),
        ("# TYPE up", "names no type"),
        ("# TYPE up flavour", "unknown metric type 'flavour'"),
    ],
)
def test_line_errors(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_exposition(line + "\n", strict=True)
    assert info.value.line == 1
    assert reason in info.value.reason


def test_empty_file_is_a_source_error(prom: Path) -> None:
    with pytest.raises(SourceError, match="empty"):
        parse_exposition((prom / "empty.prom").read_bytes(), name="empty.prom")
    with pytest.raises(SourceError, match="empty file"):
        load_prometheus_text(prom / "empty.prom")
    with pytest.raises(SourceError, match="empty"):
        parse_exposition("  \n\n")


# --------------------------------------------------------------------------- parity


def _norm_labels(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _fval(v: float | None) -> str:
    return "null" if v is None else repr(float(v) + 0.0)  # -0 == 0 (int("-0") loses the sign)


def _theirs(text: str, fmt: str) -> list[tuple[Any, ...]]:
    parser = om_parser.text_string_to_metric_families if fmt == "openmetrics" else text_string_to_metric_families
    out = []
    for fam in parser(text):
        for s in fam.samples:
            name = s.name
            if fam.type == "counter" and fmt == "text" and not name.endswith("_total"):
                name += "_total"
            ts = s.timestamp
            if ts is None:
                us = None
            elif hasattr(ts, "sec"):
                us = ts.sec * 1_000_000 + ts.nsec // 1000
            else:
                us = round(float(ts) * 1e6)
            if us is not None and implausible_us(us):
                continue  # a written time outside 1990-2200: prometheus_client keeps it, obskit rejects it
            value: float | None = float(s.value)
            if name.startswith("DCGM_") and value is not None and is_dcgm_blank(value):
                value = None
            out.append((name, _norm_labels(s.labels), _fval(value), us))
    return sorted(out)


def _ours(data: bytes, fmt: str) -> list[tuple[Any, ...]]:
    exp = parse_exposition(data, format=fmt, default_timestamp=SENTINEL, quarantine=Quarantine())  # type: ignore[arg-type]
    declared = exp.metadata.filter(pl.col("type_source") == "scrape")
    types = dict(declared.select("family", "type").rows())
    s = exp.samples
    labels = [c for c in s.columns if c not in ("timestamp", "metric", "value", "family")]
    out = []
    sentinel_us = int((SENTINEL - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    for row in s.iter_rows(named=True):
        name = row["metric"]
        # prometheus_client's text parser renames a counter family's own sample x to x_total
        if fmt == "text" and types.get(name) == "counter" and not name.endswith("_total"):
            name += "_total"
        ts = row["timestamp"]
        us = int((ts - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
        out.append((
            name,
            _norm_labels({k: row[k] for k in labels if row[k] is not None}),
            _fval(row["value"]),
            None if us == sentinel_us else us,
        ))
    return sorted(out)


# Files that prometheus_client accepts but reads differently, on purpose (parser, reason).
DIVERGES = {
    # (and every parser: a sample written at a time outside 1990-2200 is rejected by obskit, kept by
    # prometheus_client; _theirs leaves those out)
    ("exemplars.om", "text"): "text 0.0.4 has no exemplars; prometheus_client's text parser reads "
    "'8 # {trace_id=...} 0.067 1763805600.5' as value 8 with the exemplar's timestamp; we parse the exemplar",
    ("duplicate_type.prom", "text"): "prometheus_client lets the second # TYPE win and renames the gauge's "
    "samples to up_total; we keep the first TYPE and reject the duplicate line",
    ("eof_then_sample.om", "text"): "read as text 0.0.4 the document holds the series 'up' twice; "
    "prometheus_client keeps both samples, we keep the first and reject the duplicate (as Prometheus does)",
}


def _parity_files(prom: Path, real: Path | None) -> list[Path]:
    files = sorted(p for p in prom.iterdir() if p.is_file())
    files += sorted((prom / "scrapes").iterdir())
    if real is not None:
        files += sorted((real / "prometheus").iterdir())
    return files


def _check_parity(path: Path) -> list[str]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []  # prometheus_client takes str only
    checked = []
    for fmt in ("text", "openmetrics"):
        try:
            theirs = _theirs(text, fmt)
        except Exception:
            continue
        if (path.name, fmt) in DIVERGES:
            continue
        if fmt == "text" and " # {" in text:
            continue  # exemplars: see DIVERGES["exemplars.om", "text"]
        if not theirs and not text.strip():
            continue
        ours = _ours(data, fmt)
        assert ours == theirs, f"{path.name} ({fmt}) differs from prometheus_client"
        checked.append(fmt)
    return checked


def test_parity_with_prometheus_client_on_fixtures(prom: Path) -> None:
    checked = {p.name: _check_parity(p) for p in _parity_files(prom, None)}
    # every valid text fixture is compared with at least one parser
    for name in ("counter.prom", "histogram.prom", "summary.prom", "escaping.prom", "triton.prom",
                 "dcgm.prom", "spacing.prom", "special_values.prom", "timestamps_ms.prom"):
        assert "text" in checked[name], name
    for name in ("info.om", "stateset.om", "gaugehistogram.om", "exemplars.om", "timestamps_seconds.om",
                 "openmetrics_counter.om"):
        assert "openmetrics" in checked[name], name


def test_parity_with_prometheus_client_on_real_captures(real_dir: Path) -> None:
    files = sorted((real_dir / "prometheus").iterdir())
    assert files
    checked = {p.name: _check_parity(p) for p in files}
    unchecked = {k for k, v in checked.items() if not v}
    # alltypes.5mfs.om.txt: see test_real_capture_with_negative_histogram_sum
    assert unchecked <= {"alltypes.5mfs.om.txt"}


def test_real_capture_with_negative_histogram_sum(real_dir: Path) -> None:
    """alltypes.5mfs.om.txt has a histogram with negative buckets *and* a negative ``_sum``.
    prometheus_client's OpenMetrics parser rejects the whole file ("Counter-like samples
    cannot be negative"), a semantic rule of OpenMetrics 1.0 that we do not enforce: the
    loader accepts every line. Its text parser cannot compare either (it misreads exemplars as
    timestamps), so parity is checked against the text parser on the file with exemplars cut.
    """
    path = real_dir / "prometheus" / "alltypes.5mfs.om.txt"
    text = path.read_text()
    with pytest.raises(ValueError, match="cannot be negative"):
        list(om_parser.text_string_to_metric_families(text))
    exp = parse_exposition(text, quarantine=(q := Quarantine()))
    assert q.count == 0 and exp.exemplars.height > 0
    cut = "\n".join(line.split(" # {")[0] for line in text.splitlines()) + "\n"
    assert _ours(text.encode(), "openmetrics") == _theirs(cut, "text")


def test_real_captures_load_cleanly(real_dir: Path) -> None:
    """Every real capture loads with no rejected line (auto format), but Prometheus' dumps of a
    test TSDB, whose samples are written at 0, 60, 120... seconds after 1970: each is rejected
    for its time."""
    for path in sorted((real_dir / "prometheus").iterdir()):
        q = Quarantine()
        exp = parse_exposition(path.read_bytes(), name=path.name, quarantine=q)
        if path.name in ("dump-openmetrics-test.prom", "dump-test-1.prom", "dump-test-2.prom"):
            assert q.count > 0 and exp.samples.height == 0
            assert all("outside the years 1990–2200" in r for r in q.frame()["reason"])
            continue
        assert q.count == 0, (path.name, q.frame().rows()[:3])
        assert exp.samples.height > 0
        assert validate(exp.samples, "metrics") == []


def test_real_capture_formats(real_dir: Path) -> None:
    """alltypes.237mfs.prom.txt is text 0.0.4 with a trailing '# EOF' (Prometheus' test data);
    auto-detection calls it OpenMetrics, which only changes how timestamps would be read (it
    has none), so its samples are the same either way."""
    path = real_dir / "prometheus" / "alltypes.237mfs.prom.txt"
    auto = parse_exposition(path.read_bytes(), default_timestamp=SENTINEL)
    text = parse_exposition(path.read_bytes(), default_timestamp=SENTINEL, format="text")
    assert auto.format == "openmetrics"
    assert auto.samples.equals(text.samples)


# --------------------------------------------------------------------------- loading scrapes


def test_directory_of_scrapes_is_one_time_series(prom: Path) -> None:
    df = load_prometheus_text(prom / "scrapes")
    assert df.get_column("timestamp").unique().sort().to_list() == [
        datetime(2026, 11, 22, 10, m, tzinfo=UTC) for m in range(3)
    ]
    resnet = df.filter(pl.col("model") == "resnet50").get_column("value").to_list()
    assert resnet == [1000.0, 1120.0, 1240.0]
    assert validate(df, "metrics") == []


def test_tar_gz_of_scrapes(prom: Path, tmp_path: Path) -> None:
    archive = tmp_path / "scrapes.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for f in sorted((prom / "scrapes").iterdir()):
            tar.add(f, arcname=f"node-a/{f.name}")
    from_tar = load_prometheus_text(archive)
    from_dir = load_prometheus_text(prom / "scrapes")
    assert from_tar.get_column("timestamp").n_unique() == 3
    assert from_tar.equals(from_dir)


def test_scrape_time_falls_back_to_mtime(prom: Path, tmp_path: Path) -> None:
    for i, f in enumerate(sorted((prom / "scrapes").iterdir())):
        dst = tmp_path / f"scrape{i}.prom.gz"
        dst.write_bytes(gzip.compress(f.read_bytes()))
        t = datetime(2026, 3, 1, 12, i, tzinfo=UTC).timestamp()
        os.utime(dst, (t, t))
    df = load_prometheus_text(tmp_path)
    assert df.get_column("timestamp").unique().sort().to_list() == [
        datetime(2026, 3, 1, 12, i, tzinfo=UTC) for i in range(3)
    ]


def test_explicit_timestamp_and_family_filter(prom: Path) -> None:
    when = datetime(2026, 5, 1, tzinfo=UTC)
    df = load_prometheus_text(prom / "triton.prom", timestamp=when, families=["nv_gpu_*"])
    assert set(df.get_column("family")) == {
        "nv_gpu_utilization", "nv_gpu_memory_total_bytes", "nv_gpu_memory_used_bytes",
        "nv_gpu_power_usage", "nv_gpu_power_limit",
    }
    assert df.get_column("timestamp").unique().to_list() == [when]


def test_scan_is_lazy_twin(prom: Path) -> None:
    lf = scan_prometheus_text(prom / "scrapes")
    assert isinstance(lf, pl.LazyFrame)
    assert lf.collect().equals(load_prometheus_text(prom / "scrapes"))


def test_file_like_and_strict_load(prom: Path) -> None:
    df = load_prometheus_text(io.BytesIO((prom / "gauge.prom").read_bytes()), timestamp=datetime(2026, 1, 1))
    assert df.height == 3
    with pytest.raises(ParseError) as info:
        load_prometheus_text(prom / "truncated.prom", strict=True)
    assert info.value.path is not None and info.value.path.endswith("truncated.prom")
    assert info.value.line == 4


def test_empty_file_among_scrapes_is_quarantined(prom: Path, tmp_path: Path) -> None:
    for f in (prom / "scrapes").iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "scrape-2026-11-22T10:03:00Z.prom").write_bytes(b"")
    q = Quarantine()
    df = load_prometheus_text(tmp_path, quarantine=q)
    assert df.get_column("timestamp").n_unique() == 3
    assert q.frame().get_column("reason").to_list() == ["empty file"]
    assert len(q.stats.files) == 3
    with pytest.raises(SourceError, match="empty file"):
        load_prometheus_text(tmp_path, strict=True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scrape-2026-11-22T10:00:00Z.prom", datetime(2026, 11, 22, 10, tzinfo=UTC)),
        ("scrape-20261122T100000Z.prom", datetime(2026, 11, 22, 10, tzinfo=UTC)),
        ("dir/2026-11-22T11-30-00+01:00.prom", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
        ("triton_1763805600.prom", datetime(2025, 11, 22, 10, tzinfo=UTC)),
        ("triton_1763805600250.prom", datetime(2025, 11, 22, 10, 0, 0, 250000, tzinfo=UTC)),
        ("metrics.prom", None),
    ],
)
def test_timestamp_from_name(name: str, expected: datetime | None) -> None:
    assert timestamp_from_name(name) == expected


@pytest.mark.parametrize("value", ['} 1', 'a} b', '}', '{x} 2 3', 'q\\"} 4'])
def test_a_brace_and_space_inside_a_label_value_is_read_as_prometheus_client_reads_it(value: str) -> None:
    """The fast split cuts at the first "} ": one inside a quoted value must not be taken for the end."""
    text = f'# TYPE m gauge\nm{{a="{value}",b="2"}} 7.5\nm{{a="plain"}} 1\n'
    ours = parse_exposition(text, default_timestamp=datetime(2026, 1, 1, tzinfo=UTC)).samples
    theirs = [(s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]
    got = [({k: v for k, v in (("a", r["a"]), ("b", r["b"])) if v is not None}, r["value"])
           for r in ours.select("a", "b", "value").iter_rows(named=True)]
    assert got == theirs


def test_a_label_called_block_is_a_label_like_any_other() -> None:
    q = Quarantine()
    samples = parse_exposition('m{block="x",a="1"} 2\nm{a="1",a="2"} 3\n', quarantine=q).samples
    assert samples.select("block", "a", "value").rows() == [("x", "1", 2.0)]
    assert q.frame()["reason"].to_list() == ["duplicate label name 'a' (column 9)"]


def test_a_histogram_with_a_non_numeric_le_is_rejected_for_that_with_its_count_and_sum() -> None:
    text = '# TYPE h histogram\nh_bucket{le="abc"} 1\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 1\nup 1\n'
    q = Quarantine()
    exp = parse_exposition(text, quarantine=q)
    assert exp.samples["metric"].to_list() == ["up"]  # no orphan _sum or _count of the rejected histogram
    assert q.frame()["reason"].unique().to_list() == ["malformed histogram h: le 'abc' is not a number"]
