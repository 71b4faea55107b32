"""Latency units, class-probability confidences and column maps for reference/feedback sources."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from obskit.check import check_sources, format_checks
from obskit.config import load_config
from obskit.errors import ConfigError, InvalidArgument, ParseError, SchemaError
from obskit.load._quarantine import Quarantine
from obskit.load.logs import latency_unit_warning, load_feedback, load_reference, load_requests
from obskit.load.registry import KINDS
from obskit.report import health
from obskit.report.section import open_report
from obskit.sample import generate
from obskit.session import Session


def _log(rows: list[dict[str, Any]]) -> io.BytesIO:
    base = {"model": "m", "model_version": "1", "status": 200}
    lines = [json.dumps({"timestamp": f"2026-01-01T00:00:{i:02d}Z", "request_id": str(i), **base, **r})
             for i, r in enumerate(rows)]
    return io.BytesIO("\n".join(lines).encode())


# ------------------------------------------------------------------ latency_unit

@pytest.mark.parametrize(("unit", "raw", "ms"), [("s", 0.012, 12.0), ("ms", 12.0, 12.0), ("us", 12_000, 12.0),
                                                  ("ns", 12_000_000, 12.0)])
def test_latency_unit_converts_to_ms(unit: str, raw: float, ms: float) -> None:
    df = load_requests(_log([{"latency": raw}]), format="jsonl", columns={"latency_ms": "latency"},
                       latency_unit=unit, quarantine=Quarantine())
    assert df["latency_ms"].to_list() == [pytest.approx(ms, rel=1e-12)]


def test_latency_unit_keeps_the_rejection_rules() -> None:
    q = Quarantine()
    df = load_requests(_log([{"latency_ms": 0.5}, {"latency_ms": -0.1}, {"latency_ms": "NaN"}]), format="jsonl",
                       latency_unit="s", quarantine=q)
    assert df["latency_ms"].to_list() == [500.0]
    assert sorted(q.frame()["reason"].to_list()) == ["latency_ms: negative",
                                                     "latency_ms: not a finite number (NaN or infinity)"]


def test_an_unknown_latency_unit_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="latency_unit"):
        load_requests(_log([{"latency_ms": 1}]), format="jsonl", latency_unit="min")


@pytest.mark.parametrize(("median", "unit", "likely"), [(0.012, "ms", "s"), (2.5e8, "ms", "ns"), (2.5e6, "ms", "us"),
                                                        (0.05, "us", "ms")])
def test_an_implausible_median_names_the_likely_unit(median: float, unit: str, likely: str) -> None:
    why = latency_unit_warning(pl.Series([median] * 30), unit, key="sources.requests.latency_unit")
    assert why is not None and why.endswith(f'set sources.requests.latency_unit = "{likely}"')


def test_the_exact_warning_and_what_passes() -> None:
    assert latency_unit_warning(pl.Series([0.012] * 30), key="sources.requests.latency_unit") == (
        "median latency 0.012 ms is implausible for milliseconds; the log is probably in seconds: "
        'set sources.requests.latency_unit = "s"')
    assert latency_unit_warning(pl.Series([0.5, 12.0, 900_000.0] * 10)) is None  # plausible medians
    assert latency_unit_warning(pl.Series([0.012] * 19)) is None  # too few to judge
    assert latency_unit_warning(pl.Series([0.0] * 30)) == (
        "median latency 0 ms is implausible for milliseconds; check the latency field and latency_unit")


def test_the_latency_options_are_declared_and_checked(tmp_path: Path) -> None:
    described = KINDS["requests"].describe()
    assert "latency_unit (str [s, ms, us, ns], default 'ms')" in described
    assert "class_names (strs)" in described
    cfg = tmp_path / "obskit.toml"
    cfg.write_text('[sources.requests]\npath = "r.jsonl"\nlatency_unit = "sec"\n')
    with pytest.raises(ConfigError, match=r"sources\.requests\.latency_unit: unknown latency_unit 'sec'"):
        load_config(cfg)
    cfg.write_text('[sources.requests]\npath = "r.jsonl"\nclass_names = ["cat", "cat"]\n')
    with pytest.raises(ConfigError, match=r"sources\.requests\.class_names: 'cat' is listed twice"):
        load_config(cfg)
    cfg.write_text('[sources.requests]\npath = "r.jsonl"\nclass_names = "cat"\n')
    with pytest.raises(ConfigError, match="expected a non-empty list"):
        load_config(cfg)


# ------------------------------------------------------------------ the warning reaches check and summary.json

@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=2000, seed=1, reference_rows=500)
    return out


def _wrong_unit(day: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "day"
    shutil.copytree(day, dest)
    cfg = dest / "obskit.toml"
    # the sample logs milliseconds; declaring microseconds makes its median ~0.05 "ms"
    cfg.write_text(cfg.read_text().replace('status_convention = "http"',
                                           'status_convention = "http"\nlatency_unit = "us"'))
    return cfg


def test_a_wrong_unit_warns_in_obskit_check(day: Path, tmp_path: Path) -> None:
    cfg = _wrong_unit(day, tmp_path)
    checks = {c.name: c for c in check_sources(cfg)}
    req = checks["requests"]
    assert req.ok and len(req.warnings) == 1
    assert req.warnings[0].endswith('the log is probably in milliseconds: set sources.requests.latency_unit = "ms"')
    text = format_checks(list(checks.values()), preview=False)
    assert text.splitlines()[0].startswith("warn requests (requests -> requests)")
    assert f"       warning: {req.warnings[0]}" in text
    assert not checks["feedback"].warnings


def test_a_wrong_unit_degrades_the_run_and_is_a_problem(day: Path, tmp_path: Path) -> None:
    cfg = _wrong_unit(day, tmp_path)
    out = tmp_path / "out"
    rep = open_report(str(cfg), output_dir=str(out))
    health.summary(rep)
    health.latency(rep)
    rep.finish()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "degraded"
    [problem] = [p for p in summary["problems"] if "latency_unit" in p["reason"]]
    assert problem["source"] == "requests"
    assert problem["reason"].startswith("median latency ")
    assert problem["reason"].endswith('set sources.requests.latency_unit = "ms"')
    assert any(str(r).startswith("requests: median latency ") for r in summary["reasons"])
    assert "latency_unit" in rep.session.problems_html()


def test_the_right_unit_is_not_a_problem(day: Path) -> None:
    s = Session.open(day / "obskit.toml")
    s.load_all()
    assert not [p for p in s.problems if "latency" in p.reason]


# ------------------------------------------------------------------ class probabilities

PROBS = [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [0.2, 0.2, float("nan")], [0.5, 0.6, 0.1], [1, 0, 0],
         [0.2, 0.3, 0.3, 0.2], [], None, [0.4, 0.4, 0.2], [0.5, -0.1, 0.6]]


def _probs(**kw: Any) -> tuple[pl.DataFrame, Quarantine]:
    q = Quarantine()
    df = load_requests(_log([{"latency_ms": 5, "probs": p} for p in PROBS]), format="jsonl",
                       columns={"confidence": "probs", **kw.pop("columns", {})}, quarantine=q, **kw)
    return df, q


def test_probabilities_give_confidence_and_class_name() -> None:
    df, q = _probs(class_names=["cat", "dog", "bird"])
    assert df.select("request_id", "confidence", "prediction").rows() == [
        ("0", 0.7, "dog"), ("1", 0.5, "cat"), ("4", 1.0, "cat"), ("7", None, None), ("8", 0.4, "cat")]
    assert df.schema["confidence"] == pl.Float64
    assert dict(q.frame().select("line", "reason").iter_rows()) == {
        3: "confidence: a class probability is not a finite number in [0, 1]",
        4: "confidence: class probabilities do not sum to 1 (±0.05)",
        6: "confidence: not one probability per class_names entry (3)",
        7: "confidence: an empty list of class probabilities",
        10: "confidence: a class probability is not a finite number in [0, 1]",
    }


def test_probabilities_without_class_names_predict_the_index() -> None:
    df, q = _probs()
    assert df.select("request_id", "confidence", "prediction").rows() == [
        ("0", 0.7, "1"), ("1", 0.5, "0"), ("4", 1.0, "0"), ("5", 0.3, "1"), ("7", None, None), ("8", 0.4, "0")]
    assert q.count == 4


def test_a_mapped_prediction_wins_over_the_argmax() -> None:
    log = _log([{"latency_ms": 5, "probs": [0.1, 0.9], "label_out": "yes"}] * 1)
    df = load_requests(log, format="jsonl", columns={"confidence": "probs", "prediction": "label_out"},
                       class_names=["no", "maybe"], quarantine=Quarantine())
    assert df.select("confidence", "prediction").row(0) == (0.9, "yes")


def test_probabilities_from_parquet_lists_and_strict_mode(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pl.DataFrame({"timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"], "request_id": ["a", "b"],
                  "model": "m", "model_version": "1", "latency_ms": [3.0, 4.0], "status": [200, 200],
                  "confidence": [[0.25, 0.75], [0.6, 0.4]]},
                 schema_overrides={"confidence": pl.List(pl.Float32)}).write_parquet(path)
    df = load_requests(path, class_names=["cat", "dog"], quarantine=Quarantine())
    assert df["prediction"].to_list() == ["dog", "cat"] and df["confidence"].to_list() == [0.75, 0.6000000238418579]
    bad = _log([{"latency_ms": 5, "probs": [2.0, 0.0]}])
    with pytest.raises(ParseError, match=r"not a finite number in \[0, 1\]"):
        load_requests(bad, format="jsonl", columns={"confidence": "probs"}, strict=True)


def test_class_names_in_the_config_reach_the_loader(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_bytes(_log([{"latency": 0.02, "probs": [0.3, 0.7]}]).getvalue())
    (tmp_path / "obskit.toml").write_text(
        '[sources.requests]\npath = "r.jsonl"\nlatency_unit = "s"\nclass_names = ["cat", "dog"]\n'
        '[sources.requests.columns]\nlatency_ms = "latency"\nconfidence = "probs"\n')
    df = Session.open(tmp_path / "obskit.toml").requests
    assert df is not None and df.select("latency_ms", "confidence", "prediction").row(0) == (20.0, 0.7, "dog")


# ------------------------------------------------------------------ reference and feedback column maps

def test_reference_columns_are_renamed_to_feature_names(tmp_path: Path) -> None:
    pl.DataFrame({"img": [{"bright": 0.4}, {"bright": 0.6}], "y_hat": ["cat", "dog"], "other": [1, 2]}).write_parquet(
        tmp_path / "ref.parquet")
    (tmp_path / "obskit.toml").write_text(
        '[features]\nnumeric = ["brightness"]\n[sources.reference]\npath = "ref.parquet"\n'
        '[sources.reference.columns]\nbrightness = "img.bright"\nprediction = "y_hat"\n')
    ref = Session.open(tmp_path / "obskit.toml").reference
    assert ref is not None and ref.columns == ["img", "other", "brightness", "prediction"]
    assert ref["brightness"].to_list() == [0.4, 0.6] and ref["prediction"].to_list() == ["cat", "dog"]


def test_a_reference_map_key_must_name_a_feature(tmp_path: Path) -> None:
    (tmp_path / "obskit.toml").write_text(
        '[features]\nnumeric = ["brightness"]\n[sources.reference]\npath = "ref.parquet"\n'
        '[sources.reference.columns]\nbrigthness = "b"\n')
    with pytest.raises(ConfigError, match=r"sources\.reference\.columns\.brigthness: not a canonical column"):
        load_config(tmp_path / "obskit.toml")


def test_a_missing_mapped_reference_field_names_it() -> None:
    with pytest.raises(SchemaError, match=r"brightness \(field 'bright'\): mapped field not found"):
        load_reference(io.BytesIO(b'{"brigt": 1}\n'), format="jsonl", columns={"brightness": "bright"})


def test_feedback_columns_are_mapped(tmp_path: Path) -> None:
    fb = io.BytesIO(b'{"rid": "a", "fix": "dog", "when": "2026-01-01T00:00:00Z"}\n')
    df = load_feedback(fb, columns={"request_id": "rid", "corrected_label": "fix", "corrected_at": "when"})
    assert df.rows() == [("a", "dog", df["corrected_at"][0])] and df["corrected_at"][0].year == 2026
    with pytest.raises(SchemaError, match=r"corrected_label \(field 'fixed'\): mapped field not found"):
        load_feedback(io.BytesIO(b'{"rid": "a", "fix": "dog", "when": "2026-01-01T00:00:00Z"}\n'),
                      columns={"request_id": "rid", "corrected_label": "fixed", "corrected_at": "when"})
    assert "request_id, corrected_label, corrected_at = field" in KINDS["feedback"].describe()
    assert "columns (table)" in KINDS["reference"].describe()


# ------------------------------------------------------------------ epoch timestamps without a unit

_INSTANT = 1_773_100_800  # 2026-03-10T00:00:00Z
_EPOCHS = {"s": _INSTANT, "ms": _INSTANT * 1000 + 123, "us": _INSTANT * 10**6 + 123_456,
           "ns": _INSTANT * 10**9 + 123_456_000}


def _epoch_log(unit: str, fmt: str, as_text: bool) -> bytes:
    rows = []
    for i in range(20):
        t = _EPOCHS[unit] + i * {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[unit]
        value: object = str(t) if as_text else t
        rows.append({"time": value, "request_id": str(i), "model": "m", "model_version": "1",
                     "latency_ms": 5.0, "status": 200})
    if fmt == "jsonl":
        return "\n".join(json.dumps(r) for r in rows).encode()
    return ("time,request_id,model,model_version,latency_ms,status\n" + "".join(
        f"{r['time']},{r['request_id']},m,1,5.0,200\n" for r in rows)).encode()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("as_text", [False, True], ids=["number", "digits-as-text"])
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_timestamps_load_without_naming_their_unit(unit: str, as_text: bool, fmt: str) -> None:
    """Epoch seconds, ms, us or ns under the default format: each value's magnitude says its unit
    (their 1990–2200 spans do not overlap), so no row is 'cannot parse' and the instants are exact."""
    q = Quarantine()
    df = load_requests(io.BytesIO(_epoch_log(unit, fmt, as_text)), format=fmt, columns={"timestamp": "time"},
                       quarantine=q)
    assert q.count == 0 and df.height == 20
    first = df["timestamp"].min()
    assert first is not None and first.isoformat().startswith("2026-03-10T00:00:00")
    frac = {"s": 0, "ms": 123_000, "us": 123_456, "ns": 123_456}[unit]
    assert first.microsecond == frac
    named = load_requests(io.BytesIO(_epoch_log(unit, fmt, as_text)), format=fmt, columns={"timestamp": "time"},
                          timestamp_format=unit)
    assert named["timestamp"].equals(df["timestamp"])  # the unit named in the config agrees
