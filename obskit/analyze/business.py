"""Business monitoring: attempts, confident predictions, user corrections, estimated and measured quality.

The figures teams watch once the service is up (see the background notes in the design):
how many predictions were *attempted*, which share was *confident* enough to be acted on
(confidence at or above a threshold; one team's historical figure was 73.49 %), and how
often users *corrected* a confident output (investigate above about 1 %).

:func:`business_metrics`
    Attempts, confident rate and correction rate per window.
:func:`fit_calibration` / :func:`quality_estimate`
    A label-free accuracy estimate (CBPE-like: the expected accuracy is the mean of the
    calibrated confidence), calibrated on the reference set's ``label``/``prediction``/
    ``confidence`` with isotonic regression or histogram binning.
:func:`classification_metrics`
    Accuracy and macro precision/recall/F1 per window where labels (or corrections) exist.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = pl.DataFrame({"timestamp": [t] * 4, "status": ["ok", "ok", "ok", "error"],
...                   "confidence": [0.95, 0.9, 0.5, None], "corrected_label": ["cat", None, None, None]})
>>> business_metrics(r).select("attempts", "confident", "confident_rate", "correction_rate").row(0)
(4, 2, 0.6666666666666666, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from obskit.analyze._frames import require, window_expr
from obskit.errors import AnalysisError

__all__ = [
    "BUSINESS_COUNTS",
    "HISTORICAL_CONFIDENT_RATE",
    "Calibration",
    "business_from_counts",
    "business_metrics",
    "business_rates",
    "classification_metrics",
    "fit_calibration",
    "quality_estimate",
]

HISTORICAL_CONFIDENT_RATE = 0.7349
"""Share of confident predictions one production team reported as its historical norm."""

_OK = pl.col("status").cast(pl.String) == "ok"

#: The count columns of :func:`business_metrics` (they add up over versions and windows).
BUSINESS_COUNTS = ("attempts", "answered", "confident", "corrections", "corrected_confident")


def business_rates() -> list[pl.Expr]:
    """The rates of :func:`business_metrics` from its counts, e.g. after summing them over versions.

    Examples
    --------
    >>> import polars as pl
    >>> c = pl.DataFrame({"answered": [4, 0], "confident": [2, 0], "corrections": [1, 0],
    ...                   "corrected_confident": [1, 0]})
    >>> c.with_columns(business_rates()).select("confident_rate", "correction_rate").rows()
    [(0.5, 0.5), (None, None)]
    """
    return [
        pl.when(pl.col("answered") > 0).then(pl.col("confident") / pl.col("answered")).alias("confident_rate"),
        pl.when(pl.col("confident") > 0)
        .then(pl.col("corrected_confident") / pl.col("confident"))
        .alias("correction_rate"),
        pl.when(pl.col("answered") > 0).then(pl.col("corrections") / pl.col("answered")).alias("any_correction_rate"),
    ]


def business_metrics(
    requests: pl.DataFrame | pl.LazyFrame,
    every: str = "1h",
    *,
    confidence_threshold: float = 0.8,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Attempts, confident-prediction rate and correction rate per window.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``, ``status``, ``confidence``; corrections in
        ``corrected_label`` when feedback was attached).
    every
        Window length.
    confidence_threshold
        A prediction with ``confidence >= confidence_threshold`` is confident.
    by
        Grouping columns.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``by`` columns, ``attempts`` (all requests), ``answered``
        (successful requests with a confidence), ``confident``, ``confident_rate``
        (confident / answered), ``corrections`` (answered requests a user corrected),
        ``corrected_confident``, ``correction_rate`` (corrected confident / confident) and
        ``any_correction_rate`` (corrections / answered). Rates are null with a zero
        denominator; correction columns are null without a ``corrected_label`` column.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "status": ["ok", "ok"],
    ...                   "confidence": [0.9, 0.7]})
    >>> business_metrics(r, confidence_threshold=0.8).select("confident_rate", "correction_rate").row(0)
    (0.5, None)
    """
    lf = requests.lazy()
    require(lf, ["timestamp", "status", "confidence", *by], "business_metrics")
    has_fix = "corrected_label" in lf.collect_schema().names()
    answered = _OK & pl.col("confidence").is_not_null()
    confident = answered & (pl.col("confidence") >= confidence_threshold)
    fixed = answered & pl.col("corrected_label").is_not_null() if has_fix else pl.lit(None, dtype=pl.Boolean)
    out = (
        lf.select(
            window_expr(every),
            *by,
            answered.alias("_ans"),
            confident.alias("_conf"),
            fixed.alias("_fix"),
        )
        .group_by(["window_start", *by])
        .agg(
            pl.len().cast(pl.Int64).alias("attempts"),
            pl.col("_ans").sum().cast(pl.Int64).alias("answered"),
            pl.col("_conf").sum().cast(pl.Int64).alias("confident"),
            (pl.col("_fix").sum().cast(pl.Int64) if has_fix else pl.lit(None, dtype=pl.Int64)).alias("corrections"),
            (
                (pl.col("_fix") & pl.col("_conf")).sum().cast(pl.Int64) if has_fix else pl.lit(None, dtype=pl.Int64)
            ).alias("corrected_confident"),
        )
        .collect(engine="streaming")
    )
    return business_from_counts(out, by=by)


