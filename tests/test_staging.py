"""Staging: a day logged as many JSONL.gz files is converted once to parquet and reported at scale.

The sample day is split into hourly JSONL.gz files (the log's own field names, HTTP codes),
with bad lines mixed in; the report at scale (``stage`` set, ``[report] max_rows`` below the
row count) must give the in-memory report's counts, and the loader's rejected rows.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import polars as pl
import pytest

from obskit.errors import ObskitError
from obskit.load.registry import SourceConfig
from obskit.report import health
from obskit.report.section import open_report
from obskit.scale.staging import stage_requests

BAD = [
    b"{not json\n",
    b'{"ts": "2026-11-22T10:00:00Z", "request_id": "bad-lat", "model_version": "v1.4.0", "latency_ms": "NaN", '
    b'"http_status": 200}\n',
    b'{"ts": "yesterday", "request_id": "bad-ts", "model_version": "v1.4.0", "latency_ms": 5.0, '
    b'"http_status": 200}\n',
]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """The sample day as 24 hourly JSONL.gz files, three bad lines in the 10:00 file."""
    folder = tmp_path_factory.mktemp("jsonl_day") / "logs"
    folder.mkdir()
    lines = gzip.decompress((samples_dir / "requests.jsonl.gz").read_bytes()).splitlines(keepends=True)
    hours: dict[bytes, list[bytes]] = {}
    for line in lines:
        hour = re.search(rb'"ts":\s*"[^"]*T(\d\d)', line)
        assert hour is not None
        hours.setdefault(hour.group(1), []).append(line)
    for hour, part in hours.items():
        extra = BAD if hour == b"10" else []
        (folder / f"requests-{hour.decode()}.jsonl.gz").write_bytes(gzip.compress(b"".join(part + extra)))
    return folder


def _config(root: Path, samples: Path, logs: Path, *, stage: bool, max_rows: int) -> Path:
    text = (samples / "obskit.toml").read_text()
    text = text.replace('path = "', f'path = "{samples}/').replace('"prometheus/', f'"{samples}/prometheus/')
    text = text.replace(f'path = "{samples}/requests.jsonl.gz"',
                        f'path = "{logs}/*.jsonl.gz"' + (f'\nstage = "{root}/staged"' if stage else ""))
    text = re.sub(r"\[report\]", f"[report]\nmax_rows = {max_rows}", text) if "[report]" in text else (
        text + f"\n[report]\nmax_rows = {max_rows}\n")
    path = root / f"obskit-{'staged' if stage else 'memory'}.toml"
    path.write_text(text)
    return path


def test_a_jsonl_day_is_staged_once_and_reported_at_scale(logs: Path, samples_dir: Path, tmp_path: Path) -> None:
    big = open_report(str(_config(tmp_path, samples_dir, logs, stage=True, max_rows=1000)))
    small = open_report(str(_config(tmp_path, samples_dir, logs, stage=False, max_rows=10_000_000)))
    assert big.scale is not None and small.scale is None
    assert big.scale.rows == 150_000 and len(big.scale.files) == 24
    for key in ("requests", "errors", "error_rate", "slo_latency_met_share"):
        assert big.figures[key] == small.figures[key], key
    # every line the in-memory loader rejects is rejected, with its file and line, at scale too
    small.session.requests  # noqa: B018 - loads the rows (and their quarantine)
    ours, theirs = big.session.quarantine.frame(), small.session.quarantine.frame()
    assert ours.height == theirs.height == 3
    assert ours.select("source", "line", "reason").sort("line").equals(
        theirs.select("source", "line", "reason").sort("line"))
    assert health.summary(big).status == health.summary(small).status

    # the next night converts only what changed
    src = big.config.sources_for("requests")[0]
    stage, opts = src.get("stage"), {"timezone": big.config.project.timezone, "model": big.config.project.model}
    assert stage_requests(src, stage, **opts).converted == 0
    changed = logs / "requests-23.jsonl.gz"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 1_000_000))
    again = stage_requests(src, stage, **opts)
    assert again.converted == 1 and again.rows == 150_000 and again.rejected == 3


def test_a_request_id_repeated_across_staged_files_is_rejected_as_in_memory(logs: Path, samples_dir: Path,
                                                                            tmp_path: Path) -> None:
    """Each file is checked when staged; an id repeated in another file is found over the staged parts."""
    import shutil

    folder = tmp_path / "logs"
    shutil.copytree(logs, folder)
    early = gzip.decompress((folder / "requests-09.jsonl.gz").read_bytes()).splitlines(keepends=True)
    again = re.sub(rb'"ts":\s*"[^"]*"', b'"ts": "2026-11-22T23:59:59Z"', early[0])  # a late repeat, another file
    late = gzip.decompress((folder / "requests-23.jsonl.gz").read_bytes()).splitlines(keepends=True)
    (folder / "requests-23.jsonl.gz").write_bytes(gzip.compress(b"".join([*late, again])))
    big = open_report(str(_config(tmp_path, samples_dir, folder, stage=True, max_rows=1000)))
    small = open_report(str(_config(tmp_path, samples_dir, folder, stage=False, max_rows=10_000_000)))
    assert big.scale is not None and small.scale is None
    assert big.figures["requests"] == small.figures["requests"] == 150_000  # 150,001 good lines, one a repeat
    small.session.requests  # noqa: B018 - loads the rows (and their quarantine)
    reasons = [sorted(r.session.quarantine.frame()["reason"].to_list()) for r in (big, small)]
    assert reasons[0] == reasons[1] and "request_id: duplicate (kept its first occurrence)" in reasons[0]
    assert big.figures["errors"] == small.figures["errors"]
    # named by the input file and its line at both sizes, not by a staged part
    where = [r.session.quarantine.frame().filter(pl.col("reason").str.starts_with("request_id: duplicate"))
             .select(pl.col("source").map_elements(lambda s: Path(s).name, return_dtype=pl.String), "line").rows()
             for r in (big, small)]
    assert where[0] == where[1] == [("requests-23.jsonl.gz", len(late) + 1)]


def test_the_explorer_reads_a_staged_day_at_scale(logs: Path, samples_dir: Path, tmp_path: Path) -> None:
    from obskit import explore

    app = explore(_config(tmp_path, samples_dir, logs, stage=True, max_rows=1000), chart_backend="output",
                  flywheel_path=tmp_path / "f.parquet")
    assert app.data.requests is None and app.data.totals()[0] == 150_000
    assert "corrected_label" in app.data.columns  # feedback joined as the staged rows stream


def test_staging_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"timestamp": "2026-01-01T00:00:00Z"}\n')
    src = SourceConfig("requests", "requests", {"path": tmp_path / "a.jsonl"})
    with pytest.raises(ObskitError, match="request_id"):  # the loader's own schema error, with the file
        stage_requests(src, tmp_path / "staged")
    (tmp_path / "file").write_text("")
    with pytest.raises(ObskitError, match="staging folder"):
        stage_requests(src, tmp_path / "file" / "staged")
    with pytest.raises(ObskitError, match="only request sources"):
        stage_requests(SourceConfig("g", "nvidia_smi", {"path": tmp_path / "a.jsonl"}), tmp_path / "s")
    assert not list((tmp_path / "staged").glob("*.parquet"))  # nothing half-written


def test_files_are_staged_in_parallel_processes_with_the_same_result(logs: Path, tmp_path: Path) -> None:
    src = SourceConfig("requests", "requests", {"path": logs / "*.jsonl.gz", "columns": {
        "timestamp": "ts", "status_code": "http_status", "prediction": "pred_label"}, "status_convention": "http"})
    serial = stage_requests(src, tmp_path / "one", model="resnet50", workers=1)
    parallel = stage_requests(src, tmp_path / "two", model="resnet50", workers=2)
    assert (serial.rows, serial.rejected, serial.converted) == (parallel.rows, parallel.rejected, 24) == (
        150_000, 3, 24)
    for a, b in zip(serial.files, parallel.files, strict=True):
        assert pl.read_parquet(a).equals(pl.read_parquet(b))
    assert serial.rejected_rows().equals(parallel.rejected_rows())
    # a file the loader refuses fails the whole call, with its path, from a worker process too
    (logs.parent / "broken").mkdir(exist_ok=True)
    for i in range(2):
        (logs.parent / "broken" / f"{i}.jsonl").write_text('{"timestamp": "2026-01-01T00:00:00Z"}\n')
    bad = SourceConfig("requests", "requests", {"path": logs.parent / "broken" / "*.jsonl"})
    with pytest.raises(ObskitError, match=r"broken/[01]\.jsonl.*request_id"):
        stage_requests(bad, tmp_path / "three", workers=2)


def test_a_large_jsonl_file_is_converted_in_parts_with_the_same_rows(logs: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """One big file is never loaded whole: parts of N lines, the same rows, rejects at the file's own lines."""
    from obskit.scale import staging

    # the 10:00 file, with a feature that is null in one part only and a bad line in a later part
    lines = gzip.decompress((logs / "requests-10.jsonl.gz").read_bytes()).splitlines(keepends=True)
    good = [ln for ln in lines if ln.startswith(b'{"ts"') and b"bad-" not in ln]
    body = [*good[:3000], b"{not json\n", *good[3000:6000]]
    body = [re.sub(rb'"contrast":[^,]*,', b'"contrast":null,', ln) if i < 2000 else ln for i, ln in enumerate(body)]
    big = tmp_path / "big.jsonl.gz"
    big.write_bytes(gzip.compress(b"".join(body)))
    src = SourceConfig("requests", "requests", {"path": big, "columns": {
        "timestamp": "ts", "status_code": "http_status", "prediction": "pred_label"}, "status_convention": "http"})
    whole = stage_requests(src, tmp_path / "whole", model="resnet50")
    monkeypatch.setattr(staging, "CHUNK_BYTES", 0)
    monkeypatch.setattr(staging, "CHUNK_LINES", 1000)
    parted = stage_requests(src, tmp_path / "parts", model="resnet50")
    assert len(whole.files) == 1 and len(parted.files) == 7  # 6001 lines, one of them bad
    assert (parted.rows, parted.rejected) == (whole.rows, whole.rejected) == (6000, 1)
    a = pl.read_parquet(whole.files[0])
    b = pl.scan_parquet(list(parted.files)).collect()  # one schema over every part
    assert b.schema == a.schema and b.equals(a)
    assert parted.rejected_rows().select("source", "line").rows() == [(str(big), 3001)]
    assert whole.rejected_rows().select("line").rows() == [(3001,)]


