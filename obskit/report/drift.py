"""The drift report's sections: training vs production, per feature, over time, jointly, and quality.

Examples
--------
>>> from obskit.report.section import open_report
>>> rep = open_report("data/samples/obskit.toml", notebook="drift_report")  # doctest: +SKIP
>>> features(rep).frames["drift"].height  # doctest: +SKIP
8
"""

from __future__ import annotations

from typing import Any

import polars as pl

from obskit import charts
from obskit.analyze.drift_verdict import DriftVerdict
from obskit.report.scale import note_sample, rows, sample_note
from obskit.report.section import ReportContext, Section

__all__ = [
    "checked_features",
    "distributions",
    "drift_inputs",
    "drift_over_window",
    "drift_scale_note",
    "drift_started",
    "feature_drift",
    "features",
    "missing_values",
    "multivariate",
    "ok_scan",
    "over_time",
    "prediction",
    "quality",
    "unchecked_features",
    "verdict",
    "verdict_of",
    "verdict_table",
    "window_note",
    "with_streamed_statistics",
]


def checked_features(rep: ReportContext) -> tuple[list[str], str]:
    """The configured features present in both the period's requests and the reference, or why none."""
    requests, reference = rows(rep), rep.reference
    if not rep.config.features.all:
        return [], "no [features] in the config"
    if rep.config.reference is None:
        return [], "no reference set ([sources.reference])"
    if reference is None:
        return [], "the reference set could not be loaded"
    if requests is None:
        return [], "no request matches this period" if rep.config.requests is not None else "no request logs"
    rep.check_features()
    both = [c for c in rep.config.features.all if c in requests.columns and c in reference.columns]
    ok = _ok(rep)
    cols = [c for c in both if ok[c].null_count() < ok.height and reference[c].null_count() < reference.height]
    cols = [c for c in cols if c not in untestable_features(rep)]
    if not both:
        return [], "no configured feature is in both the requests and the reference"
    return cols, "" if cols else "every configured feature is empty (only nulls) in the requests or the reference"


def untestable_features(rep: ReportContext) -> dict[str, str]:
    """Configured features of the reference no drift test applies to, with why (skipped, not fatal).

    A string with a distinct value in most rows (an id, free text) has no distribution to
    compare (Evidently's "text" columns); a list or struct has no drift kind at all.
    """
    from obskit.analyze.drift import infer_kind

    reference = rep.reference
    if reference is None:
        return {}
    requests = rows(rep)
    out = {}
    for c in rep.config.features.all:
        if c in reference.columns and reference[c].null_count() < reference.height \
                and infer_kind(reference[c]) is None:
            dt = reference.schema[c]
            out[c] = ("a distinct value in most reference rows (an id or free text?)" if dt == pl.String
                      else f"no drift test for dtype {dt}")
        elif requests is not None and c in reference.columns and c in requests.columns \
                and reference[c].dtype.is_numeric() != requests[c].dtype.is_numeric():
            kinds = {True: "numbers", False: "text"}
            out[c] = (f"the training set holds {kinds[reference[c].dtype.is_numeric()]} and the requests "
                      f"{kinds[requests[c].dtype.is_numeric()]}")
    return out


def unchecked_features(rep: ReportContext) -> list[str]:
    """Configured features that cannot be checked: absent from a side, or only nulls there."""
    cols, _ = checked_features(rep)
    return [c for c in rep.config.features.all if c not in cols]


def _ok(rep: ReportContext) -> pl.DataFrame:
    requests = rows(rep)
    assert requests is not None
    ok: pl.DataFrame = rep.cached("ok_requests", lambda: requests.filter(pl.col("status") == "ok"))
    return ok


def drift_inputs(rep: ReportContext) -> tuple[list[str], pl.DataFrame, pl.DataFrame] | str:
    """``(features, reference, successful requests)``, or the reason there is nothing to check."""
    cols, reason = checked_features(rep)
    reference = rep.reference
    if not cols or reference is None:
        return reason
    return cols, reference, _ok(rep)


def verdict_of(rep: ReportContext, cols: list[str]) -> DriftVerdict:
    """The run's one drift verdict (computed once, read by every section, figure and badge)."""
    from obskit.analyze.drift_verdict import drift_verdict

    result = feature_drift(rep, cols)
    out: DriftVerdict = rep.cached("drift_verdict", lambda: drift_verdict(result, rep.reference))
    return out


