"""Every page tells the truth: one drift verdict, sample sizes honest, missing values seen, no false "ok".

In-process (no papermill): the section functions on small generated days.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from obskit.analyze.drift import RESULT_SCHEMA, column_drift
from obskit.analyze.drift_verdict import drift_verdict, missing_shares
from obskit.report import drift, health
from obskit.report.section import open_report
from obskit.sample import generate


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=8_000, seed=21, reference_rows=4_000)
    return out


def _copy(day: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "day"
    shutil.copytree(day, dest)
    return dest / "obskit.toml"


def _result(**row: object) -> pl.DataFrame:
    base = {"column": "x", "kind": "numeric", "method": "ks", "is_pvalue": True, "statistic": 0.01,
            "threshold": 0.05, "drifted": False, "n_reference": 5000, "n_current": 5000, "effect_size": 0.01,
            "effect_ci_low": 0.0, "effect_ci_high": 0.02, "effect_name": "wasserstein_normed",
            "p_value_adjusted": 0.02, "obskit_drifted": False}
    base.update(row)
    return pl.DataFrame([base], schema=RESULT_SCHEMA)


# ----------------------------------------------------------------------------- one verdict


def test_when_the_methods_disagree_the_verdict_says_which_to_act_on() -> None:
    v = drift_verdict(_result(drifted=True, statistic=0.01))  # Evidently's test fires, the effect is immaterial
    assert v.status == "ok" and v.drifted == () and v.detectable == ("x",)
    assert v.sentence.startswith("No material drift. x: a statistically detectable shift too small to matter")
    assert "watch, do not act" in v.sentence
    assert v.table["verdict"].to_list() == ["detectable"]


def test_a_one_row_log_is_too_few_rows_never_drifted() -> None:
    v = drift_verdict(_result(drifted=True, obskit_drifted=True, n_current=1))
    assert v.status == "too_few_rows" and v.drifted == () and v.too_few == ("x",)
    assert "too few rows to test" in v.sentence


def test_a_threshold_inside_the_noise_of_a_small_reference_is_within_noise() -> None:
    ref = pl.DataFrame({"x": [float((i * 37) % 100) for i in range(40)]})  # 40 rows: noisy
    result = _result(method="wasserstein", is_pvalue=False, statistic=0.12, threshold=0.1, drifted=True,
                     obskit_drifted=True, n_reference=40, n_current=3000)
    v = drift_verdict(result, ref)
    floor = v.table["noise_floor"][0]
    assert floor is not None and floor > 0.12
    assert v.table["verdict"].to_list() == ["within noise"] and v.status == "ok"
    assert "too small to tell" in v.sentence


def test_a_material_shift_is_drifted_and_sized_against_its_noise_floor() -> None:
    ref = pl.DataFrame({"x": [float(i % 50) for i in range(3000)]})
    cur = pl.DataFrame({"x": [float(i % 50) + 20 for i in range(3000)]})
    v = drift_verdict(column_drift(ref, cur, n_boot=0), ref)
    assert v.status == "drift" and v.drifted == ("x",)
    assert v.table["statistic"][0] > 10 * v.table["noise_floor"][0]


def test_the_health_page_and_the_drift_report_read_the_same_verdict(day: Path, tmp_path: Path) -> None:
    rep = open_report(str(day / "obskit.toml"), output_dir=str(tmp_path))
    page, report = health.drift(rep), drift.verdict(rep)
    features = drift.features(rep)
    assert rep.figures["drifted_features"] == rep.figures["features_drifted"] == ["brightness"]
    assert page.notes[0] == report.notes[0] == features.notes[0] == "Drifted: brightness (a material shift: act on it)."
    table = features.frames["drift"]
    assert table.columns[:2] == ["column", "verdict"] and "noise_floor" in table.columns
    assert table.filter(pl.col("verdict") == "drifted")["column"].to_list() == ["brightness"]
    for sec in (page, report, features):
        assert sec.status == "warning" and "drift" in sec.flags
    rep.finish()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "drift" in summary["flags"] and summary["status"] != "ok"
    assert any(r.startswith("Drift against the training set: drifted: brightness") for r in summary["reasons"])


# ----------------------------------------------------------------------------- missing values


def test_missing_shares_compare_with_training_and_catch_a_gap_in_one_window() -> None:
    ref = pl.DataFrame({"a": [1.0] * 90 + [None] * 10, "b": [1.0] * 100})
    cur = pl.DataFrame({"a": [1.0] * 88 + [None] * 12, "b": [1.0] * 96 + [float("nan")] * 4})
    table = missing_shares(ref, cur, ["a", "b"], worst_window={"b": 0.45})
    assert table.rows() == [("a", 0.1, 0.12, None, "ok"), ("b", 0.0, 0.04, 0.45, "more missing than in training")]


def _null_out(cfg: Path, column: str, share_every: int | None, start_h: int = 0, end_h: int = 24) -> None:
    log = cfg.parent / "requests.jsonl.gz"
    with gzip.open(log, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    for i, row in enumerate(rows):
        hour = datetime.fromisoformat(row["ts"].replace("Z", "+00:00")).astimezone(UTC).hour
        if start_h <= hour < end_h and (share_every is None or i % share_every == 0):
            row[column] = None
    with gzip.open(log, "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))


def test_a_feature_half_missing_for_ninety_minutes_is_seen(day: Path, tmp_path: Path) -> None:
    cfg = _copy(day, tmp_path)
    _null_out(cfg, "contrast", 2, start_h=10, end_h=12)  # every other request of two hours: ~8% of the day
    rep = open_report(str(cfg), output_dir=str(tmp_path / "out"))
    sec = health.drift(rep)
    figure = rep.figures["missing_values"]["contrast"]
    assert figure["verdict"] == "more missing than in training"
    assert figure["worst_window_excess"] > 0.3  # the window says what the day's share hides
    assert any("contrast: more missing than in training" in n for n in sec.notes)
    assert "missing values: contrast" in sec.reason or "contrast" in sec.flag_reasons.get("drift", "")
    fired = rep.session.alerts()
    assert fired is not None
    assert "feature-nulls" in fired.fired["rule"].to_list()


def test_a_feature_missing_in_every_request_is_a_problem(day: Path, tmp_path: Path) -> None:
    cfg = _copy(day, tmp_path)
    _null_out(cfg, "contrast", None)
    rep = open_report(str(cfg), output_dir=str(tmp_path / "out"))
    health.drift(rep)
    rep.finish()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "degraded"
    assert any(p["source"] == "features" and "missing in every request" in p["reason"] and "contrast" in p["reason"]
               for p in summary["problems"])


# ----------------------------------------------------------------------------- sample-size honesty


def test_a_reference_too_small_for_the_drift_rule_is_a_warning_naming_both_sizes(day: Path, tmp_path: Path) -> None:
    cfg = _copy(day, tmp_path)
    ref = cfg.parent / "reference.parquet"
    pl.read_parquet(ref).head(124).write_parquet(ref)
    rep = open_report(str(cfg), output_dir=str(tmp_path / "out"))
    sec = health.alerts(rep)
    noisy = [n for n in sec.notes if n.startswith("feature-drift: the reference has 124 values of brightness")]
    assert noisy and "at 1,000 requests per window, PSI noise reaches" in noisy[0] and "threshold 0.1" in noisy[0]
    assert "warning" in sec.flags
    rep.finish()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "warning" in summary["flags"] and summary["figures"]["rule_noise"]


def test_a_large_reference_raises_no_noise_warning(day: Path, tmp_path: Path) -> None:
    rep = open_report(str(day / "obskit.toml"), output_dir=str(tmp_path))
    sec = health.alerts(rep)
    assert not any("PSI noise" in n for n in sec.notes)


# ----------------------------------------------------------------------------- the canary's verdict


def _two_versions(tmp_path: Path, canary_errors: float) -> Path:
    """v1 and v2 with the same latency; v2 fails ``canary_errors`` of its requests, v1 1 %."""
    import numpy as np

    rng = np.random.default_rng(8)
    n = 20_000
    v2 = rng.random(n) < 0.3
    fail = rng.random(n) < np.where(v2, canary_errors, 0.01)
    lines = [json.dumps({"timestamp": datetime.fromtimestamp(1_773_100_800 + i * 4, UTC).isoformat(),
                         "request_id": f"r{i}", "model": "m", "model_version": "v2" if v2[i] else "v1",
                         "latency_ms": round(float(rng.lognormal(3, 0.3)), 3), "status": 503 if fail[i] else 200})
             for i in range(n)]
    (tmp_path / "log.jsonl").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "obskit.toml"
    cfg.write_text('alerts = []\n[project]\nname = "c"\nmodel = "m"\n[sources.requests]\npath = "log.jsonl"\n'
                   '[slo]\navailability = 0.95\nlatency_ms = 500\n')
    return cfg


@pytest.mark.parametrize(("canary_errors", "worse"), [(0.05, True), (0.01, False)], ids=["fails-more", "same"])
def test_a_canary_that_fails_more_is_never_ok(canary_errors: float, worse: bool, tmp_path: Path) -> None:
    """Same latency, 5 % errors against 1 %: the verdict says so and the section (so the page) warns."""
    from obskit.report import canary
    from obskit.report.status import run_status

    rep = open_report(str(_two_versions(tmp_path, canary_errors)), notebook="canary_report",
                      output_dir=str(tmp_path / "out"))
    sec = canary.verdict(rep)
    assert ("error rate higher" in rep.figures["canary_verdict"]) is worse
    assert (sec.status == "warning") is worse
    assert (run_status(rep).status == "warning") is worse


def test_when_it_started_never_contradicts_the_verdict(day: Path, tmp_path: Path) -> None:
    """Every feature the verdict calls drifted is named in "When did it start?" (with a start, or
    saying why it has none); "no feature drifted" only when the verdict agrees."""
    rep = open_report(str(_copy(day, tmp_path)), notebook="drift_report", output_dir=str(tmp_path / "out"))
    drift.verdict(rep)
    sec = drift.over_time(rep)
    inputs = drift.drift_inputs(rep)
    assert not isinstance(inputs, str)
    drifted = drift.verdict_of(rep, inputs[0]).drifted
    text = " ".join(sec.notes)
    for col in drifted:
        assert f"{col}: drifting since" in text or f"{col}: drifted over the period" in text, (col, text)
    assert ("No feature drifted" in text) == (not drifted and not rep.figures["drift_started"])


def test_a_slower_canary_makes_the_versions_section_a_warning_even_without_rules(tmp_path: Path) -> None:
    """The Versions section's own comparison is a verdict: 'v1.5.0 is slower' is never beside an ok."""
    out = tmp_path / "canary"
    generate(out, requests=60_000, seed=12, reference_rows=2_000, scenario="canary-tail")
    cfg = out / "obskit.toml"
    text = cfg.read_text()
    cut = text.find("[[alerts]]")
    cfg.write_text("alerts = []\n" + (text[:cut] if cut >= 0 else text))  # (top level: before any table)
    rep = open_report(str(cfg), output_dir=str(tmp_path / "out"))
    sec = health.versions(rep)
    verdicts = [n for n in sec.notes if " is slower" in n]  # type: ignore[attr-defined]
    assert verdicts, sec.notes  # type: ignore[attr-defined]
    assert sec.status == "warning" and "warning" in sec.flags and " is slower" in sec.reason
