"""The health report at scale: rows never loaded, sections from the rollup and streaming drift, same answers.

The sample day is written as raw hive-partitioned parquet (the log's own field names, ISO
string timestamps, HTTP codes) and reported twice: in memory, and at scale
(``[report] max_rows`` below its row count).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from obskit.report import health, run_report
from obskit.report.section import ReportContext, open_report
from obskit.scale.sketches import DEFAULT_ALPHA

SECTIONS = (health.alerts, health.summary, health.traffic, health.latency, health.errors, health.gpu, health.drift,
            health.business, health.versions, health.metrics, health.timeline)


def _config(folder: Path, samples: Path, requests: str, max_rows: int) -> Path:
    text = (samples / "obskit.toml").read_text()
    text = text.replace('path = "', f'path = "{samples}/').replace('"prometheus/', f'"{samples}/prometheus/')
    text = text.replace(f'path = "{samples}/requests.jsonl.gz"', f'path = "{requests}"')
    text = text.replace('format = "jsonl"', 'format = "parquet"')
    text = re.sub(r"\[report\]", f"[report]\nmax_rows = {max_rows}", text) if "[report]" in text else (
        text + f"\n[report]\nmax_rows = {max_rows}\n")
    path = folder / f"obskit-{max_rows}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> tuple[Path, Path]:
    """(config at scale, config in memory) over the same raw parquet files."""
    root = tmp_path_factory.mktemp("scale_day")
    raw = pl.read_ndjson(io.BytesIO(gzip.decompress((samples_dir / "requests.jsonl.gz").read_bytes())),
                         infer_schema_length=None)
    raw = raw.with_columns(pl.col("ts").str.slice(11, 2).alias("__h"))
    for (h,), part in raw.partition_by("__h", as_dict=True).items():
        d = root / "requests" / "day=2026-11-22" / f"hour={h}"
        d.mkdir(parents=True)
        part.drop("__h").write_parquet(d / "part.parquet")
    return (_config(root, samples_dir, str(root / "requests"), 1000),
            _config(root, samples_dir, str(root / "requests"), 10_000_000))


@pytest.fixture(scope="module")
def both(day: tuple[Path, Path]) -> tuple[ReportContext, ReportContext]:
    big, small = (open_report(str(c)) for c in day)
    for rep in (big, small):
        for section in SECTIONS:
            section(rep)
    return big, small


def _section(rep: ReportContext, title: str) -> object:
    return next(s for s in rep.sections if s.title == title)


def test_rows_are_never_loaded_at_scale(both: tuple[ReportContext, ReportContext]) -> None:
    big, small = both
    assert big.scale is not None and big.scale.rows == 150_000 and small.scale is None
    assert big.session.requests is None and "source:requests" in big.session._cache
    assert big.session._cache["source:requests"] is None and not big.session.problems
    assert big.window == small.window


def test_counts_exact_and_percentiles_within_the_bound(both: tuple[ReportContext, ReportContext]) -> None:
    big, small = both
    for key in ("requests", "errors", "error_rate", "slo_latency_met_share"):
        assert big.figures[key] == small.figures[key], key
    for key in ("p50_ms", "p99_ms"):
        assert abs(big.figures[key] - small.figures[key]) <= DEFAULT_ALPHA * small.figures[key] * (1 + 1e-9)
    a = _section(big, "Traffic").frames["stats"]  # type: ignore[attr-defined]
    b = _section(small, "Traffic").frames["stats"]  # type: ignore[attr-defined]
    j = b.join(a, on="window_start", suffix="_s")
    assert j.height == b.height == a.height
    assert (j["requests"].cast(pl.Int64) == j["requests_s"]).all() and (j["errors"] == j["errors_s"]).all()
    assert ((j["p99_ms_s"] - j["p99_ms"]).abs() <= DEFAULT_ALPHA * j["p99_ms"] * (1 + 1e-9)).all()


def test_budgets_errors_and_versions_equal_the_rows(both: tuple[ReportContext, ReportContext]) -> None:
    big, small = both
    cols = ["slo", "total_to_date", "bad_to_date", "allowed_bad", "budget_remaining"]
    assert _section(big, "Latency and SLOs").frames["budgets"].select(cols).equals(  # type: ignore[attr-defined]
        _section(small, "Latency and SLOs").frames["budgets"].select(cols))  # type: ignore[attr-defined]
    # the sections aggregate the lazy scan with the in-memory code: the rows' own tables, exactly
    for title, frame in (("Errors", "top_errors"), ("Versions", "versions"), ("Business signals", "business"),
                         ("One timeline", "timeline"), ("GPU", "energy")):
        a = _section(big, title).frames[frame]  # type: ignore[attr-defined]
        b = _section(small, title).frames[frame]  # type: ignore[attr-defined]
        if title == "One timeline":  # its p99 is the sketch's at scale (the exact one would hold every latency)
            close = (a["p99_ms"] - b["p99_ms"]).abs() <= DEFAULT_ALPHA * b["p99_ms"] * (1 + 1e-9)
            assert close.all()
            a, b = a.drop("p99_ms"), b.drop("p99_ms")
        assert a.equals(b), title
    versions = _section(big, "Versions").frames["versions"]  # type: ignore[attr-defined]
    assert int(versions["requests"].sum()) == 150_000 and versions.height == 2
    # the two versions are compared at scale too, on every request of their overlap (streamed)
    cmp_big = _section(big, "Versions").frames["comparison"]  # type: ignore[attr-defined]
    cmp_small = _section(small, "Versions").frames["comparison"]  # type: ignore[attr-defined]
    assert cmp_big["metric"].to_list() == cmp_small["metric"].to_list()
    rates = pl.col("metric").is_in(["error_rate", "confident_rate", "correction_rate"])
    assert cmp_big.filter(rates).equals(cmp_small.filter(rates))
    assert cmp_big["significant"].to_list() == cmp_small["significant"].to_list()
    quantiles = pl.col("metric").is_in(["p50_ms", "p95_ms", "p99_ms"])
    for side in ("baseline", "canary"):
        rel = (cmp_big.filter(quantiles)[side] / cmp_small.filter(quantiles)[side] - 1).abs()
        assert (rel <= DEFAULT_ALPHA * (1 + 1e-9)).all()
    notes_big = _section(big, "Versions").notes  # type: ignore[attr-defined]
    assert any("Streamed over every request" in n for n in notes_big)
    assert not any("sample" in n for n in notes_big)


def test_drift_verdicts_match_the_in_memory_report(both: tuple[ReportContext, ReportContext]) -> None:
    big, small = both
    streamed = _section(big, "Drift against the training set").frames["drift"]  # type: ignore[attr-defined]
    exact = _section(small, "Drift against the training set").frames["drift"]  # type: ignore[attr-defined]
    j = exact.join(streamed, on="column", suffix="_s")
    assert j.height == exact.height
    assert (j["method"] == j["method_s"]).all() and (j["drifted"] == j["drifted_s"]).all()
    assert streamed["verdict_certain"].all()
    # one verdict at every size: the same table, the obskit verdict and the run's figures
    assert (j["verdict"] == j["verdict_s"]).all() and (j["obskit_drifted"] == j["obskit_drifted_s"]).all()
    assert (j["statistic_low"] <= j["statistic"] + 1e-12).all()  # the exact statistic within the streamed bound
    assert (j["statistic"] <= j["statistic_high"] + 1e-12).all()
    for key in ("drifted_features", "drift_verdict"):
        assert big.figures[key] == small.figures[key], key
    notes = _section(big, "Drift against the training set").notes  # type: ignore[attr-defined]
    assert any("stream through every successful request" in n for n in notes)
    # the same rows as in memory: the period's successful requests
    counted = small.requests.filter(pl.col("status") == "ok")  # type: ignore[union-attr]
    for row in streamed.iter_rows(named=True):
        values = counted[row["column"]].drop_nulls()
        assert row["n_current"] == (values.drop_nans() if values.dtype.is_float() else values).len(), row["column"]


def test_every_rule_is_evaluated_at_scale(both: tuple[ReportContext, ReportContext]) -> None:
    """The sample config's rules are all evaluated at scale: one status, the in-memory one."""
    from obskit.report.status import run_status

    big, small = both
    alerts = _section(big, "Alerts")
    notes = " ".join(str(getattr(i, "text", "")) for i in alerts.items)  # type: ignore[attr-defined]
    assert "not evaluated" not in notes and "were not" not in notes
    # the corrections are joined as the rows stream: the business section is the in-memory one
    assert _section(big, "Business signals").frames["business"].equals(  # type: ignore[attr-defined]
        _section(small, "Business signals").frames["business"])  # type: ignore[attr-defined]
    assert big.figures["correction_rate"] == small.figures["correction_rate"] is not None
    st, mem = run_status(big), run_status(small)
    assert st.flags == mem.flags and st.status == mem.status == "alerting"