def missing_values(rep: ReportContext, sec: Section) -> pl.DataFrame | None:
    """Missing values per configured feature on ``sec`` (table, note, warning) and in the figures.

    A feature missing in every request of the period is a problem of the run (it can never
    be checked); more missing than in training is a warning on the page.
    """
    from obskit.analyze.drift_verdict import missing_shares

    requests: pl.DataFrame | pl.LazyFrame | None = rows(rep)
    if requests is None or not rep.config.features.all:
        return None
    scan = rep.session.request_scan(feedback=False)
    requests = requests if scan is None else scan  # at scale: every row, streamed
    signal = rep.session.signal_frames().get("feature_null_share")
    worst: dict[str, float] = {}
    if signal is not None and signal.height:
        peaks = signal.drop_nans().group_by("feature").agg(pl.col("value").max())
        worst = {f: v for f, v in peaks.iter_rows() if v is not None}
    table = rep.cached("missing_values", lambda: missing_shares(rep.reference, requests,
                                                                list(rep.config.features.all), worst_window=worst))
    rep.figures["missing_values"] = {r["column"]: {k: r[k] for k in ("missing_reference", "missing_period",
                                                                     "worst_window_excess", "verdict")}
                                     for r in table.iter_rows(named=True)}
    empty = table.filter(pl.col("verdict") == "missing in every row")["column"].to_list()
    more = table.filter(pl.col("verdict") == "more missing than in training")["column"].to_list()
    if empty:
        def record() -> bool:
            from obskit.problems import Problem

            rep.session.problems.append(Problem("features", f"missing in every request of the period, so never "
                                                            f"checked: {', '.join(empty)}"))
            return True

        rep.cached("missing_problem", record)
    if empty or more:
        sec.note("Missing values: " + "; ".join(
            [f"{c}: missing in every request" for c in empty]
            + [f"{c}: more missing than in training" for c in more]) + ".", kind="warning")
        sec.table(table, caption="Missing values per feature (shares; worst window: 1000 answers, excess over "
                                 "training)", formats={"missing_reference": "{:.1%}", "missing_period": "{:.1%}",
                                                       "worst_window_excess": "{:+.1%}"}, name="missing")
    return table


def feature_drift(rep: ReportContext, cols: list[str]) -> pl.DataFrame:
    """Column drift of the checked features over the period (computed once per run, shared by sections).

    At scale Evidently's statistics and their verdicts stream through every successful request
    (exact, or within ``[statistic_low, statistic_high]``); the effect sizes, their intervals
    and the noise floor come from the uniform sample (:func:`drift_scale_note` says so).
    """
    from obskit.analyze.drift import column_drift

    reference = rep.reference
    assert reference is not None

    def compute() -> pl.DataFrame:
        result = column_drift(reference, _ok(rep), columns=cols)
        if ok_scan(rep) is None:
            return result
        return with_streamed_statistics(result, _scale_pass(rep, cols)[1])

    out: pl.DataFrame = rep.cached("column_drift", compute)
    return out


