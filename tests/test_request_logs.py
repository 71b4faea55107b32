"""Request-log loader: formats, compression, mapping, time units, status conventions, bad input."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from obskit.errors import ParseError, SchemaError, SourceError
from obskit.load._quarantine import Quarantine, RejectedRecordsWarning
from obskit.load.logs import load_requests, scan_requests
from obskit.schemas import validate

MAP = {"timestamp": "ts", "request_id": "id", "status_code": "code"}
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "name", ["iso_offsets.jsonl", "iso_offsets.jsonl.gz", "iso_offsets.jsonl.zst", "iso_offsets.parquet", "hive"]
)
def test_formats_and_compression_give_the_same_frame(data_dir: Path, name: str) -> None:
    df = load_requests(data_dir / "logs" / name, columns=MAP, strict=True)
    assert validate(df, "requests") == []
    assert df["timestamp"].to_list() == [T0, datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)]
    assert df["status"].to_list() == ["ok", "error"]
    assert df["status_code"].to_list() == [200, 503]


def test_glob_and_file_like(data_dir: Path) -> None:
    # the glob matches three copies of one log (.jsonl, .gz, .zst): each request counted once
    q = Quarantine()
    df = load_requests(str(data_dir / "logs" / "iso_offsets.jsonl*"), columns=MAP, quarantine=q)
    assert df.height == 2 and q.count == 4
    assert set(q.frame()["reason"]) == {"request_id: duplicate (kept its first occurrence)"}
    with pytest.raises(ParseError, match="duplicate"):
        load_requests(str(data_dir / "logs" / "iso_offsets.jsonl*"), columns=MAP, strict=True)
    buf = io.BytesIO((data_dir / "logs" / "iso_offsets.jsonl").read_bytes())
    assert load_requests(buf, columns=MAP).height == 2


def test_lazy_twin_scans_hive_parquet(data_dir: Path) -> None:
    lf = scan_requests(data_dir / "logs" / "hive", columns=MAP)
    assert isinstance(lf, pl.LazyFrame)
    df = lf.collect()
    assert "day" in df.columns and df.height == 2


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("naive.jsonl", {"timezone": "Europe/Paris"}, datetime(2026, 11, 22, 9, 0, tzinfo=UTC)),
        ("naive.jsonl", {"timezone": "UTC"}, T0),
        ("epoch_ms.jsonl", {"timestamp_format": "ms"}, datetime(2025, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)),
    ],
)
def test_timestamps(data_dir: Path, name: str, kwargs: dict[str, str], expected: datetime) -> None:
    df = load_requests(data_dir / "logs" / name, columns=MAP, strict=True, **kwargs)  # type: ignore[arg-type]
    assert df["timestamp"][0] == expected


@pytest.mark.parametrize(
    ("name", "columns", "convention", "statuses"),
    [
        ("bool_status.csv", {"timestamp": "ts", "request_id": "id", "status": "ok"}, "bool", ["ok", "error"]),
        ("grpc.jsonl", MAP, "grpc", ["ok", "error"]),
        ("iso_offsets.jsonl", MAP, "http", ["ok", "error"]),
    ],
)
def test_status_conventions(data_dir: Path, name: str, columns: dict[str, str], convention: str,
                            statuses: list[str]) -> None:
    df = load_requests(data_dir / "logs" / name, columns=columns, status_convention=convention, strict=True)
    assert df["status"].cast(pl.String).to_list() == statuses


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("truncated_line.jsonl", 2, "invalid JSON"),
        ("wrong_type.jsonl", 2, "latency_ms: missing or not a number"),
        ("non_utf8.jsonl", 2, "invalid UTF-8"),
        ("bad_timestamp.jsonl", 1, "timestamp: cannot parse"),
        ("blank_line_negative.jsonl", 3, "latency_ms: negative"),
        ("short_row.csv", 3, "expected 6 fields, got 5"),  # a short row is rejected, never filled with nulls
    ],
)
def test_bad_records_strict_raises_lenient_quarantines(data_dir: Path, name: str, line: int, reason: str) -> None:
    path = data_dir / "logs" / name
    with pytest.raises(ParseError) as exc:
        load_requests(path, columns=MAP, strict=True)
    assert exc.value.line == line and exc.value.path == str(path) and reason in exc.value.reason
    q = Quarantine()
    df = load_requests(path, columns=MAP, quarantine=q)
    total = len([ln for ln in path.read_bytes().splitlines() if ln.strip()]) - (1 if name.endswith(".csv") else 0)
    assert q.count == 1 and df.height + q.count == total  # nothing lost
    row = q.frame().row(0, named=True)
    assert row["line"] == line and reason in row["reason"] and row["source"] == str(path)
    assert q.stats.rejected == 1 and q.stats.rows == df.height


def test_lenient_without_quarantine_warns_with_the_count(data_dir: Path) -> None:
    with pytest.warns(RejectedRecordsWarning, match="1 records rejected"):
        load_requests(data_dir / "logs" / "truncated_line.jsonl", columns=MAP)


def test_missing_required_column_names_it_and_the_file(data_dir: Path) -> None:
    path = data_dir / "logs" / "missing_column.jsonl"
    with pytest.raises(SchemaError) as exc:
        load_requests(path, columns=MAP)
    assert "model_version: missing required column" in str(exc.value) and str(path) in str(exc.value)


def test_mapped_field_absent_is_an_error(data_dir: Path) -> None:
    with pytest.raises(SchemaError, match="field 'when'"):
        load_requests(data_dir / "logs" / "iso_offsets.jsonl", columns={**MAP, "timestamp": "when"})


@pytest.mark.parametrize("name", ["empty.jsonl", "nope.jsonl"])
def test_empty_or_missing_file_is_a_source_error(data_dir: Path, name: str) -> None:
    with pytest.raises(SourceError) as exc:
        load_requests(data_dir / "logs" / name, columns=MAP)
    assert str(data_dir / "logs" / name) in str(exc.value)


def test_defaults_fill_columns_the_logs_lack(data_dir: Path) -> None:
    df = load_requests(data_dir / "logs" / "missing_column.jsonl", columns=MAP, defaults={"model_version": "v0"})
    assert df["model_version"].to_list() == ["v0"]


def test_progress_states_what_was_read(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_requests(data_dir / "logs" / "truncated_line.jsonl", columns=MAP, quarantine=Quarantine(),
                  show_progress=True)
    err = capsys.readouterr().err
    assert "obskit: request logs: read 1 file" in err and "2 rows, 1 rejected" in err


def test_url_source_on_loopback(data_dir: Path) -> None:
    import http.server
    import threading

    folder = str(data_dir / "logs")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=folder, **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        df = load_requests(f"{base}/iso_offsets.jsonl.gz", columns=MAP, strict=True)
        assert df.height == 2
        with pytest.raises(SourceError, match="HTTP 404"):
            load_requests(f"{base}/missing.jsonl", columns=MAP)
    finally:
        server.shutdown()


@pytest.mark.parametrize("blank", [False, True])
@pytest.mark.parametrize("trailing_newline", [False, True])
def test_a_compressed_log_reports_the_lines_of_its_file(blank: bool, trailing_newline: bool) -> None:
    """A buffer (gzip) keeps exact line numbers whatever its blank lines and last newline."""
    import gzip
    import io
    import json

    from obskit.load._quarantine import Quarantine
    from obskit.load.logs import load_requests

    lines = [json.dumps({"timestamp": f"2026-01-01T00:00:0{i}Z", "request_id": f"r{i}", "model": "m",
                         "model_version": "v", "latency_ms": -1.0 if i == 3 else 1.0, "status": "ok"}).encode()
             for i in range(5)]
    body = b"\n".join(lines[:2]) + (b"\n\n" if blank else b"\n") + b"\n".join(lines[2:])
    q = Quarantine()
    load_requests(io.BytesIO(gzip.compress(body + (b"\n" if trailing_newline else b""))), format="jsonl",
                  quarantine=q)
    assert q.frame().select("line", "reason").rows() == [(5 if blank else 4, "latency_ms: negative")]
