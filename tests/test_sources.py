"""The source registry: every loader reachable from a config, typed options, hosts, nested fields, check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import obskit.load
from obskit.check import check_sources, format_checks
from obskit.config import load_config
from obskit.errors import ConfigError
from obskit.load.registry import KINDS
from obskit.session import Session

DATA = Path(__file__).resolve().parent / "data"

# one tiny committed fixture per kind, with the options it needs
KIND_FIXTURES: dict[str, str] = {
    "requests": f'path = "{DATA}/logs/iso_offsets.jsonl"\n[sources.x.columns]\ntimestamp = "ts"\nrequest_id = "id"\n'
                'status_code = "code"\n',
    "otlp": f'path = "{DATA}/otel/spans.jsonl"\n',
    "feedback": None,  # needs requests beside it: covered by the sample day
    "reference": f'path = "{DATA}/logs/iso_offsets.parquet"\n',
    "prometheus": f'query_range = ["{DATA}/prometheus_api/matrix.json"]\nscrapes = "{DATA}/prometheus/counter.prom"\n',
    "nvidia_smi": f'path = "{DATA}/gpu/query_units.csv"\n',
    "dcgm": f'path = "{DATA}/prometheus/dcgm.prom"\n',
    "dmon": f'path = "{DATA}/gpu/dmon.txt"\nstart = "2024-01-15T10:00:00Z"\ninterval = 2\n',
    "pmon": f'path = "{DATA}/gpu/pmon_dt.txt"\n',
    "compute_apps": f'path = "{DATA}/gpu/compute_apps.csv"\n',
    "torch_trace": f'path = "{DATA}/traces/new_schema.json"\n',
}


def test_every_loader_in_obskit_load_is_reachable_from_a_config() -> None:
    loaders = {n for n in obskit.load.__all__ if n.startswith("load_")}
    assert loaders <= {k.loader for k in KINDS.values()} | {"load_prometheus_text"}
    assert "load_prometheus_text" in {k.loader for k in KINDS.values()}
    assert set(KIND_FIXTURES) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(k for k, v in KIND_FIXTURES.items() if v))
def test_each_kind_loads_from_a_config(kind: str, tmp_path: Path) -> None:
    cfg_path = tmp_path / "obskit.toml"
    cfg_path.write_text(f'[sources.x]\nkind = "{kind}"\n{KIND_FIXTURES[kind]}')
    cfg = load_config(cfg_path)
    session = Session(cfg)
    df = session.source("x")
    assert session.problems == [] and df is not None and df.height > 0, session.problems
    frame = session.frame(KINDS[kind].frame)
    assert frame is not None and frame.height == df.height
    if KINDS[kind].frame in ("gpu", "gpu_processes", "kernels"):
        assert frame["host"].unique().to_list() == ["x"]


def test_unknown_keys_and_kinds_list_what_is_allowed(tmp_path: Path) -> None:
    cfg = tmp_path / "obskit.toml"
    cfg.write_text('[sources.smi]\nkind = "dmon"\npath = "x"\ntorch_trace = "y"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'torch_trace' for kind 'dmon' \(allowed: host, interval, "):
        load_config(cfg)
    cfg.write_text('[sources.smi]\nkind = "dmonn"\npath = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown kind 'dmonn' \(kinds: compute_apps, dcgm, dmon"):
        load_config(cfg)
    cfg.write_text('[sources.logs2]\npath = "x"\n')
    with pytest.raises(ConfigError, match=r"sources\.logs2: missing .kind."):
        load_config(cfg)
    cfg.write_text('[sources.gpu]\nnvidia_smi = "a.csv"\ntorch_trace = "t.json"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'torch_trace' \(allowed: dcgm, host, nvidia_smi, timezone\)"):
        load_config(cfg)
    cfg.write_text('[sources.d]\nkind = "dmon"\npath = "x"\ninterval = -1\n')
    with pytest.raises(ConfigError, match=r"sources\.d\.interval: must be a positive"):
        load_config(cfg)
    cfg.write_text('[sources.d]\nkind = "prometheus"\n')
    with pytest.raises(ConfigError, match="missing 'query_range' or 'scrapes' or 'url'"):
        load_config(cfg)


def test_machines_stay_apart(tmp_path: Path) -> None:
    """Two nvidia-smi logs of machines whose GPUs are all index 0: two devices, not one merged."""
    src = DATA / "gpu" / "query_units.csv"
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[sources.node_a]\nkind = "nvidia_smi"\npath = "{src}"\n'
                   f'[sources.node_b]\nkind = "nvidia_smi"\npath = "{src}"\nhost = "b.example"\n')
    s = Session(load_config(cfg))
    gpu = s.gpu
    assert gpu is not None
    assert sorted(gpu["host"].unique().to_list()) == ["b.example", "node_a"]
    from obskit.analyze.gpu import gpu_stats

    stats = gpu_stats(gpu, every="1h")
    assert stats.select("host", "gpu").n_unique() == 2 * gpu.filter(pl.col("host") == "node_a")["gpu"].n_unique()


def test_dmon_sections_of_one_capture_get_their_own_times(real_dir: Path) -> None:
    from obskit.load.gpu import load_dmon, load_pmon

    capture = real_dir / "nvidia-smi" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt"
    d = load_dmon(capture)  # the capture's collected_at: is the start
    assert d["timestamp"].n_unique() == d.height == 10
    assert d["timestamp"].is_sorted()
    idle, load = d.head(5), d.tail(5)
    assert idle["utilization_pct"].max() == 0 and load["utilization_pct"].min() == 100
    assert load["timestamp"].min() > idle["timestamp"].max()
    p = load_pmon(capture)
    assert p["timestamp"].null_count() == 0


def test_pmon_without_times_is_a_clear_error() -> None:
    from obskit.errors import ParseError
    from obskit.load.gpu import load_pmon

    with pytest.raises(ParseError, match="no Date/Time columns"):
        load_pmon(DATA / "gpu" / "pmon.txt")


NESTED = [
    {"trace": {"request_id": f"r{i}", "span": "s"}, "ts": f"2026-11-22T10:{i // 60:02d}:{i % 60:02d}Z",
     "model": {"name": "m", "version": "v1"}, "timing": {"ms": 10.0 + i}, "code": 200,
     "features": {"brightness": 100.0 + i}}
    for i in range(1500)
]
NESTED[-1]["features"]["late_field"] = "seen only on the last row"  # type: ignore[index]


def _nested_config(tmp_path: Path, *, request_id: str = "trace.request_id") -> Path:
    log = tmp_path / "nested.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in NESTED) + "\n")
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(
        f'[sources.requests]\npath = "{log}"\nstatus_convention = "http"\n[sources.requests.columns]\n'
        f'request_id = "{request_id}"\ntimestamp = "ts"\nmodel = "model.name"\nmodel_version = "model.version"\n'
        'latency_ms = "timing.ms"\nstatus_code = "code"\nbrightness = "features.brightness"\n'
        'late_field = "features.late_field"\n[features]\nnumeric = ["brightness"]\ncategorical = ["late_field"]\n')
    return cfg


def test_nested_fields_by_dotted_path_and_sparse_fields_kept(tmp_path: Path) -> None:
    s = Session(load_config(_nested_config(tmp_path)))
    df = s.requests
    assert df is not None and s.problems == [], s.problems
    assert df.height == 1500 and df["request_id"][0] == "r0" and df["latency_ms"][1] == 11.0
    assert df["brightness"].max() == 100.0 + 1499
    assert df["late_field"].drop_nulls().to_list() == ["seen only on the last row"]


def test_a_wrong_nested_path_says_where_the_field_is(tmp_path: Path) -> None:
    s = Session(load_config(_nested_config(tmp_path, request_id="request_id")))
    assert s.requests is None
    (problem,) = s.problems
    assert "mapped field not found" in problem.reason and "did you mean 'trace.request_id'" in problem.reason


def test_check_reports_each_source(tmp_path: Path, samples_dir: Path) -> None:
    checks = check_sources(samples_dir / "obskit.toml")
    assert [c.name for c in checks] == ["requests", "feedback", "reference", "prometheus", "gpu"]
    assert all(c.ok for c in checks)
    text = format_checks(checks)
    assert "ok   requests (requests -> requests): 150,000 rows, 2026-11-22 00:00" in text


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace('timestamp_format = "iso8601"', 'timestamp_format = "ms"'),
         "FAIL requests (requests -> requests): no row loaded, 150,000 rejected"),
        (lambda t: t.replace('timestamp = "ts"', 'timestamp = "time"'),
         "FAIL requests (requests -> requests): "),
        (lambda t: t.replace('path = "gpu/nvidia-smi.csv"', 'path = "gpu/missing.csv"'),
         "FAIL gpu (nvidia_smi -> gpu): "),
    ],
)
def test_check_one_clear_line_per_failing_source(edit: object, needle: str, tmp_path: Path,
                                                 samples_dir: Path) -> None:
    import shutil

    day = tmp_path / "day"
    shutil.copytree(samples_dir, day)
    cfg = day / "obskit.toml"
    cfg.write_text(edit(cfg.read_text()))  # type: ignore[operator]
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "check", "--config", str(cfg), "--no-preview"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stdout, r.stdout
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_check_on_a_typo_in_a_field_name_is_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "obskit.toml"
    cfg.write_text('[sources.requests]\npath = "r.jsonl"\ntimestamp_fromat = "ms"\n')
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "check", "--config", str(cfg)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2
    assert "unknown key 'timestamp_fromat' for kind 'requests'" in r.stderr and "Traceback" not in r.stderr


def test_url_credentials_never_reach_messages(tmp_path: Path) -> None:
    cfg = tmp_path / "obskit.toml"
    cfg.write_text('[sources.requests]\npath = "http://alice:S3cretPW@127.0.0.1:9/f.jsonl"\n')
    s = Session(load_config(cfg))
    assert s.requests is None
    text = json.dumps([p.reason for p in s.problems]) + repr(load_config(cfg).requests)
    assert "S3cretPW" not in " ".join(p.reason for p in s.problems) and "S3cretPW" not in format_checks(
        check_sources(cfg))
    assert "127.0.0.1" in text


def test_check_on_nested_fields(tmp_path: Path) -> None:
    good = format_checks(check_sources(_nested_config(tmp_path)), preview=False)
    assert good.startswith("ok   requests (requests -> requests): 1,500 rows")
    assert "mapped 8/8" in good
    bad = format_checks(check_sources(_nested_config(tmp_path, request_id="rid")), preview=False)
    assert bad.startswith("FAIL requests (requests -> requests): ")
    assert "request_id (field 'rid'): mapped field not found in the log; the records have trace" in bad