def test_a_rule_on_hourly_drift_tests_is_evaluated_at_scale(day: tuple[Path, Path], tmp_path: Path) -> None:
    """Hourly KL per feature at scale: each hour's rows spilled and tested alone, the in-memory frame."""
    from obskit.report.status import run_status

    rule = '\n[[alerts]]\nname = "hourly-kl"\nsignal = "kl_divergence"\ncomparison = ">"\nthreshold = 0.05\n'
    reps = []
    for cfg in day:
        extra = tmp_path / cfg.name
        extra.write_text(cfg.read_text() + rule)
        reps.append(open_report(str(extra)))
    big, small = reps
    runs = [r.session.alerts() for r in reps]
    assert big.scale is not None and small.scale is None
    assert all(run is not None and not run.skipped for run in runs)
    kl = [sorted((e["labels"], e["firing_at"]) for e in run.fired.iter_rows(named=True)  # type: ignore[union-attr]
                 if e["rule"] == "hourly-kl") for run in runs]
    assert kl[0] == kl[1] and any("brightness" in labels for labels, _ in kl[0])
    a, b = (r.session.signal_frames()["drift_over_time"] for r in reps)
    assert a.equals(b)
    assert run_status(big).flags == run_status(small).flags


def test_alerts_on_counts_fire_at_scale_as_in_memory(both: tuple[ReportContext, ReportContext]) -> None:
    """The rules on counts and sketches are evaluated at every size: the same alerts at the same times."""
    big, small = both
    at_scale, in_memory = big.session.alerts(), small.session.alerts()
    assert at_scale is not None and in_memory is not None and not in_memory.skipped
    assert not at_scale.skipped  # every rule evaluated

    def fired(run: object) -> list[tuple[object, ...]]:
        return sorted((r["rule"], r["labels"], r["pending_at"], r["firing_at"], r["resolved_at"])
                      for r in run.fired.iter_rows(named=True))  # type: ignore[attr-defined]

    assert fired(at_scale) == fired(in_memory)

    # each episode is explained on its own window's rows at scale: the same subjects and hints
    def explained(run: object) -> list[tuple[object, ...]]:
        return sorted((r["rule"], r["labels"], r["subject"], r["hints"])
                      for r in run.episodes.iter_rows(named=True))  # type: ignore[attr-defined]

    assert explained(at_scale) == explained(in_memory)
    assert sum("CUDA out of memory" in r["subject"] for r in at_scale.episodes.iter_rows(named=True)) == 1
    # a version's latency against the others' from per-minute sketches: same windows, exact counts per
    # window, quantiles within the sketch's bound
    sv, mv = big.session.signal_frames()["versions"], small.session.signal_frames()["versions"]
    keys = ["window_start", "model_version", "quantile"]
    assert sv.select(keys).equals(mv.select(keys))
    p50 = sv.join(mv, on=keys, suffix="_m").filter(pl.col("quantile") == "p50")
    assert (p50["requests"] == p50["requests_m"]).all()
    for col in ("latency_ms", "others_ms"):
        assert ((p50[col] - p50[f"{col}_m"]).abs() <= DEFAULT_ALPHA * p50[f"{col}_m"] * (1 + 1e-9)).all()
    assert {r for r, *_ in fired(at_scale)} >= {"high-error-rate", "error-excess", "p99-latency-slo",
                                                 "low-confident-rate", "gpu-memory-pressure", "feature-drift",
                                                 "confidence-shift", "tail-latency-regression",
                                                 "high-correction-rate", "slow-canary"}
    # the signals on the last n rows read the kept rows at scale: the very same values
    from obskit.alerts.row_tails import ROW_SIGNAL_FRAMES

    scale_frames, mem_frames = big.session.signal_frames(), small.session.signal_frames()
    assert set(mem_frames) >= ROW_SIGNAL_FRAMES
    for name in ROW_SIGNAL_FRAMES | {"label_arrival", "business"}:
        a, b = scale_frames[name], mem_frames[name]
        assert a.sort(a.columns).equals(b.sort(b.columns)), name
    # the frames behind them: counts equal, sketch percentiles within their bound
    scale_ws, mem_ws = big.session.signal_frames()["window_stats"], small.session.signal_frames()["window_stats"]
    joined = scale_ws.join(mem_ws, on="window_start", suffix="_m")
    assert joined.height == mem_ws.height
    assert (joined["requests"] == joined["requests_m"]).all() and (joined["errors"] == joined["errors_m"]).all()
    both_p99 = joined.drop_nulls(["p99_ms", "p99_ms_m"])
    close = (both_p99["p99_ms"] - both_p99["p99_ms_m"]).abs() <= 2 * DEFAULT_ALPHA * both_p99["p99_ms_m"] + 1e-9
    assert close.mean() > 0.9


