"""nvidia-smi query CSV, dmon, pmon and compute-apps loaders: one fixture per quirk."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.errors import ConfigError, ParseError, SourceError
from obskit.load._quarantine import Quarantine, RejectedRecordsWarning
from obskit.load.gpu import (
    load_compute_apps,
    load_dmon,
    load_nvidia_smi,
    load_pmon,
    split_capture_sections,
)
from obskit.schemas import check


@pytest.fixture(scope="module")
def gpu_dir(data_dir: Path) -> Path:
    return data_dir / "gpu"


def _gpu(frame: pl.DataFrame) -> pl.DataFrame:
    return check(frame, "gpu")


EXPECTED_ROW0 = {
    "gpu": 0,
    "name": "NVIDIA H100 80GB HBM3",
    "uuid": "GPU-0000aaaa",
    "utilization_pct": 38.0,
    "memory_utilization_pct": 12.0,
    "memory_used_mib": 575.0,
    "memory_total_mib": 81559.0,
    "power_w": 70.12,
    "power_limit_w": 700.0,
    "temperature_c": 41.0,
    "sm_clock_mhz": 1980.0,
    "mem_clock_mhz": 2619.0,
}


@pytest.mark.parametrize(
    "fixture",
    ["query_units.csv", "query_nounits.csv", "query_utf16.csv", "query_units.csv.gz"],
)
def test_units_in_header_values_or_nounits(gpu_dir: Path, fixture: str) -> None:
    df = _gpu(load_nvidia_smi(gpu_dir / fixture))
    assert df.height == 2
    row = df.row(0, named=True)
    assert row["timestamp"] == datetime(2024, 1, 15, 10, 0, 0, 100000, tzinfo=UTC)
    for key, value in EXPECTED_ROW0.items():
        assert row[key] == value, key
    assert df["gpu"].to_list() == [0, 1]


def test_units_only_in_values_are_converted(gpu_dir: Path) -> None:
    row = _gpu(load_nvidia_smi(gpu_dir / "query_units_in_values.csv")).row(0, named=True)
    assert row["memory_total_mib"] == pytest.approx(79.6 * 1024)  # GiB -> MiB
    assert row["sm_clock_mhz"] == pytest.approx(1980.0)  # GHz -> MHz
    assert row["utilization_pct"] == 38.0


def test_not_available_values_are_null(gpu_dir: Path) -> None:
    row = _gpu(load_nvidia_smi(gpu_dir / "query_not_available.csv")).row(0, named=True)
    assert row["utilization_pct"] is None  # [N/A]
    assert row["power_w"] is None  # [Not Supported] (power.draw.average)
    assert row["power_limit_w"] is None  # [Requested functionality has been deprecated]
    assert row["temperature_c"] is None  # [Unknown Error]
    assert row["sm_clock_mhz"] is None  # N/A
    assert row["memory_used_mib"] == 59.0
    assert row["gpu"] == 0  # no index: numbered by pci.bus_id


def test_repeated_headers_and_field_variants(gpu_dir: Path) -> None:
    df = _gpu(load_nvidia_smi(gpu_dir / "query_repeated_header.csv"))
    assert df.height == 4
    assert df["power_w"].to_list() == [30.0, 31.0, 300.0, 120.5]  # last: power.draw.average
    assert df["name"].to_list() == ["NVIDIA L40S"] * 3 + [None]  # last run did not query it


@pytest.mark.parametrize(
    ("tz", "summer_utc_hour", "winter_utc_hour"),
    [("UTC", 12, 12), ("Europe/Berlin", 10, 11), ("America/New_York", 16, 17)],
)
def test_local_timestamps_to_utc(
    gpu_dir: Path, tz: str, summer_utc_hour: int, winter_utc_hour: int
) -> None:
    df = _gpu(load_nvidia_smi(gpu_dir / "query_local_time.csv", timezone=tz))
    summer, winter = df["timestamp"].to_list()
    assert (summer.hour, winter.hour) == (summer_utc_hour, winter_utc_hour)
    assert summer.microsecond == 250000
    assert df["timestamp"].dtype == pl.Datetime("us", "UTC")


def test_unknown_timezone(gpu_dir: Path) -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        load_nvidia_smi(gpu_dir / "query_local_time.csv", timezone="Mars/Olympus")


def test_missing_index_uses_bus_id_then_row_order(gpu_dir: Path) -> None:
    by_bus = _gpu(load_nvidia_smi(gpu_dir / "query_no_index.csv"))
    assert by_bus["gpu"].to_list() == [1, 0, 1, 0]  # 41:00.0 sorts after 01:00.0
    assert by_bus.filter(pl.col("gpu") == 0)["utilization_pct"].to_list() == [10.0, 11.0]
    by_row = _gpu(load_nvidia_smi(gpu_dir / "query_no_index_no_bus.csv"))
    assert by_row["gpu"].to_list() == [0, 1, 0, 1]


def test_unknown_unit_in_value(gpu_dir: Path) -> None:
    path = gpu_dir / "query_unknown_unit_value.csv"
    with pytest.raises(ParseError, match="unknown unit 'GB'") as info:
        load_nvidia_smi(path, strict=True)
    err = info.value
    assert (err.path, err.line, err.column) == (str(path), 3, "memory.used")
    q = Quarantine()
    df = _gpu(load_nvidia_smi(path, quarantine=q))
    assert df["memory_used_mib"].to_list() == [1.0, 3.0]
    bad = q.frame().row(0, named=True)
    assert bad["line"] == 3 and "memory.used" in bad["reason"] and "2 GB" in bad["raw"]
    assert q.stats.rows == 2 and q.stats.rejected == 1


def test_unknown_unit_in_header(gpu_dir: Path) -> None:
    path = gpu_dir / "query_unknown_unit_header.csv"
    with pytest.raises(ParseError, match="unknown unit 'MB/s'") as info:
        load_nvidia_smi(path, strict=True)
    assert (info.value.line, info.value.column) == (1, "memory.used")
    q = Quarantine()
    df = _gpu(load_nvidia_smi(path, quarantine=q))
    assert df["memory_used_mib"].to_list() == [None]  # the column is unusable, rows are kept
    assert df["memory_total_mib"].to_list() == [8192.0]
    assert q.count == 1 and q.frame()["line"][0] == 1


def test_empty_file(gpu_dir: Path) -> None:
    with pytest.raises(SourceError, match="empty file"):
        load_nvidia_smi(gpu_dir / "empty.csv")


def test_truncated_row(gpu_dir: Path) -> None:
    path = gpu_dir / "query_truncated.csv"
    with pytest.warns(RejectedRecordsWarning, match="1 records rejected"):
        df = _gpu(load_nvidia_smi(path))
    assert df.height == 1
    with pytest.raises(ParseError, match="truncated") as info:
        load_nvidia_smi(path, strict=True)
    assert info.value.line == 3


def test_noheader_needs_fields() -> None:
    data = b"2024/01/15 10:00:00.000, 0, 5 %, 10 MiB, 100 MiB\n"
    with pytest.raises(ParseError, match="noheader"):
        load_nvidia_smi(io.BytesIO(data))
    fields = ["timestamp", "index", "utilization.gpu", "memory.used", "memory.total"]
    df = _gpu(load_nvidia_smi(io.BytesIO(data), fields=fields))
    assert df.select("utilization_pct", "memory_total_mib").row(0) == (5.0, 100.0)


def test_snapshot_without_timestamp_field() -> None:
    data = b"index, memory.used [MiB]\n0, 12 MiB\n"
    with pytest.raises(ParseError, match="no 'timestamp' field"):
        load_nvidia_smi(io.BytesIO(data))
    when = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    df = _gpu(load_nvidia_smi(io.BytesIO(data), timestamp=when))
    assert df.select("timestamp", "memory_used_mib").row(0) == (when, 12.0)


def test_keep_extra_columns(gpu_dir: Path) -> None:
    data = b"timestamp, index, fan.speed [%], pstate\n2024/01/15 10:00:00.000, 0, 30 %, P0\n"
    assert "pstate" not in load_nvidia_smi(io.BytesIO(data)).columns
    df = _gpu(load_nvidia_smi(io.BytesIO(data), keep_extra=True))
    assert df.select("fan.speed", "pstate").row(0) == ("30 %", "P0")


# --- dmon / pmon / compute-apps ------------------------------------------------------


def test_dmon_without_dt_needs_start(gpu_dir: Path) -> None:
    with pytest.raises(ParseError, match="-o DT"):
        load_dmon(gpu_dir / "dmon.txt")
    start = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    df = _gpu(load_dmon(gpu_dir / "dmon.txt", start=start, interval=5))
    assert df["gpu"].to_list() == [0, 1, 0, 1]
    assert df["timestamp"].to_list() == [
        start,
        start,
        start.replace(second=5),
        start.replace(second=5),
    ]
    row = df.row(1, named=True)
    assert row["utilization_pct"] is None and row["power_w"] == 70.0  # '-' -> null
    assert df["sm_clock_mhz"].to_list() == [345.0, 345.0, 1980.0, 1980.0]
    assert df["memory_total_mib"].null_count() == 4


def test_dmon_with_date_time(gpu_dir: Path) -> None:
    q = Quarantine()
    df = _gpu(load_dmon(gpu_dir / "dmon_dt.txt", timezone="Asia/Shanghai", quarantine=q))
    assert df.height == 3  # repeated header skipped; the truncated last row quarantined
    assert df["timestamp"][0] == datetime(2024, 1, 4, 5, 54, 35, tzinfo=UTC)
    assert df["memory_used_mib"].to_list() == [239.0, 74.0, 7.0]  # fb "MB"
    assert df["mem_clock_mhz"].to_list() == [6250.0] * 3
    assert q.count == 1 and q.frame()["line"][0] == 9


def test_dmon_time_only_rolls_over_midnight() -> None:
    text = b"#Time        gpu    pwr\n#HH:MM:SS    Idx      W\n23:59:59  0  50\n00:00:00  0  51\n"
    df = _gpu(load_dmon(io.BytesIO(text), start=datetime(2024, 1, 15, 23, 59, 59)))
    assert [t.day for t in df["timestamp"]] == [15, 16]


def test_pmon(gpu_dir: Path) -> None:
    with pytest.raises(ParseError, match="no Date/Time columns"):
        load_pmon(gpu_dir / "pmon.txt")  # sample times unknown: a clear error, not null timestamps
    df = check(load_pmon(gpu_dir / "pmon.txt", start=datetime(2024, 1, 15, tzinfo=UTC)), "gpu_processes")
    assert df["pid"].to_list() == [11327, 11345, 17648]  # '-' rows (no process) skipped
    assert df["process_name"].to_list() == ["memhog", "gpu_burn", "NVIDIA Overlay."]
    assert df["process_type"].to_list() == ["C", "C", "C+G"]
    assert df.row(1, named=True)["sm_pct"] == 99.0
    assert df["timestamp"].null_count() == 0


def test_pmon_with_date_time_and_memory(gpu_dir: Path) -> None:
    df = check(load_pmon(gpu_dir / "pmon_dt.txt"), "gpu_processes")
    assert df["timestamp"].to_list() == [
        datetime(2024, 1, 4, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 1, 5, 0, 0, 0, tzinfo=UTC),
    ]
    assert df["used_memory_mib"].to_list() == [1542.0, 1542.0]
    assert df["mem_pct"].to_list() == [7.0, 8.0]


def test_compute_apps(gpu_dir: Path) -> None:
    df = check(load_compute_apps(gpu_dir / "compute_apps.csv"), "gpu_processes")
    assert df["pid"].to_list() == [11327, 11345]
    assert df["process_name"][1] == r"C:\Program Files\My, Odd App\app.exe"  # comma in a name
    assert df["used_memory_mib"].to_list() == [2566.0, None]
    assert df["gpu"].null_count() == 2  # the query has no GPU index...
    mapped = load_compute_apps(
        gpu_dir / "compute_apps.csv", gpus={"00000000:41:00.0": 1, "GPU-0000aaaa": 0}
    )
    assert mapped["gpu"].to_list() == [0, 1]  # ...unless told (uuid or bus id)
    gpus = load_nvidia_smi(gpu_dir / "query_units.csv")
    assert load_compute_apps(gpu_dir / "compute_apps.csv", gpus=gpus)["gpu"].to_list() == [0, 1]


def test_non_utf8_and_crlf(gpu_dir: Path) -> None:
    df = check(load_compute_apps(gpu_dir / "compute_apps_latin1_crlf.csv"), "gpu_processes")
    assert df["process_name"][0] == "C:\\Users\\Ren\ufffd\\caf\ufffd.exe"
    assert df["used_memory_mib"][0] == 12.0


def test_wrong_loader_for_file(gpu_dir: Path) -> None:
    with pytest.raises(ParseError, match="no 'pid' field"):
        load_compute_apps(gpu_dir / "query_units.csv")
    with pytest.raises(ParseError, match="dmon' header"):
        load_dmon(gpu_dir / "query_units.csv")


def test_capture_sections(gpu_dir: Path) -> None:
    path = gpu_dir / "capture.txt"
    sections = split_capture_sections(path)
    assert [(s.phase, s.kind) for s in sections] == [
        ("idle", "query-gpu"),
        ("idle", "query-compute-apps"),
        ("load", "dmon"),
        ("load", "pmon"),
    ]
    assert sections[2].command == "nvidia-smi dmon -c 2"
    assert sections[0].lines[0][0] == 11  # line numbers count in the whole file
    assert _gpu(load_nvidia_smi(path))["memory_total_mib"].to_list() == [81559.0]
    assert load_compute_apps(path).height == 0  # header only: nothing ran
    assert _gpu(load_dmon(path, start=datetime(2024, 1, 15, tzinfo=UTC))).height == 2
    assert load_pmon(path)["process_name"].to_list() == ["gpu_burn"]


# --- real captures -------------------------------------------------------------------

TOTAL_MIB = {
    "nvidia-h100-80gb-hbm3": 81559.0,
    "nvidia-h100-mig": 81559.0,
    "nvidia-h200": 143771.0,
    "nvidia-h200-mig": 143771.0,
    "nvidia-l40s": 46068.0,
    "nvidia-geforce-rtx-2080-super": 8192.0,
    "nvidia-geforce-rtx-4080-super": 16376.0,
}


def _captures(real_dir: Path) -> list[Path]:
    return sorted((real_dir / "nvidia-smi").glob("*__*.txt"))


def _model(path: Path) -> str:
    return path.name.split("__")[1]


def test_real_capture_query_gpu(real_dir: Path) -> None:
    paths = _captures(real_dir)
    assert len(paths) == 10
    for path in paths:
        q = Quarantine()
        df = _gpu(load_nvidia_smi(path, strict=True, quarantine=q))
        assert df.height == 2, path.name  # idle + load
        assert df["memory_total_mib"].to_list() == [TOTAL_MIB[_model(path)]] * 2
        assert df["gpu"].to_list() == [0, 0]
        assert df["power_w"].min() > 0 and df["power_limit_w"].min() >= 250  # type: ignore[operator]
        util = df["utilization_pct"].drop_nulls()
        assert util.is_between(0, 100).all()
        if "mig" in path.name:
            assert util.len() == 0  # MIG mode: utilization is [N/A]
        else:
            assert util[1] > 0  # the load phase is busy
        assert df["timestamp"][1] > df["timestamp"][0]


def test_real_capture_dmon_pmon_apps(real_dir: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for path in _captures(real_dir):
        head = path.read_text(errors="replace")[:2000]
        if "collected_at:" in head:  # the capture's own time is the start of its first section
            stamped = load_dmon(path)
            collected = head.split("collected_at:", 1)[1].split()[0].replace("Z", "+00:00")
            assert stamped["timestamp"].min() == datetime.fromisoformat(collected), path.name
            assert stamped["timestamp"].n_unique() == stamped.height, path.name  # sections don't collide
        else:
            with pytest.raises(ParseError, match="-o DT"):
                load_dmon(path)
        dmon = _gpu(load_dmon(path, start=start, strict=True))
        assert dmon.height == 10, path.name  # 5 idle + 5 load samples
        assert dmon["power_w"].is_between(1, 1000).all()
        assert dmon["temperature_c"].is_between(10, 100).all()
        pmon = check(load_pmon(path, start=start, strict=True), "gpu_processes")
        assert pmon["pid"].min() > 0  # type: ignore[operator]
        assert pmon["sm_pct"].drop_nulls().is_between(0, 100).all()
        gpus = load_nvidia_smi(path)
        apps = check(load_compute_apps(path, strict=True, gpus=gpus), "gpu_processes")
        assert apps.height >= 2
        assert apps["gpu"].to_list() == [0] * apps.height
    h100 = _captures(real_dir)[3]
    assert "h100-80gb" in h100.name
    apps = load_compute_apps(h100)
    assert sorted(apps["process_name"]) == [
        "./gpu_burn",
        "/root/tools/memhog",
        "/root/tools/memhog",
    ]
    assert apps["used_memory_mib"].sum() == 2566 + 1542 + 15690
    assert "gpu_burn" in load_pmon(h100)["process_name"].to_list()


def test_real_small_files(real_dir: Path) -> None:
    base = real_dir / "nvidia-smi"
    with pytest.raises(ParseError, match="no 'timestamp' field"):
        load_nvidia_smi(base / "query.txt")
    when = datetime(2024, 1, 1, tzinfo=UTC)
    df = _gpu(load_nvidia_smi(base / "query.txt", timestamp=when))
    assert df.select("gpu", "name", "memory_used_mib").rows() == [
        (0, "NVIDIA GeForce RTX 2080 SUPER", 575.0),
        (1, "Some Other GPU", 1234.0),
    ]
    for name in ("colliding-returned-fields", "empty-returned-field"):
        for loader in (load_nvidia_smi, load_compute_apps, load_pmon):
            with pytest.raises(ParseError, match="Go fuzz-corpus entry"):
                loader(base / name)


def test_real_folder_reports_the_bad_file(real_dir: Path) -> None:
    with pytest.raises(ParseError, match=r"query\.txt"):
        load_nvidia_smi(real_dir / "nvidia-smi")


# ---------------------------------------- a block's columns converted at once equal its rows one by one

_CELLS = {
    "timestamp": st.one_of(st.sampled_from(["2024/03/31 01:59:30.500", "2024/03/31 02:30:00", "2024/10/27 02:30:00.1",
                                            "2024/02/30 10:00:00", "1980/01/01 00:00:00", "[N/A]", "2024-01-15 10:00",
                                            "2024/01/15 10:00:00.1234567"]),
                           st.datetimes(datetime(2024, 1, 1), datetime(2024, 12, 31)).map(
                               lambda d: d.strftime("%Y/%m/%d %H:%M:%S.%f")[:23])),
    "index": st.one_of(st.integers(0, 7).map(str), st.sampled_from(["01", "0x1", "-1", "[N/A]", "", "4294967296"])),
    "utilization.gpu [%]": st.one_of(st.integers(0, 100).map(lambda v: f"{v} %"),
                                     st.sampled_from(["101 %", "55", "1e1 %", "-5 %", "[Not Supported]", "N/A",
                                                      "nan %", "12.5 %", "7 MiB"])),
    "memory.used [MiB]": st.one_of(st.integers(0, 90_000).map(lambda v: f"{v} MiB"),
                                   st.sampled_from(["1 GiB", "[N/A]", "81000 MiB", "3.5 MiB"])),
    "memory.total [MiB]": st.sampled_from(["81920 MiB", "81920 MiB", "80000 MiB", "[N/A]"]),
    "power.draw [W]": st.one_of(st.floats(0, 700).map(lambda v: f"{v:.2f} W"), st.sampled_from(["[N/A]", "5000 W"])),
    "name": st.sampled_from(["NVIDIA H100 80GB HBM3", "Tesla T4", "[N/A]", "A100, SXM4"]),
}


_ORDINARY = {
    "timestamp": st.datetimes(datetime(2024, 1, 1), datetime(2024, 12, 31)).map(
        lambda d: d.strftime("%Y/%m/%d %H:%M:%S.%f")[:23]),
    "index": st.integers(0, 7).map(str),
    "utilization.gpu [%]": st.one_of(st.integers(0, 100).map(lambda v: f"{v} %"), st.just("[N/A]")),
    "memory.used [MiB]": st.integers(0, 90_000).map(lambda v: f"{v} MiB"),  # above the total: rejected
    "memory.total [MiB]": st.just("81920 MiB"),
    "power.draw [W]": st.floats(0, 700).map(lambda v: f"{v:.2f} W"),
    "name": st.sampled_from(["NVIDIA H100 80GB HBM3", "Tesla T4"]),
}


@settings(max_examples=60, deadline=None)
@given(rows=st.one_of(st.lists(st.fixed_dictionaries(_ORDINARY), min_size=1, max_size=12),
                      st.lists(st.fixed_dictionaries(_CELLS), min_size=1, max_size=12)),
       zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]))
def test_a_block_read_at_once_equals_its_rows_one_by_one(rows: list[dict[str, str]], zone: str) -> None:
    """Every row read row by row, then again with the columns converted at once: the same frame and rejects."""
    import obskit.load.gpu._csv as gpu_csv

    text = ", ".join(_CELLS) + "\n" + "".join(", ".join(r[k] for k in _CELLS) + "\n" for r in rows)

    def read(bulk_rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        q = Quarantine()
        with pytest.MonkeyPatch.context() as m:
            m.setattr(gpu_csv, "BULK_ROWS", bulk_rows)
            frame = load_nvidia_smi(io.BytesIO(text.encode()), timezone=zone, quarantine=q)
        return frame, q.frame()

    (bulk, bulk_rejects), (one, one_rejects) = read(1), read(10**9)
    assert bulk.equals(one, null_equal=True)
    assert bulk_rejects.equals(one_rejects)