def test_a_large_jsonl_day_is_staged_without_being_asked(logs: Path, samples_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``stage`` in the config: a source this large on disk is staged beside the config and reported at scale."""
    from obskit.load import request_source

    monkeypatch.setattr(request_source, "AUTO_STAGE_BYTES", 1)  # the sample day stands in for a big one
    cfg = _config(tmp_path, samples_dir, logs, stage=False, max_rows=1000)
    rep = open_report(str(cfg))
    assert rep.scale is not None and rep.scale.rows == 150_000
    assert (tmp_path / ".obskit" / "staged" / "requests").is_dir()
    assert rep.figures["requests"] == 150_000 and rep.session.quarantine.count == 3
    run = rep.session.alerts()
    assert run is not None and run.fired.height >= 5  # the rules on counts fire at scale too
    monkeypatch.setattr(request_source, "AUTO_STAGE_BYTES", 1 << 40)
    small = open_report(str(_config(tmp_path, samples_dir, logs, stage=False, max_rows=1000)))
    assert small.scale is None  # a day this size is loaded in memory, as before


def test_a_url_source_is_not_fetched_to_size_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from obskit.load import _sources, request_source

    def no_fetch(*_a: object, **_k: object) -> None:
        raise AssertionError("fetched")

    monkeypatch.setattr(_sources, "_fetch", no_fetch)
    assert request_source._input_bytes("https://logs.example/day.jsonl.gz") == 0


def test_a_part_of_only_bad_lines_is_counted_not_fatal(logs: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from obskit.scale import staging

    lines = gzip.decompress((logs / "requests-11.jsonl.gz").read_bytes()).splitlines(keepends=True)
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"".join([*lines[:1000], *[b"{not json\n"] * 1000, *lines[1000:2000]]))
    src = SourceConfig("requests", "requests", {"path": big, "columns": {
        "timestamp": "ts", "status_code": "http_status", "prediction": "pred_label"}, "status_convention": "http"})
    monkeypatch.setattr(staging, "CHUNK_BYTES", 0)
    monkeypatch.setattr(staging, "CHUNK_LINES", 1000)
    staged = stage_requests(src, tmp_path / "parts", model="resnet50")
    assert (staged.rows, staged.rejected, len(staged.files)) == (2000, 1000, 2)
    assert staged.rejected_rows()["line"].to_list() == list(range(1001, 2001))


def test_a_large_gzip_cut_short_is_staged_up_to_the_cut_as_the_loader_reads_it(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSONL.gz still being written (or copied half) is staged in parts up to the cut: every complete line
    kept, the line the cut falls in rejected with its line and the reason, the same as a whole-file load."""
    import json

    from obskit.load._quarantine import Quarantine
    from obskit.load.logs import load_requests
    from obskit.scale import staging

    lines = b"".join(json.dumps({"timestamp": f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "request_id": f"r{i}",
                                 "model": "m", "model_version": "1", "latency_ms": 5.0 + i % 7,
                                 "status_code": 200}).encode() + b"\n" for i in range(20_000))
    blob = gzip.compress(lines)
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(blob[: len(blob) - 700])
    monkeypatch.setattr(staging, "CHUNK_BYTES", 1000)  # this small file is cut into parts like a large one
    monkeypatch.setattr(staging, "CHUNK_LINES", 3000)
    staged = stage_requests(SourceConfig("requests", "requests", {"path": str(path)}), tmp_path / "staged", workers=1)
    q = Quarantine()
    whole = load_requests(path, quarantine=q)
    assert staged.rows == whole.height and 15_000 < staged.rows < 20_000
    got = staged.rejected_rows().select("line", "reason").rows()
    want = q.frame().select("line", "reason").rows()
    assert got == want and len(got) == 1 and got[0][0] == staged.rows + 1
    assert got[0][1].startswith("truncated gzip data") and got[0][1].endswith("the records after this line are lost")
    parts = pl.concat([pl.read_parquet(f) for f in staged.files])
    assert sorted(parts["request_id"].to_list()) == sorted(whole["request_id"].to_list())