def test_period_and_version_filters_apply_at_scale(day: tuple[Path, Path]) -> None:
    big = open_report(str(day[0]), start="2026-11-22T06:00:00Z", end="2026-11-22T09:00:00Z", version="v1.4.0")
    small = open_report(str(day[1]), start="2026-11-22T06:00:00Z", end="2026-11-22T09:00:00Z", version="v1.4.0")
    assert big.scale is not None and small.requests is not None
    assert big.figures["requests"] == small.requests.height > 0
    assert big.figures["errors"] == small.figures["errors"]
    empty = open_report(str(day[0]), start="2030-01-01", end="2030-01-02")
    assert health.traffic(empty).status == "skipped"
    from obskit.report.status import run_status

    assert run_status(empty).status == "no_data"


def test_a_short_period_of_a_large_source_reads_only_its_rows(day: tuple[Path, Path], tmp_path: Path) -> None:
    from obskit.report import canary, drift

    cfg = Path(str(day[0]).replace("-1000.toml", "-40000.toml"))
    cfg.write_text(day[0].read_text().replace("max_rows = 1000", "max_rows = 40000"))
    period = {"start": "2026-11-22T06:00:00Z", "end": "2026-11-22T09:00:00Z"}
    pushed = open_report(str(cfg), **period)
    loaded = open_report(str(day[1]), **period)
    assert pushed.scale is None and pushed.session.pushdown is not None
    assert pushed.requests is not None and loaded.requests is not None
    assert pushed.requests.height == loaded.requests.height < 40_000
    assert pushed.figures == loaded.figures
    assert "corrected_label" in pushed.requests.columns  # the feedback join still applies
    # the whole day is above the limit: the drift tests read a uniform sample and say so; data quality and
    # the canary comparison stream every row
    whole = open_report(str(cfg))
    assert whole.scale is not None
    from obskit.report import scale

    scale_sample = scale.sample(whole)
    assert scale_sample.height == 37_500  # every 4th of 150,000 rows: at most max_rows
    assert scale_sample["timestamp"].is_sorted() and scale_sample["timestamp"].dt.hour().n_unique() == 24
    features = drift.features(whole)
    assert features.status != "skipped" and any("uniform sample of 37,500" in n for n in features.notes)
    for section in (drift.quality(whole), canary.verdict(whole)):
        assert section.status != "skipped", section.reason
        assert not any("sample" in n for n in section.notes)
    # rollouts and the canary pair count every row (streamed): the in-memory table, no sample
    in_memory = open_report(str(day[1]))
    assert canary.pair(whole) == canary.pair(in_memory)
    rolled = canary.rollouts(whole)
    assert not any("sample" in n for n in rolled.notes)
    assert rolled.frames["episodes"].equals(canary.rollouts(in_memory).frames["episodes"])
    streamed = drift.features(whole).frames["drift"]
    assert set(streamed.filter(pl.col("verdict") == "drifted")["column"]) == {"brightness"}