def business_from_counts(counts: pl.DataFrame, *, by: Sequence[str] = ()) -> pl.DataFrame:
    """The frame of :func:`business_metrics` from its counts per window (:data:`BUSINESS_COUNTS`).

    The one place the business rates and the frame's order are decided: the rows' own counts
    and a window state's (:meth:`obskit.scale.rollup.Rollup.business`) finish here alike.
    Correction counts are null when no feedback was attached.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame({"window_start": [datetime(2026, 1, 1, tzinfo=UTC)], "attempts": [5], "answered": [4],
    ...                   "confident": [2], "corrections": [None], "corrected_confident": [None]})
    >>> business_from_counts(c).select("confident_rate", "correction_rate").row(0)
    (0.5, None)
    """
    out = counts.with_columns(pl.col(c).cast(pl.Int64) for c in BUSINESS_COUNTS).with_columns(business_rates())
    return out.sort(["window_start", *by]).select(
        "window_start",
        *by,
        "attempts",
        "answered",
        "confident",
        "confident_rate",
        "corrections",
        "corrected_confident",
        "correction_rate",
        "any_correction_rate",
    )


# ------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """A monotone map from confidence to the probability that the prediction is right.

    ``x``/``y`` are the knots: isotonic calibrations interpolate linearly between them
    (clipped at the ends, as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``);
    histogram calibrations use ``y[i]`` for confidences in bin ``[x[i], x[i+1])``.

    >>> Calibration("histogram", np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.9])).apply(np.array([0.1, 0.7]))
    array([0.2, 0.9])
    """

    method: str
    x: np.ndarray
    y: np.ndarray

    def apply(self, confidence: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for ``confidence`` values (NaN stays NaN)."""
        c = np.asarray(confidence, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(c, self.x, self.y)
        idx = np.clip(np.searchsorted(self.x, c, side="right") - 1, 0, self.y.size - 1)
        return np.where(np.isnan(c), np.nan, self.y[idx])


def _pav(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the non-decreasing fit of ``y`` with weights ``w``."""
    means: list[float] = []
    weights: list[float] = []
    counts: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        means.append(yi)
        weights.append(wi)
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            m2, w2, c2 = means.pop(), weights.pop(), counts.pop()
            w1 = weights[-1]
            means[-1] = (means[-1] * w1 + m2 * w2) / (w1 + w2)
            weights[-1] = w1 + w2
            counts[-1] += c2
    return np.repeat(np.array(means), np.array(counts))


def fit_calibration(
    reference: pl.DataFrame,
    method: Literal["isotonic", "histogram"] = "isotonic",
    *,
    bins: int = 10,
) -> Calibration:
    """Fit confidence calibration on labelled reference rows (``label``, ``prediction``, ``confidence``).

    Parameters
    ----------
    reference
        The reference (training/validation) frame; rows with a null in any of the three
        columns are ignored.
    method
        ``"isotonic"`` (pool-adjacent-violators on the unique confidences) or
        ``"histogram"`` (``bins`` equal-width bins on [0, 1]; an empty bin maps to its
        midpoint).
    bins
        Number of histogram bins.

    Raises
    ------
    AnalysisError
        Missing columns, no usable rows, or an unknown method.

    Examples
    --------
    >>> import polars as pl
    >>> ref = pl.DataFrame({"label": ["a", "b", "a", "a"], "prediction": ["a", "a", "a", "a"],
    ...                     "confidence": [0.2, 0.4, 0.6, 0.8]})
    >>> cal = fit_calibration(ref)
    >>> cal.apply(np.array([0.2, 0.3, 0.9])).tolist()
    [0.5, 0.5, 1.0]
    """
    require(reference, ["label", "prediction", "confidence"], "fit_calibration")
    df = reference.select("label", "prediction", "confidence").drop_nulls()
    if df.is_empty():
        raise AnalysisError("fit_calibration: no reference row has label, prediction and confidence")
    conf = df.get_column("confidence").cast(pl.Float64).to_numpy()
    right = (df.get_column("label").cast(pl.String) == df.get_column("prediction").cast(pl.String)).to_numpy()
    right = right.astype(np.float64)
    if method == "isotonic":
        order = np.argsort(conf, kind="stable")
        xs, ys = conf[order], right[order]
        ux, start, counts = np.unique(xs, return_index=True, return_counts=True)
        sums = np.add.reduceat(ys, start)
        fitted = _pav(sums / counts, counts.astype(np.float64))
        return Calibration("isotonic", ux, fitted)
    if method == "histogram":
        if bins < 1:
            raise AnalysisError(f"bins must be >= 1, got {bins}")
        edges = np.linspace(0.0, 1.0, bins + 1)
        idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
        n = np.bincount(idx, minlength=bins)
        hit = np.bincount(idx, weights=right, minlength=bins)
        mid = (edges[:-1] + edges[1:]) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(n > 0, hit / np.maximum(n, 1), mid)
        return Calibration("histogram", edges, acc)
    raise AnalysisError(f"unknown calibration method {method!r}; use 'isotonic' or 'histogram'")


def quality_estimate(
    requests: pl.DataFrame | pl.LazyFrame,
    every: str = "1h",
    *,
    calibration: Calibration | None = None,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Label-free accuracy estimate per window: the mean (calibrated) confidence of answered requests.

    With a calibrated model the expected accuracy of a batch equals its mean confidence
    (the idea behind confidence-based performance estimation); ``calibration`` fixes an
    over- or under-confident model first. The estimate assumes the relation between
    confidence and correctness has not changed, so it misses concept drift.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``by`` columns, ``answered``, ``mean_confidence``,
        ``expected_accuracy`` and ``method`` (``"raw"``, ``"isotonic"``, ``"histogram"``).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "status": ["ok", "ok"],
    ...                   "confidence": [0.9, 0.7]})
    >>> quality_estimate(r).select("answered", "expected_accuracy", "method").row(0)
    (2, 0.8, 'raw')
    """
    lf = requests.lazy()
    require(lf, ["timestamp", "status", "confidence", *by], "quality_estimate")
    df = lf.filter(_OK & pl.col("confidence").is_not_null()).select(window_expr(every), *by, "confidence").collect()
    conf = df.get_column("confidence").cast(pl.Float64).to_numpy()
    cal = conf if calibration is None else calibration.apply(conf)
    method = "raw" if calibration is None else calibration.method
    return (
        df.with_columns(pl.Series("_cal", cal))
        .group_by(["window_start", *by])
        .agg(
            pl.len().cast(pl.Int64).alias("answered"),
            pl.col("confidence").mean().alias("mean_confidence"),
            pl.col("_cal").mean().alias("expected_accuracy"),
        )
        .with_columns(pl.lit(method).alias("method"))
        .sort(["window_start", *by])
    )


# ---------------------------------------------------------- measured quality


def classification_metrics(
    requests: pl.DataFrame | pl.LazyFrame,
    every: str = "1h",
    *,
    truth: Literal["auto", "label", "corrections"] = "auto",
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Accuracy and macro precision, recall and F1 per window, where the truth is known.

    Parameters
    ----------
    requests
        A ``requests`` frame with ``prediction`` and ``label`` and/or ``corrected_label``.
    every
        Window length.
    truth
        ``"label"``: rows with a ground-truth ``label``. ``"corrections"``: every answered
        row, the truth being ``corrected_label`` where a user corrected it and the
        prediction otherwise (uncorrected outputs are taken as right, so this is an
        optimistic bound). ``"auto"``: ``label`` if that column has values, else
        corrections.
    by
        Grouping columns.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``by`` columns, ``labelled`` (rows used), ``accuracy``,
        ``precision``, ``recall``, ``f1`` (macro averages over the classes seen in the
        window's truth or predictions; a class with a zero denominator scores 0, like
        scikit-learn's ``zero_division=0``) and ``truth``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 4,
    ...                   "prediction": ["a", "a", "b", "b"], "label": ["a", "b", "b", "b"]})
    >>> classification_metrics(r).select("accuracy", "precision", "recall", "f1").row(0)
    (0.75, 0.75, 0.8333333333333333, 0.7333333333333334)
    """
    lf = requests.lazy()
    names = lf.collect_schema().names()
    require(lf, ["timestamp", "prediction", *by], "classification_metrics")
    if truth == "auto":
        has_label = "label" in names and lf.select(pl.col("label").is_not_null().any()).collect().item()
        truth = "label" if has_label else "corrections"
    if truth == "label":
        require(lf, ["label"], "classification_metrics")
        t_expr = pl.col("label").cast(pl.String)
        base = lf.filter(pl.col("label").is_not_null() & pl.col("prediction").is_not_null())
    elif truth == "corrections":
        require(lf, ["corrected_label"], "classification_metrics")
        t_expr = pl.coalesce(pl.col("corrected_label").cast(pl.String), pl.col("prediction").cast(pl.String))
        base = lf.filter(pl.col("prediction").is_not_null())
        if "status" in names:
            base = base.filter(_OK)
    else:
        raise AnalysisError(f"unknown truth {truth!r}; use 'auto', 'label' or 'corrections'")
    keys = ["window_start", *by]
    df = base.select(window_expr(every), *by, t_expr.alias("_t"), pl.col("prediction").cast(pl.String).alias("_p"))
    totals = df.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("labelled"), (pl.col("_t") == pl.col("_p")).mean().alias("accuracy")
    )
    tp = df.filter(pl.col("_t") == pl.col("_p")).group_by([*keys, "_t"]).agg(pl.len().alias("tp"))
    tp = tp.rename({"_t": "_c"})
    support = df.group_by([*keys, "_t"]).agg(pl.len().alias("support")).rename({"_t": "_c"})
    predicted = df.group_by([*keys, "_p"]).agg(pl.len().alias("predicted")).rename({"_p": "_c"})
    per_class = (
        support.join(predicted, on=[*keys, "_c"], how="full", coalesce=True, nulls_equal=True)
        .join(tp, on=[*keys, "_c"], how="left", nulls_equal=True)
        .with_columns(pl.col("tp", "support", "predicted").fill_null(0))
        .with_columns(
            pl.when(pl.col("predicted") > 0).then(pl.col("tp") / pl.col("predicted")).otherwise(0.0).alias("_prec"),
            pl.when(pl.col("support") > 0).then(pl.col("tp") / pl.col("support")).otherwise(0.0).alias("_rec"),
        )
        .with_columns(
            pl.when(pl.col("_prec") + pl.col("_rec") > 0)
            .then(2 * pl.col("_prec") * pl.col("_rec") / (pl.col("_prec") + pl.col("_rec")))
            .otherwise(0.0)
            .alias("_f1")
        )
        .group_by(keys)
        .agg(
            pl.col("_prec").mean().alias("precision"),
            pl.col("_rec").mean().alias("recall"),
            pl.col("_f1").mean().alias("f1"),
        )
    )
    return (
        totals.join(per_class, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.lit(truth).alias("truth"))
        .select(*keys, "labelled", "accuracy", "precision", "recall", "f1", "truth")
        .sort(keys)
        .collect()
    )