def _scale_pass(rep: ReportContext, cols: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """At scale, one pass over the period's successful requests: the tests per drift window, and the period's.

    The pass hands each drift window's rows to the tests over time and folds every row into
    the period's streamed drift state on the way (:func:`~obskit.scale.streaming.add_rows`):
    one read for both. The period's tests come back empty when one needs every value (the
    sample's figures then stand, and the page says so); the tests over time never depend on
    them. A second pass runs only for a test on Evidently's Sturges bins.
    """
    from obskit.analyze.stattests import DriftOptions
    from obskit.errors import AnalysisError
    from obskit.scale.streaming import DRIFT_SCHEMA, add_rows, drift_spec, drift_state, finish_drift, second_pass_spec
    from obskit.scale.windows import drift_by_window

    reference, ok = rep.reference, ok_scan(rep)
    assert reference is not None and ok is not None

    def compute() -> tuple[pl.DataFrame, pl.DataFrame]:
        failed: list[AnalysisError] = []
        try:
            plan = drift_spec(reference, ok, options=DriftOptions.of(None, columns=cols))
            state = plan.spec.empty_state()
        except AnalysisError as err:
            failed.append(err)

        def fold(batch: pl.DataFrame) -> None:
            if not failed:
                try:
                    add_rows(state, plan.spec, batch)
                except AnalysisError as err:  # the period's tests are given up; the pass goes on
                    failed.append(err)

        over = drift_by_window(reference, ok, every=rep.drift_window, columns=cols, n_boot=50, each_batch=fold)
        streamed = pl.DataFrame(schema=DRIFT_SCHEMA)
        if not failed:
            try:
                spec2 = second_pass_spec(plan, state)
                streamed = finish_drift(plan, state, drift_state(ok, spec2) if spec2 is not None else None)
            except AnalysisError:  # a test that needs every value: the sample's figures, said on the page
                pass
        return over, streamed

    out: tuple[pl.DataFrame, pl.DataFrame] = rep.cached("scale_drift_pass", compute)
    return out


def with_streamed_statistics(sampled: pl.DataFrame, streamed: pl.DataFrame) -> pl.DataFrame:
    """``sampled`` (:func:`~obskit.analyze.drift.column_drift` of a sample) with every row's test streamed.

    Where both chose the same test, the statistic, its verdict and ``n_current`` are the
    streamed ones (every row), and ``statistic_low`` / ``statistic_high`` / ``verdict_certain``
    say how exact; a distance test's ``obskit_drifted`` is then its streamed verdict with the
    sample's effect interval above 0. Other rows keep the sample's figures (null bounds).
    """
    s = streamed.select("column", pl.col("method").alias("_m"), pl.col("statistic").alias("_stat"),
                        "statistic_low", "statistic_high", pl.col("drifted").alias("_drifted"), "verdict_certain",
                        pl.col("n_current").alias("_n"))
    j = sampled.join(s, on="column", how="left", maintain_order="left")
    same = pl.col("_m") == pl.col("method")
    j = j.with_columns(
        pl.when(same).then(pl.col("_stat")).otherwise(pl.col("statistic")).alias("statistic"),
        pl.when(same).then(pl.col("_drifted")).otherwise(pl.col("drifted")).alias("drifted"),
        pl.when(same).then(pl.col("_n")).otherwise(pl.col("n_current")).alias("n_current"),
        *(pl.when(same).then(pl.col(c)).otherwise(None).alias(c)
          for c in ("statistic_low", "statistic_high", "verdict_certain")),
    )
    j = j.with_columns(pl.when(same & ~pl.col("is_pvalue"))
                       .then(pl.col("drifted") & (pl.col("effect_ci_low") > 0))
                       .otherwise(pl.col("obskit_drifted")).alias("obskit_drifted"))
    return j.drop("_m", "_stat", "_drifted", "_n")


def drift_scale_note(rep: ReportContext, result: pl.DataFrame) -> str:
    """At scale, what the drift table read: every row for the tests, the sample for the effects."""
    uncertain = result.filter(pl.col("verdict_certain").not_().fill_null(False))["column"].to_list()
    sampled = result.filter(pl.col("verdict_certain").is_null())["column"].to_list()
    parts = ["At scale, Evidently's tests stream through every successful request of the period (categorical and "
             "binned statistics exact, wasserstein within [statistic_low, statistic_high])"]
    if uncertain:
        parts.append(f"the verdict could change within that bound for {', '.join(uncertain)}")
    if sampled:
        parts.append(f"{', '.join(sampled)} could not be streamed and are tested on the sample")
    return ("; ".join(parts) + ". The effect sizes, their intervals and the noise floor: " + sample_note(rep))


def _domain(rep: ReportContext, cols: list[str], reference: pl.DataFrame, ok: pl.DataFrame,
            max_rows: int = 10_000) -> Any:
    from obskit.analyze.multivariate import domain_classifier_drift

    return rep.cached("domain_classifier",
                      lambda: domain_classifier_drift(reference, ok, columns=cols, max_rows=max_rows))


def _prediction_drift(rep: ReportContext, reference: pl.DataFrame, ok: pl.DataFrame) -> pl.DataFrame | None:
    from obskit.analyze.drift import column_drift

    if "prediction" not in reference.columns or "prediction" not in ok.columns:
        return None
    out: pl.DataFrame = rep.cached("prediction_drift",
                                   lambda: column_drift(reference, ok, columns=["prediction"]))
    return out


def verdict(rep: ReportContext) -> Section:
    """The answer first: which features drifted by each verdict, the predictions, the domain classifier."""
    from obskit.analyze.drift import dataset_drift

    sec = Section("Verdict")
    inputs = drift_inputs(rep)
    if isinstance(inputs, str):
        return rep.record(sec.note(f"No drift check: {inputs}.", kind="warning").skip(inputs))
    cols, reference, ok = inputs
    result = feature_drift(rep, cols)
    if rep.scale is not None:
        sec.note(drift_scale_note(rep, result))
    one = verdict_of(rep, cols)
    ds = dataset_drift(result)
    drifted = result.filter(pl.col("drifted"))["column"].to_list()
    material = list(one.drifted)
    pred = _prediction_drift(rep, reference, ok)
    mv = _domain(rep, cols, reference, ok)
    lines = [
        one.sentence,
        f"Evidently-compatible tests: {len(drifted)} of {len(cols)} features past their threshold "
        f"({', '.join(drifted) or 'none'}); dataset drift {'detected' if ds.drifted else 'not detected'} "
        f"(share {ds.share:.0%}, threshold {ds.drift_share:.0%}).",
    ]
    figures: dict[str, Any] = {
        "features_checked": len(cols), "features_drifted": material, "features_detectable": list(one.detectable),
        "features_within_noise": list(one.within_noise), "features_too_few_rows": list(one.too_few),
        "features_drifted_evidently": drifted, "drift_verdict": one.status,
        "dataset_drift": bool(ds.drifted), "dataset_drift_share": ds.share,
        "domain_classifier_auc": mv.auc, "domain_classifier_auc_ci": [mv.auc_ci_low, mv.auc_ci_high],
        "domain_classifier_drifted": bool(mv.drifted),
    }
    if pred is not None and pred.height:
        row = pred.row(0, named=True)
        lines.append(f"Predictions: {row['method']} {row['statistic']:.4g} (threshold {row['threshold']:.4g}) — "
                     f"{'drifted' if row['drifted'] else 'no drift'}"
                     f"{' (material)' if row['obskit_drifted'] else ''}.")
        figures["prediction_drift"] = {"method": row["method"], "statistic": row["statistic"],
                                       "drifted": bool(row["drifted"]), "material": bool(row["obskit_drifted"])}
    else:
        lines.append("Predictions: not checked (no prediction column in the reference or the requests).")
        figures["prediction_drift"] = None
    lines.append(f"Domain classifier: AUC {mv.auc:.3f} [{mv.auc_ci_low:.3f}, {mv.auc_ci_high:.3f}] — "
                 f"{'training and production can be told apart' if mv.drifted else 'no joint drift'}.")
    pred_moved = bool((figures["prediction_drift"] or {}).get("material"))
    any_drift = bool(material or mv.drifted or pred_moved)
    for line in lines:
        sec.note(line, kind="warning" if any_drift else "info")
    rep.figures.update(figures)
    if any_drift:
        what = [f"features {', '.join(material)}"] if material else []
        what += ["the predictions"] if pred_moved else []
        what += ["jointly (domain classifier)"] if mv.drifted else []
        sec.warn("drift: " + "; ".join(what), flag="drift")
    return rep.record(sec)


def features(rep: ReportContext) -> Section:
    """Per-feature drift over the whole period with both verdicts and the effect sizes."""
    sec = Section("Feature drift, whole period")
    cols, reason = checked_features(rep)
    if not cols:
        return rep.record(sec.skip(reason))
    if rep.scale is not None:
        sec.note(drift_scale_note(rep, feature_drift(rep, cols)))
    skipped = unchecked_features(rep)
    why = untestable_features(rep)
    if skipped:
        default = "absent, or only nulls, in the requests or the reference"
        sec.note("Not checked: " + "; ".join(f"{c} ({why.get(c, default)})" for c in skipped) + ".",
                 kind="warning")
    one = verdict_of(rep, cols)
    sec.note(one.sentence, kind="warning" if one.drifted else "info")
    sec.table(verdict_table(one), caption="Per-feature drift (verdict: the one to act on)", name="drift")
    if one.drifted:
        sec.warn(f"drifted: {', '.join(one.drifted)}", flag="drift")
    return rep.record(sec)


def verdict_table(one: DriftVerdict) -> pl.DataFrame:
    """The per-feature table a page shows: the verdict first, Evidently's test result beside it."""
    bounds = [c for c in ("statistic_low", "statistic_high", "verdict_certain") if c in one.table.columns]
    return one.table.select(
        "column", "verdict", "method", "statistic", *bounds, "threshold", "noise_floor",
        pl.col("drifted").alias("evidently_drifted"), "effect_name", "effect_size", "effect_ci_low",
        "effect_ci_high", "p_value_adjusted", "n_reference", "n_current")


def drift_over_window(rep: ReportContext, cols: list[str]) -> pl.DataFrame:
    """KL divergence per feature and drift window (:attr:`ReportContext.drift_window`), once per run."""
    from obskit.analyze.drift import drift_over_time

    reference = rep.reference
    assert reference is not None

    def compute() -> pl.DataFrame:
        if ok_scan(rep) is None:
            return drift_over_time(reference, _ok(rep), every=rep.drift_window, columns=cols, method="kl_div",
                                   n_boot=50)
        return _scale_pass(rep, cols)[0]  # at scale: every row, one window at a time

    out: pl.DataFrame = rep.cached("drift_over_window", compute)
    return out


def window_note(rep: ReportContext) -> str:
    """Which window drift over time uses, and why when it is not the chart window."""
    if rep.drift_window == rep.window:
        return f"Drift is tested per {rep.drift_window} window (the report window)."
    return (f"Drift is tested per {rep.drift_window} window: the report window ({rep.window}), widened to at most "
            "24 windows of ~50 requests or more each (a test on fewer requests is noise).")


#: A drift "started" only when it lasts this many consecutive windows: one window of ~100
#: requests passes a KL threshold of 0.1 by noise alone about one time in ten.
MIN_DRIFT_RUN = 2


def drift_started(frame: pl.DataFrame) -> dict[str, Any]:
    """Per feature, the start of its longest run of consecutive drifted windows (obskit's verdict).

    A run shorter than :data:`MIN_DRIFT_RUN` windows is noise, not a start.

    >>> from datetime import datetime, timedelta, UTC
    >>> t = [datetime(2026, 11, 22, h, tzinfo=UTC) for h in range(5)]
    >>> f = pl.DataFrame({"window_start": t, "column": ["x"] * 5, "obskit_drifted": [True, False, True, True, True]})
    >>> drift_started(f)["x"].hour
    2
    >>> drift_started(f.with_columns(pl.Series("obskit_drifted", [True, False, True, False, False])))
    {}
    """
    out: dict[str, Any] = {}
    for (col,), part in frame.sort("window_start").group_by(["column"], maintain_order=True):
        best, best_len, run_start, run_len = None, 0, None, 0
        for when, drifted in part.select("window_start", "obskit_drifted").iter_rows():
            if drifted:
                run_start = when if run_len == 0 else run_start
                run_len += 1
                if run_len > best_len:
                    best, best_len = run_start, run_len
            else:
                run_len = 0
        if best is not None and best_len >= MIN_DRIFT_RUN:
            out[str(col)] = best
    return out


def over_time(rep: ReportContext) -> Section:
    """The same tests window by window against the whole training set (KL divergence)."""
    sec = Section("When did it start?")
    inputs = drift_inputs(rep)
    if isinstance(inputs, str):
        return rep.record(sec.skip(inputs))
    cols, _, _ = inputs
    frame = drift_over_window(rep, cols)  # every row of each window, at any size
    every = rep.drift_window
    started = drift_started(frame)
    period = set(verdict_of(rep, cols).drifted)  # the page's one verdict: these notes never contradict it
    for col, when in started.items():
        also = "" if col in period else (" The period as a whole shows no material drift of it (the verdict "
                                         "above): a shift confined to part of the period.")
        sec.note(f"{col}: drifting since {when:%Y-%m-%d %H:%M} UTC (the start of its longest run of drifted "
                 f"{every} windows).{also}", kind="warning")
    for col in sorted(period - set(started)):
        sec.note(f"{col}: drifted over the period (the verdict above), but no {MIN_DRIFT_RUN} {every} windows in a "
                 "row pass the per-window test: the shift is too small to see in one window's rows, or spread "
                 "thin over the period, so it has no start here.")
    if not started and not period:
        sec.note(f"No feature drifted for {MIN_DRIFT_RUN} or more {every} windows in a row.")
    rep.figures["drift_started"] = {c: w.isoformat() for c, w in started.items()}
    sec.note(window_note(rep))
    sec.keep(over_time=frame)
    sec.chart(charts.heatmap_chart(frame, title=f"KL divergence per feature and {every} window",
                                   color_title="KL (higher = more drift)"))
    kl = frame.select("window_start", "column", "statistic").pivot(on="column", index="window_start",
                                                                  values="statistic")
    sec.chart(charts.lines_chart(kl, [c for c in cols if c in kl.columns], title=f"KL divergence per {every}",
                                 y_title="KL divergence (higher = more drift)", thresholds={"alert": 0.3}))
    return rep.record(sec)


def distributions(rep: ReportContext) -> Section:
    """Training vs production for every checked feature, most drifted first."""
    from obskit.analyze.distributions import distributions as dist

    sec = Section("Distributions")
    inputs = drift_inputs(rep)
    if isinstance(inputs, str):
        return rep.record(sec.skip(inputs))
    cols, reference, ok = inputs
    current = ok_scan(rep)
    if current is not None:
        sec.note("Shares count every successful request of the period. The order (largest effect first) comes from "
                 "the drift tests: " + sample_note(rep))
    order = feature_drift(rep, cols).sort("effect_size", descending=True, nulls_last=True)["column"].to_list()
    for col in order:
        sec.chart(charts.distribution_chart(dist(reference, ok if current is None else current, col), title=col,
                                            x_title=col))
    return rep.record(sec)


def ok_scan(rep: ReportContext) -> pl.LazyFrame | None:
    """At scale, the period's successful requests as a lazy scan (aggregated in streaming passes), else None."""
    scan = rep.session.request_scan(feedback=False)
    return None if scan is None else scan.filter(pl.col("status").cast(pl.String) == "ok")


def _prediction_over_time(rep: ReportContext, reference: pl.DataFrame) -> pl.DataFrame:
    """Prediction drift per drift window: every row of each window (one window in memory at scale)."""
    from obskit.analyze.drift import prediction_drift_over_time

    ok = ok_scan(rep)
    if ok is None:
        return prediction_drift_over_time(reference, _ok(rep), every=rep.drift_window)
    from obskit.scale.windows import drift_by_window

    cols = [c for c in ("prediction", "confidence") if c in ok.collect_schema().names()]
    return drift_by_window(reference, ok, every=rep.drift_window, columns=cols, test=lambda rows:
                           prediction_drift_over_time(reference, rows, every=rep.drift_window))


def prediction(rep: ReportContext) -> Section:
    """The predicted class mix and the confidence over time against training."""
    from obskit.analyze.distributions import distributions as dist
    from obskit.analyze.drift import drift_score

    sec = Section("Prediction drift")
    reference, requests = rep.reference, rows(rep)
    if requests is None or reference is None:
        return rep.record(sec.skip("needs the period's requests and the reference set"))
    if "prediction" not in reference.columns or "prediction" not in requests.columns:
        return rep.record(sec.skip("no prediction column in the requests or the reference"))
    if rep.scale is not None:
        sec.note("At scale the drift per window tests every row of each window, and the class chart counts every "
                 "successful request.")
    pred = drift_score(_prediction_over_time(rep, reference))
    sec.keep(prediction=pred)
    sec.note(window_note(rep))
    # the score, not the raw statistic: a p-value (KS, z) falls as drift grows, a distance rises
    sec.chart(charts.heatmap_chart(pred, color="drift_score", title=f"Prediction drift per {rep.drift_window}",
                                   color_title="drift score (× threshold, higher = more drift)"))
    scan = ok_scan(rep)
    sec.chart(charts.distribution_chart(dist(reference, _ok(rep) if scan is None else scan, "prediction"),
                                        title="Predicted classes: training vs production"))
    return rep.record(sec)


def multivariate(rep: ReportContext, *, max_rows: int = 10_000) -> Section:
    """A domain classifier telling training rows from production rows (AUC, importances)."""
    sec = Section("Multivariate drift")
    inputs = drift_inputs(rep)
    if isinstance(inputs, str):
        return rep.record(sec.skip(inputs))
    cols, reference, ok = inputs
    note_sample(rep, sec)
    mv = _domain(rep, cols, reference, ok, max_rows)
    sec.note(mv.summary(), kind="warning" if mv.drifted else "info")
    sec.table(mv.importance, caption="What drives it", name="importance")
    rep.figures["domain_classifier_auc"] = mv.auc
    if mv.drifted:
        sec.warn(f"domain classifier separates training from production (AUC {mv.auc:.2f})", flag="drift")
    return rep.record(sec)


def quality(rep: ReportContext) -> Section:
    """Types, ranges, missing shares and categories of training, checked on production."""
    from obskit.analyze.quality import check_quality, infer_baseline

    sec = Section("Data quality against the training baseline")
    inputs = drift_inputs(rep)
    if isinstance(inputs, str):
        return rep.record(sec.skip(inputs))
    cols, reference, ok = inputs
    scan = ok_scan(rep)  # at scale: every successful request, streamed
    current = ok if scan is None else scan
    violations = check_quality(infer_baseline(reference, columns=cols), current.select(cols))
    sec.keep(violations=violations)
    if violations.height:
        sec.table(violations, caption="Violations").warn(f"{violations.height} data-quality violation(s)")
    else:
        sec.note("No data-quality violation.")
    rep.figures["quality_violations"] = violations.height
    return rep.record(sec)