def test_full_report_at_scale_saves_its_rollup(day: tuple[Path, Path], tmp_path: Path) -> None:
    res = run_report(day[0], out=tmp_path)
    summary = json.loads(res.summary.read_text())
    assert summary["status"] == "alerting" and summary["figures"]["requests"] == 150_000
    assert {"alerting", "drift"} <= set(summary["flags"])  # brightness, at scale too
    assert (res.html.parent / "rollup" / "meta.json").is_file()
    html = res.html.read_text()
    assert "At scale (150,000 request rows" in html and "within 0.5%" in html
    shutil.rmtree(tmp_path)


def test_rows_without_a_timestamp_are_rejected_at_scale(day: tuple[Path, Path], tmp_path: Path) -> None:
    files = sorted((Path(str(day[0]).rsplit("/", 1)[0]) / "requests").rglob("*.parquet"))
    raw = pl.read_parquet(files[0]).head(2000)
    raw = raw.with_columns(pl.when(pl.int_range(pl.len()) < 10).then(pl.lit("not a time")).otherwise(pl.col("ts"))
                           .alias("ts"))
    (tmp_path / "logs").mkdir()
    raw.write_parquet(tmp_path / "logs" / "part.parquet")
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(day[0].read_text().replace(str(files[0].parents[2]), str(tmp_path / "logs"))
                   .replace("max_rows = 1000", "max_rows = 100"))
    rep = open_report(str(cfg))
    assert rep.scale is not None and rep.figures["requests"] == 1990
    # rejected in the scan with the loader's reason, as in memory: on the page's problems, in no figure
    got = rep.session.quarantine.frame()
    assert got.height == 10 and set(got["reason"]) == {"timestamp: cannot parse"}


def test_the_explorer_at_scale_on_the_sample_day(day: tuple[Path, Path], tmp_path: Path) -> None:
    from obskit import explore

    big, small = (explore(c, chart_backend="output", flywheel_path=tmp_path / "f.parquet") for c in day)
    assert big.data.requests is None and small.data.requests is not None  # rows held in memory only
    for app in (big, small):
        app.set_range("2026-11-22T09:00:00Z", "2026-11-22T21:00:00Z")
        app.set_versions(["v1.5.0"])
    assert big.data.totals()[:2] == small.data.totals()[:2] and big.data.totals()[0] > 0
    for name in ("errors", "business"):
        assert big.data.windowed(name).equals(small.data.windowed(name)), name
    assert big.data.failure_counts().equals(small.data.failure_counts())
    assert big.data.timeline().drop("p99_ms").equals(small.data.timeline().drop("p99_ms"))
    assert big.frames["drift"]["drift"].select("column", "method", "drifted").equals(
        small.frames["drift"]["drift"].select("column", "method", "drifted"))


def test_the_explorer_reads_a_period_of_a_large_source(day: tuple[Path, Path]) -> None:
    from obskit import explore

    cfg = Path(str(day[0]).replace("-1000.toml", "-explore.toml"))
    cfg.write_text(day[0].read_text().replace("max_rows = 1000", "max_rows = 20000"))
    app = explore(cfg, start="2026-11-22T04:00:00Z", end="2026-11-22T05:00:00Z", chart_backend="output",
                  flywheel_path=cfg.parent / "flywheel.parquet")
    assert app.data.requests is not None and 0 < app.data.requests.height <= 20_000
    assert app.data.requests["timestamp"].dt.hour().unique().to_list() == [4]


def test_requests_only_at_scale_tells_what_was_checked(day: tuple[Path, Path], tmp_path: Path) -> None:
    folder = Path(str(day[0]).rsplit("/", 1)[0]) / "requests"
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'alerts = []\n[project]\nname = "x"\nmodel = "resnet50"\n[sources.requests]\npath = "{folder}"\n'
                   'format = "parquet"\n[sources.requests.columns]\ntimestamp = "ts"\nstatus_code = "http_status"\n'
                   "[report]\nmax_rows = 1000\n")
    rep = open_report(str(cfg))
    shown = {s.title: s for s in (f(rep) for f in SECTIONS)}
    assert rep.scale is not None and shown["Traffic"].status == "ok"
    assert shown["Alerts"].reason == "no alert rules" and shown["GPU"].status == "skipped"
    assert shown["Drift against the training set"].reason == "no [features] in the config"  # as in memory
    from obskit.report.status import run_status

    # checked: no rule; what was shown is fine but the sample day's slower canary, which the
    # Versions section compares itself and so warns about (never "ok" beside "v1.5.0 is slower")
    assert shown["Versions"].status == "warning" and " is slower" in shown["Versions"].reason
    assert {s.title for s in shown.values() if s.status == "warning"} == {"Versions"}
    assert run_status(rep).status == "warning"


def test_an_episode_at_scale_reads_only_its_window_sampled_beyond_the_limit() -> None:
    from datetime import UTC, datetime, timedelta

    from obskit.alerts.explain import window_rows

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    scan = pl.LazyFrame({"timestamp": [t0 + timedelta(minutes=i) for i in range(100)], "i": list(range(100))})
    assert window_rows(scan, t0 + timedelta(minutes=10), t0 + timedelta(minutes=20))["i"].to_list() == list(
        range(10, 20))
    # beyond the limit, a uniform sample of about the limit: shares kept, the scan's order, the same every time
    many = pl.LazyFrame({"timestamp": [t0 + timedelta(seconds=i) for i in range(20_000)], "i": list(range(20_000)),
                         "kind": ["a", "b", "b", "c", "c"] * 4_000})
    sampled = window_rows(many, t0, t0 + timedelta(hours=6), limit=2_000)
    assert 1_700 <= sampled.height <= 2_300 and sampled["i"].is_sorted()
    shares = sampled["kind"].value_counts(normalize=True).sort("kind")["proportion"].to_list()
    assert all(abs(got - want) < 0.05 for got, want in zip(shares, (0.2, 0.4, 0.4), strict=True))
    assert sampled.equals(window_rows(many, t0, t0 + timedelta(hours=6), limit=2_000))


def test_when_drift_started_reads_every_row_at_scale(both: tuple[ReportContext, ReportContext]) -> None:
    """The drift report's windows are tested on all their rows at scale (one window in memory), not a sample."""
    from obskit.report import drift

    big, small = both
    a, b = drift.over_time(big), drift.over_time(small)
    assert a.status == b.status and not any("sample" in n for n in a.notes)
    assert a.frames["over_time"].equals(b.frames["over_time"])
    assert big.figures["drift_started"] == small.figures["drift_started"] and "brightness" in big.figures[
        "drift_started"]
    p_big, p_small = drift.prediction(big), drift.prediction(small)
    assert p_big.frames["prediction"].equals(p_small.frames["prediction"]) and p_big.frames["prediction"].height


def test_the_canary_report_at_scale_compares_every_request(day: tuple[Path, Path]) -> None:
    from obskit.report import canary

    big, small = (open_report(str(c)) for c in day)
    for rep in (big, small):
        for section in (canary.rollouts, canary.traffic, canary.verdict):
            section(rep)
    assert big.scale is not None and big.session.requests is None
    assert canary.pair(big) == canary.pair(small) == ("v1.4.0", "v1.5.0")
    assert big.figures["canary_verdict"].split(":")[0] == small.figures["canary_verdict"].split(":")[0] \
        == "v1.5.0 is slower"
    a = _section(big, "Verdict").frames["comparison"]  # type: ignore[attr-defined]
    b = _section(small, "Verdict").frames["comparison"]  # type: ignore[attr-defined]
    assert a["significant"].to_list() == b["significant"].to_list()
    assert a.filter(pl.col("metric") == "error_rate").equals(b.filter(pl.col("metric") == "error_rate"))
    assert _section(big, "Rollouts").frames["episodes"].equals(  # type: ignore[attr-defined]
        _section(small, "Rollouts").frames["episodes"])  # type: ignore[attr-defined]
    for title in ("Verdict", "Traffic and latency ratio"):  # nothing on the page is read from a sample
        notes = _section(big, title).notes  # type: ignore[attr-defined]
        assert notes and not any("sample" in n for n in notes), title


def test_data_quality_at_scale_checks_every_row(day: tuple[Path, Path]) -> None:
    from obskit.report import drift

    big, small = (open_report(str(c), notebook="drift_report") for c in day)
    for rep in (big, small):
        drift.quality(rep)
    assert big.scale is not None and big.session.requests is None
    a = _section(big, "Data quality against the training baseline")
    b = _section(small, "Data quality against the training baseline")
    assert a.frames["violations"].equals(b.frames["violations"])  # type: ignore[attr-defined]
    assert big.figures["quality_violations"] == small.figures["quality_violations"]
    assert not any("sample" in n for n in a.notes)  # type: ignore[attr-defined]
    # the distributions' shares count every successful request too (the order follows the sampled tests)
    dist = drift.distributions(big)
    assert dist.status != "skipped" and any("count every successful request" in n for n in dist.notes)
    pred = drift.prediction(big)
    assert pred.status != "skipped" and any("class chart counts every" in n for n in pred.notes)


def test_rows_the_loader_rejects_are_left_out_at_scale_too(day: tuple[Path, Path], tmp_path: Path) -> None:
    """Parquet read as it is: the loader's row checks and its far-time check apply in the scan: the same rows."""
    src = Path(str(day[0])).read_text()
    root = Path(re.search(r'path = "([^"]*requests)"', src).group(1))  # type: ignore[union-attr]
    bad_root = tmp_path / "requests"
    earlier_id = ""
    for i, part in enumerate(sorted(root.rglob("*.parquet"))):
        frame = pl.read_parquet(part)
        if i == 2:
            earlier_id = frame.sort("ts")["request_id"][-1]
        if i == 3:  # one hour gets a row of each kind the loader rejects
            n = frame.height
            frame = frame.sort("ts")
            lat = frame["latency_ms"].to_list()
            conf = frame["confidence"].to_list()
            ts = frame["ts"].to_list()
            ids = frame["request_id"].to_list()
            lat[0], lat[1] = -5.0, float("nan")
            conf[2] = 1.5
            ts[3] = "1970-01-01T00:00:00Z"
            ts[4] = "not a time"
            ts[5] = "2025-06-01T00:00:00Z"  # a plausible year, far from the rest of the log (a whole-log check)
            ids[6] = earlier_id  # an id of the hour before (another file): this later row goes
            ids[9] = ids[8]  # an id twice in the file: the later row goes
            ids[10] = ids[5]  # the far row's id: the far row (first in time) goes as far, this one as a repeat
            frame = frame.with_columns(pl.Series("latency_ms", lat), pl.Series("confidence", conf),
                                       pl.Series("ts", ts), pl.Series("request_id", ids)).sample(
                fraction=1.0, shuffle=True, seed=3)  # out of time order in the file
            assert frame.height == n
        dest = bad_root / part.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(dest)
    configs = []
    for path, limit in ((day[0], "1000"), (day[1], "10000000")):
        text = Path(path).read_text().replace(str(root), str(bad_root))
        cfg = tmp_path / f"bad-{limit}.toml"
        cfg.write_text(text)
        configs.append(cfg)
    big, small = (open_report(str(c)) for c in configs)
    assert big.scale is not None and small.scale is None
    assert big.figures["requests"] == small.figures["requests"] == 150_000 - 9
    assert big.figures["errors"] == small.figures["errors"]
    assert big.figures["slo_latency_met_share"] == small.figures["slo_latency_met_share"]
    reasons = sorted(big.session.quarantine.frame()["reason"].to_list())
    assert reasons == sorted(small.session.quarantine.frame()["reason"].to_list())
    assert reasons == sorted(["latency_ms: negative", "latency_ms: not a finite number (NaN or infinity)",
                              "confidence: outside [0, 1] or not a number",
                              f"timestamp: {_years_reason()}", "timestamp: cannot parse", FAR_REQUEST_REASON,
                              *[DUPLICATE_REASON] * 3])


FAR_REQUEST_REASON = "timestamp: far outside the rest of the log (clock jump or typo?)"
DUPLICATE_REASON = "request_id: duplicate (kept its first occurrence)"


def _years_reason() -> str:
    from obskit.load._plausible import YEARS_REASON

    return YEARS_REASON
