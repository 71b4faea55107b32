"""Data drift between a reference frame and current traffic, Evidently-compatible and fast.

:func:`column_drift` tests every column of ``current`` against ``reference`` and returns one
row per column with *two* verdicts:

``drifted`` (Evidently-compatible)
    The test Evidently 0.7's ``DataDriftPreset`` would pick (see
    :mod:`obskit.analyze.stattests`), with the same statistic, threshold and comparison,
    so the column-level result and the dataset-level share match an Evidently report.
``obskit_drifted`` (the obskit verdict)
    With large samples every p-value test rejects: 200k requests against a 200k-row
    training set make a shift of 0.02 standard deviations "significant" (KS p ~ 1e-6) though
    no model notices it; and testing 50 columns at 5 % each flags 2.5 columns by chance
    alone. obskit therefore asks two more questions:

    * p-value tests: is the Benjamini-Hochberg adjusted p-value (the false discovery rate
      across all p-value columns of the call) below ``fdr_alpha`` *and* is the effect size
      at least a practical minimum (:data:`MIN_EFFECT`: normalized Wasserstein >= 0.1 for
      numeric columns, i.e. a tenth of a reference standard deviation of mass moved;
      Jensen-Shannon distance >= 0.1 for categorical ones; the same values Evidently uses
      as default thresholds for those distances)?
    * distance tests: is the Evidently verdict positive *and* does the effect-size
      confidence interval exclude zero (a distance that sampling noise alone can produce
      is not drift)?

Effect sizes
    Numeric columns: Wasserstein-1 distance divided by ``max(std(reference), 0.001)``
    (``effect_name="wasserstein_normed"``, the same quantity as Evidently's
    ``wasserstein`` statistic). Categorical columns: Jensen-Shannon distance (natural log)
    between the category shares (``"jensenshannon"``). The confidence interval is a
    *basic* (reverse-percentile) bootstrap interval, ``[2*d - q_hi, 2*d - q_lo]`` clipped
    at zero, from ``n_boot`` multinomial resamples of a compact representation of each
    sample: the category counts, or for numeric columns the counts in up to ~128 shared
    cells whose edges are quantiles of both samples (exact for columns with few distinct
    values). Resampling cell counts costs O(n_boot x cells), whatever the row count; the
    interval is shifted by the difference between the exact and the binned point estimate,
    and the reference standard deviation is held fixed. The basic interval, unlike the
    percentile one, reaches zero when the distance is within noise, because a resampled
    distance is biased upwards.

Speed
    Values are taken from polars as numpy arrays, sorted once per column (polars' integer
    sort on order-preserving int64 keys of the floats) and every statistic works on the
    sorted arrays: the Wasserstein distance integrates the difference of the two quantile
    functions over their merged steps (an arithmetic merge, no sort; ``mean(|a - b|)`` for
    equal sizes), histograms are ``searchsorted`` calls, value counts come from run
    lengths. Columns run in a thread pool. 1M rows x 20 numeric columns takes under a
    second on two cores where Evidently takes minutes (see ``benchmarks/bench_drift.py``).

Examples
--------
>>> import numpy as np, polars as pl
>>> rng = np.random.default_rng(0)
>>> ref = pl.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b", "c"], 2000)})
>>> cur = pl.DataFrame({"x": rng.normal(0.5, 1, 2000), "c": rng.choice(["a", "b", "c"], 2000)})
>>> out = column_drift(ref, cur)
>>> out.select("column", "method", "drifted", "obskit_drifted").rows()
[('x', 'wasserstein', True, True), ('c', 'jensenshannon', False, False)]
>>> dataset_drift(out).share
0.5
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.special import rel_entr

from obskit.analyze.stattests import (
    KINDS,
    ArrayLike,
    DriftOptions,
    Kind,
    Sample,
    binned_shares,
    fill_empty_bins,
    joint_counts,
    normed_wasserstein,
)
from obskit.errors import AnalysisError

__all__ = [
    "INTEGER_CARDINALITY_LIMIT",
    "KL_ALERT_THRESHOLD",
    "MIN_EFFECT",
    "PSI_BANDS",
    "DatasetDrift",
    "benjamini_hochberg",
    "column_drift",
    "dataset_drift",
    "drift_over_time",
    "drift_score",
    "infer_kind",
    "kl_divergence",
    "prediction_drift_over_time",
    "psi",
    "psi_band",
    "psi_noise_floor",
    "resolve_columns",
]

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

#: Practical minimum effect size for the obskit verdict of p-value tests, by column kind.
MIN_EFFECT: Mapping[Kind, float] = {"numeric": 0.1, "categorical": 0.1}
#: Default alert threshold of :func:`kl_divergence` (nats).
KL_ALERT_THRESHOLD = 0.3
#: PSI band limits: below 0.1 stable, below 0.25 moderate, else significant.
PSI_BANDS = (0.1, 0.25)
#: Integer columns with at most this many distinct values are categorical (Evidently's rule).
INTEGER_CARDINALITY_LIMIT = 10
#: Cells of the compact representation used by the numeric bootstrap.
_BOOT_CELLS = 128
#: Row count above which columns are processed in a thread pool.
_PARALLEL_ROWS = 100_000

RESULT_SCHEMA = pl.Schema(
    {
        "column": pl.String(),
        "kind": pl.String(),
        "method": pl.String(),
        "is_pvalue": pl.Boolean(),
        "statistic": pl.Float64(),
        "threshold": pl.Float64(),
        "drifted": pl.Boolean(),
        "n_reference": pl.Int64(),
        "n_current": pl.Int64(),
        "effect_size": pl.Float64(),
        "effect_ci_low": pl.Float64(),
        "effect_ci_high": pl.Float64(),
        "effect_name": pl.String(),
        "p_value_adjusted": pl.Float64(),
        "obskit_drifted": pl.Boolean(),
    }
)


# --------------------------------------------------------------------------- helpers


def infer_kind(series: pl.Series) -> Kind | None:
    """The drift kind of a column, or None when drift does not apply.

    Follows Evidently's ``infer_column_type``: floats are numeric; integers are numeric
    unless they have at most 10 distinct values (then categorical); booleans, categoricals
    and enums are categorical; strings are categorical unless more than half of the
    non-null values are distinct (Evidently calls those "text", e.g. request ids, and
    obskit does not test them: pass ``kinds`` to force a kind). Dates, durations, lists,
    structs and all-null columns have no kind. Two differences from an Evidently run:
    obskit infers on the *reference* frame (Evidently on the current one), and on polars
    dtypes (an integer column with nulls stays an integer here, while pandas turns it into
    floats, hence numeric, for Evidently). Pass ``kinds`` to pin kinds when comparing.

    >>> infer_kind(pl.Series([1, 2, 3])), infer_kind(pl.Series(range(50)))
    ('categorical', 'numeric')
    >>> infer_kind(pl.Series([1.5])), infer_kind(pl.Series(["a", "a", "b", "a"]))
    ('numeric', 'categorical')
    >>> infer_kind(pl.Series(["id1", "id2", "id3"])), infer_kind(pl.Series([None]))
    (None, None)
    """
    dt = series.dtype
    if series.null_count() == series.len():
        return None  # nothing to compare
    if dt.is_float():
        return "numeric"
    distinct = series.n_unique() - (series.null_count() > 0)
    if dt.is_integer():
        return "categorical" if distinct <= INTEGER_CARDINALITY_LIMIT else "numeric"
    if dt == pl.String:
        return None if distinct > 0.5 * (series.len() - series.null_count()) else "categorical"
    if dt in (pl.Boolean, pl.Categorical) or isinstance(dt, pl.Enum):
        return "categorical"
    return None


def benjamini_hochberg(p_values: ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (NaN entries stay NaN and are not counted).

    ``adj[i] = min over j with p[j] >= p[i] of p[j] * m / rank[j]``, capped at 1.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.20]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    scaled = q[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(adjusted, 1.0)
    out[ok] = res
    return out


def _seed_for(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _basic_ci(
    point: float, binned: float, boot: FloatArray, ci_level: float
) -> tuple[float, float]:
    alpha = 1.0 - ci_level
    q_lo, q_hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    shift = point - binned
    lo = max(0.0, 2 * binned - float(q_hi) + shift)
    hi = max(lo, 2 * binned - float(q_lo) + shift)
    return lo, hi


def _numeric_effect(
    ref: Sample,
    cur: Sample,
    point: float | None,
    ci_level: float,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[float, float, float]:
    value = normed_wasserstein(ref, cur) if point is None else point
    norm = max(ref.std, 0.001)
    half = _BOOT_CELLS // 2
    pts = np.concatenate(
        (
            ref.sorted[np.linspace(0, ref.n - 1, half + 1).round().astype(np.int64)],
            cur.sorted[np.linspace(0, cur.n - 1, half + 1).round().astype(np.int64)],
        )
    )
    edges = np.unique(pts)
    if edges.size < 2 or n_boot <= 0:
        return value, value, value
    widths = np.diff(edges)
    cum_r = ref.sorted.searchsorted(edges, "right")
    cum_c = cur.sorted.searchsorted(edges, "right")
    binned = float(np.sum(np.abs(cum_r[:-1] / ref.n - cum_c[:-1] / cur.n) * widths)) / norm
    cells_r = np.diff(cum_r, prepend=0)
    cells_c = np.diff(cum_c, prepend=0)
    br = rng.multinomial(ref.n, cells_r / cells_r.sum(), size=n_boot).cumsum(axis=1)
    bc = rng.multinomial(cur.n, cells_c / cells_c.sum(), size=n_boot).cumsum(axis=1)
    boot = np.abs(br[:, :-1] / ref.n - bc[:, :-1] / cur.n) @ widths / norm
    lo, hi = _basic_ci(value, binned, boot, ci_level)
    return value, lo, hi


def _js_rows(p: FloatArray, q: FloatArray) -> FloatArray:
    m = (p + q) / 2.0
    js = (rel_entr(p, m).sum(axis=-1) + rel_entr(q, m).sum(axis=-1)) / 2.0
    return np.asarray(np.sqrt(np.maximum(js, 0.0)), dtype=np.float64)


def _categorical_effect(
    ref: Sample,
    cur: Sample,
    point: float | None,
    ci_level: float,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[float, float, float]:
    rc, cc = joint_counts(ref, cur)
    pr, pc = rc / ref.n, cc / cur.n
    value = float(_js_rows(pr, pc)) if point is None else point
    if rc.size < 2 or n_boot <= 0:
        return value, value, value
    br = rng.multinomial(ref.n, pr / pr.sum(), size=n_boot) / ref.n
    bc = rng.multinomial(cur.n, pc / pc.sum(), size=n_boot) / cur.n
    lo, hi = _basic_ci(value, value, _js_rows(br, bc), ci_level)
    return value, lo, hi


def _pmap(
    func: Callable[[T], dict[str, Any]], items: Sequence[T], parallel: bool
) -> list[dict[str, Any]]:
    if not parallel or len(items) < 2:
        return [func(x) for x in items]
    workers = min(len(items), max(2, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))


# --------------------------------------------------------------------------- column drift


def resolve_columns(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    columns: Sequence[str] | None,
    kinds: Mapping[str, str] | None,
    exclude: Sequence[str] = (),
) -> dict[str, Kind]:
    """The columns to compare and their kind (``numeric`` or ``categorical``).

    ``columns=None`` takes every column both frames share (minus ``exclude``) whose kind can
    be inferred from the reference's dtype; named columns must exist on both sides and have
    an inferable or given kind. Shared by every reference-vs-current comparison (column
    drift, multivariate drift, the Evidently report) so they pick the same columns.

    >>> import polars as pl
    >>> ref = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "a", "b"], "id": ["r1", "r2", "r3", "r4"]})
    >>> resolve_columns(ref, ref, None, None)  # "id" looks like free text: skipped
    {'x': 'numeric', 'c': 'categorical'}
    """
    if reference.height == 0:
        raise AnalysisError("the reference frame is empty")
    kinds = dict(kinds or {})
    for name, given in kinds.items():
        if given not in KINDS:
            raise AnalysisError(f"unknown kind {given!r}; expected one of {KINDS}", column=name)
    explicit = columns is not None
    names = (
        list(columns)
        if columns is not None
        else [c for c in reference.columns if c in current.columns and c not in exclude]
    )
    out: dict[str, Kind] = {}
    for name in names:
        for frame, label in ((reference, "reference"), (current, "current")):
            if name not in frame.columns:
                raise AnalysisError(f"column missing from the {label} frame", column=name)
        kind = kinds.get(name) or infer_kind(reference.get_column(name))
        if kind is None:
            if explicit:
                series = reference.get_column(name)
                if series.null_count() == series.len():
                    raise AnalysisError("no non-null values in the reference data", column=name)
                dtype = reference.schema[name]
                raise AnalysisError(
                    f"cannot infer a drift kind for dtype {dtype}; pass kinds={{...}}",
                    column=name,
                )
            continue
        out[name] = "numeric" if kind == "numeric" else "categorical"
    if not out:
        raise AnalysisError("no column to test for drift (no numeric or categorical column)")
    return out


def _drift_rows(
    names: Sequence[str],
    get_reference: Callable[[str], Sample],
    current: pl.DataFrame,
    *,
    parallel: bool,
    options: DriftOptions,
    fdr_alpha: float,
    ci_level: float,
    seed: int,
    n_boot: int,
    min_effect: Mapping[Kind, float],
    min_rows: int = 1,
    skip_small: bool = False,
) -> list[dict[str, Any]]:
    def one(name: str) -> dict[str, Any]:
        ref = get_reference(name)
        cur = Sample(current.get_column(name), ref.kind, name, multithreaded=not parallel)
        if cur.n < max(min_rows, 1):
            if skip_small:
                return {}
            raise AnalysisError("no non-null values in the current data", column=name)
        test = options.test_for(ref, cur)
        thr = options.threshold_for(name, test)
        stat = test.compute(ref, cur)
        rng = _seed_for(seed, name)
        if ref.kind == "numeric":
            point = stat if test.name == "wasserstein" else None
            eff, lo, hi = _numeric_effect(ref, cur, point, ci_level, n_boot, rng)
            eff_name = "wasserstein_normed"
        else:
            point = stat if test.name == "jensenshannon" else None
            eff, lo, hi = _categorical_effect(ref, cur, point, ci_level, n_boot, rng)
            eff_name = "jensenshannon"
        return {
            "column": name,
            "kind": ref.kind,
            "method": test.name,
            "is_pvalue": test.is_pvalue,
            "statistic": stat,
            "threshold": thr,
            "drifted": test.drifted(stat, thr),
            "n_reference": ref.n,
            "n_current": cur.n,
            "effect_size": eff,
            "effect_ci_low": lo,
            "effect_ci_high": hi,
            "effect_name": eff_name,
        }

    rows = [r for r in _pmap(one, list(names), parallel) if r]
    pvals = [r["statistic"] if r["is_pvalue"] else np.nan for r in rows]
    adjusted = benjamini_hochberg(pvals)
    for row, adj in zip(rows, adjusted, strict=True):
        if row["is_pvalue"]:
            row["p_value_adjusted"] = None if np.isnan(adj) else float(adj)
            row["obskit_drifted"] = bool(
                not np.isnan(adj)
                and adj < fdr_alpha
                and row["effect_size"] >= min_effect[row["kind"]]
            )
        else:
            row["p_value_adjusted"] = None
            row["obskit_drifted"] = bool(row["drifted"] and row["effect_ci_low"] > 0)
    return rows


def _reference_sample(
    reference: pl.DataFrame, name: str, kind: Kind, multithreaded: bool = True
) -> Sample:
    sample = Sample(reference.get_column(name), kind, name, multithreaded=multithreaded)
    if sample.n == 0:
        raise AnalysisError("no non-null values in the reference data", column=name)
    return sample


def _reference_samples(
    reference: pl.DataFrame, kinds: Mapping[str, Kind], parallel: bool
) -> dict[str, Sample]:
    def one(name: str) -> dict[str, Any]:
        return {"s": _reference_sample(reference, name, kinds[name], not parallel)}

    names = list(kinds)
    return {n: r["s"] for n, r in zip(names, _pmap(one, names, parallel), strict=True)}


def _check_args(fdr_alpha: float, ci_level: float, n_boot: int) -> None:
    if not 0 < fdr_alpha < 1:
        raise AnalysisError(f"fdr_alpha must be in (0, 1), got {fdr_alpha}")
    if not 0 < ci_level < 1:
        raise AnalysisError(f"ci_level must be in (0, 1), got {ci_level}")
    if n_boot < 0:
        raise AnalysisError(f"n_boot must be >= 0, got {n_boot}")


def _min_effect(value: float | Mapping[Kind, float] | None) -> dict[Kind, float]:
    if value is None:
        return dict(MIN_EFFECT)
    if isinstance(value, Mapping):
        return {**MIN_EFFECT, **value}
    return dict.fromkeys(KINDS, float(value))


def column_drift(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    method: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    fdr_alpha: float = 0.05,
    ci_level: float = 0.95,
    seed: int = 0,
    n_boot: int = 200,
    min_effect: float | Mapping[Kind, float] | None = None,
    options: DriftOptions | None = None,
) -> pl.DataFrame:
    """Drift of each column of ``current`` against ``reference``.

    Parameters
    ----------
    reference, current
        The training/reference frame and the frame to test.
    columns
        Columns to test; default: every column of both frames with a drift kind
        (see :func:`infer_kind`).
    kinds
        ``{column: "numeric" | "categorical"}`` overriding the inferred kinds.
    method
        A registered test name for every column, or ``{column: name}``; columns without
        one get Evidently's automatic choice (:func:`~obskit.analyze.stattests.default_test`).
    threshold
        A threshold for every column, or ``{column: value}``; default: the test's.
    drift_share
        Evidently's dataset rule parameter, accepted (and checked) for parity with its
        preset; the dataset verdict itself is :func:`dataset_drift` ``(result, drift_share)``.
    fdr_alpha
        False discovery rate for the Benjamini-Hochberg step of the obskit verdict.
    ci_level
        Level of the effect-size confidence interval.
    seed
        Seed of the bootstrap (per column, independent of column order and threads).
    n_boot
        Bootstrap resamples (0: no interval; the bounds equal the point estimate).
    min_effect
        Practical minimum effect for p-value tests (default :data:`MIN_EFFECT`).
    options
        A :class:`~obskit.analyze.stattests.DriftOptions` (the same object the over-time,
        streaming and Dask paths take); ``columns``, ``kinds``, ``method`` and
        ``threshold`` given here override its fields.

    Returns
    -------
    polars.DataFrame
        One row per column: ``column, kind, method, is_pvalue, statistic, threshold,
        drifted, n_reference, n_current, effect_size, effect_ci_low, effect_ci_high,
        effect_name, p_value_adjusted, obskit_drifted`` (``n_*`` count non-null values;
        ``p_value_adjusted`` is null for distance tests).

    Raises
    ------
    AnalysisError
        Empty reference, a missing column, a column with no usable values, an unknown
        test or one that does not apply to the column's kind.

    Examples
    --------
    >>> import polars as pl
    >>> ref = pl.DataFrame({"x": [0.1, 0.4, 0.35, 0.8] * 50})
    >>> cur = pl.DataFrame({"x": [1.1, 1.4, 1.35, 1.8] * 50})
    >>> row = column_drift(ref, cur).row(0, named=True)
    >>> row["method"], row["drifted"], row["obskit_drifted"], round(row["effect_size"], 2)
    ('ks', True, True, 3.99)
    """
    _check_args(fdr_alpha, ci_level, n_boot)
    if not 0 < drift_share <= 1:
        raise AnalysisError(f"drift_share must be in (0, 1], got {drift_share}")
    opts = DriftOptions.of(options, columns=columns, kinds=kinds, method=method, threshold=threshold)
    resolved = resolve_columns(reference, current, opts.columns, opts.kinds)
    if current.height == 0:
        raise AnalysisError("the current frame is empty")
    # Each reference column is cleaned and sorted inside its own task and dropped after
    # it, so peak memory grows with the number of worker threads, not of columns.
    parallel = reference.height + current.height >= _PARALLEL_ROWS
    rows = _drift_rows(
        list(resolved),
        lambda name: _reference_sample(reference, name, resolved[name], not parallel),
        current,
        parallel=parallel,
        options=opts,
        fdr_alpha=fdr_alpha,
        ci_level=ci_level,
        seed=seed,
        n_boot=n_boot,
        min_effect=_min_effect(min_effect),
    )
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


# --------------------------------------------------------------------------- dataset drift


@dataclass(frozen=True)
class DatasetDrift:
    """Dataset-level drift from a :func:`column_drift` result.

    ``drifted`` is Evidently's rule (share of drifted columns >= ``drift_share``);
    ``obskit_drifted`` applies the same rule to the ``obskit_drifted`` column.
    """

    n_columns: int
    n_drifted: int
    share: float
    drifted: bool
    obskit_n_drifted: int
    obskit_share: float
    obskit_drifted: bool
    drift_share: float


def dataset_drift(result: pl.DataFrame, drift_share: float = 0.5) -> DatasetDrift:
    """Share of drifted columns and the dataset verdicts (Evidently: share >= drift_share).

    >>> res = pl.DataFrame({"drifted": [True, False], "obskit_drifted": [False, False]})
    >>> d = dataset_drift(res)
    >>> d.share, d.drifted, d.obskit_drifted
    (0.5, True, False)
    """
    for col in ("drifted", "obskit_drifted"):
        if col not in result.columns:
            raise AnalysisError("not a column_drift result", column=col)
    if not 0 < drift_share <= 1:
        raise AnalysisError(f"drift_share must be in (0, 1], got {drift_share}")
    n = result.height
    if n == 0:
        raise AnalysisError("the drift result has no rows")
    nd = int(result.get_column("drifted").fill_null(False).sum())
    no = int(result.get_column("obskit_drifted").fill_null(False).sum())
    return DatasetDrift(
        n_columns=n,
        n_drifted=nd,
        share=nd / n,
        drifted=nd / n >= drift_share,
        obskit_n_drifted=no,
        obskit_share=no / n,
        obskit_drifted=no / n >= drift_share,
        drift_share=drift_share,
    )


# --------------------------------------------------------------------------- KL and PSI


def _shares(
    reference: ArrayLike,
    current: ArrayLike,
    kind: Kind,
    bins: int | Literal["evidently"],
    smoothing: float | Literal["evidently"],
) -> tuple[FloatArray, FloatArray]:
    ref, cur = Sample(reference, kind), Sample(current, kind)
    if ref.n == 0 or cur.n == 0:
        raise AnalysisError("both samples need at least one non-null value")
    if bins == "evidently":
        rp, cp = binned_shares(ref, cur, kind, fill_zeroes=smoothing == "evidently")
    elif isinstance(bins, int) and bins >= 1:
        if kind != "numeric":
            raise AnalysisError("integer bins apply to numeric values only")
        inner = np.unique(np.quantile(ref.sorted, np.linspace(0, 1, bins + 1)[1:-1]))
        rp = np.diff(np.concatenate(([0], ref.sorted.searchsorted(inner, "right"), [ref.n])))
        cp = np.diff(np.concatenate(([0], cur.sorted.searchsorted(inner, "right"), [cur.n])))
        rp, cp = rp / ref.n, cp / cur.n
        if smoothing == "evidently":
            rp, cp = fill_empty_bins(rp), fill_empty_bins(cp)
    else:
        raise AnalysisError(f"bins must be 'evidently' or a positive integer, got {bins!r}")
    if smoothing != "evidently":
        eps = float(smoothing)
        if eps <= 0:
            raise AnalysisError(f"smoothing must be > 0, got {smoothing!r}")
        rp = np.where(rp == 0, eps, rp)
        cp = np.where(cp == 0, eps, cp)
    return rp, cp


def kl_divergence(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    kind: Kind = "numeric",
    bins: int | Literal["evidently"] = "evidently",
    smoothing: float | Literal["evidently"] = "evidently",
) -> float:
    """Kullback-Leibler divergence KL(reference || current) in nats, over shared bins.

    Binning: ``"evidently"`` (default) reproduces Evidently's ``kl_div`` exactly: Sturges
    bins over the combined range for numeric columns with more than 20 distinct reference
    values, one bin per distinct value otherwise. An integer ``bins`` makes equal-frequency
    bins from reference quantiles (open outer bins, so every current value lands in one).
    Smoothing: empty bins get ``1e-4`` (Evidently's rule; the smallest non-empty share /
    1e6 when that is <= 1e-4), or the given ``smoothing`` value; shares are renormalized.
    Compare with :data:`KL_ALERT_THRESHOLD` (0.3) to alert; Evidently's ``kl_div`` test
    defaults to 0.1.

    >>> kl_divergence(["a", "b"] * 50, ["a"] * 100, kind="categorical") > KL_ALERT_THRESHOLD
    True
    >>> round(kl_divergence([0.0, 1.0] * 50, [0.0, 1.0] * 50), 6)
    0.0
    """
    rp, cp = _shares(reference, current, kind, bins, smoothing)
    rp, cp = rp / rp.sum(), cp / cp.sum()
    return float(np.sum(rel_entr(rp, cp)))


def psi(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    kind: Kind = "numeric",
    bins: int | Literal["evidently"] = "evidently",
    smoothing: float | Literal["evidently"] = "evidently",
) -> float:
    """Population stability index ``sum((r - c) * ln(r / c))`` over shared bins.

    Same binning and smoothing as :func:`kl_divergence` (shares are not renormalized,
    as in Evidently); with the defaults it equals Evidently's ``psi`` statistic. Read it
    with :func:`psi_band`.

    >>> psi_band(psi(["a", "b"] * 50, ["a"] * 55 + ["b"] * 45, kind="categorical"))
    'stable'
    """
    rp, cp = _shares(reference, current, kind, bins, smoothing)
    return float(np.sum((rp - cp) * np.log(rp / cp)))


def psi_noise_floor(bins: int, n_current: int, n_reference: int, *, q: float = 0.95) -> float:
    """The PSI that noise alone reaches (quantile ``q``) between two samples of these sizes.

    With no drift, PSI (a symmetrised KL divergence over ``bins`` bins) is asymptotically
    ``(1/n + 1/m) * chi2(bins - 1)``: the floor below which a threshold fires on noise. A
    124-row reference against windows of 1000 rows: about 0.15 at the 95th percentile, above
    the conventional 0.1.

    >>> round(psi_noise_floor(10, 1000, 50_000), 3), round(psi_noise_floor(10, 1000, 124), 3)
    (0.017, 0.153)
    """
    from scipy.stats import chi2

    if bins < 2 or n_current < 1 or n_reference < 1:
        return float("nan")
    return float(chi2.ppf(q, bins - 1) * (1 / n_current + 1 / n_reference))


def psi_band(value: float) -> Literal["stable", "moderate", "significant"]:
    """The conventional PSI reading: < 0.1 stable, < 0.25 moderate, else significant.

    >>> psi_band(0.05), psi_band(0.1), psi_band(0.3)
    ('stable', 'moderate', 'significant')
    """
    if np.isnan(value):
        raise AnalysisError("PSI is NaN")
    if value < PSI_BANDS[0]:
        return "stable"
    if value < PSI_BANDS[1]:
        return "moderate"
    return "significant"


# --------------------------------------------------------------------------- over time


OVER_TIME_COLUMNS = (
    "window_start",
    "column",
    "kind",
    "method",
    "statistic",
    "threshold",
    "drifted",
    "obskit_drifted",
    "effect_size",
    "effect_ci_low",
    "effect_ci_high",
    "p_value_adjusted",
    "n_reference",
    "n_current",
)


def drift_over_time(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    timestamp: str = "timestamp",
    every: str = "1h",
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    method: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    fdr_alpha: float = 0.05,
    ci_level: float = 0.95,
    seed: int = 0,
    n_boot: int = 200,
    min_effect: float | Mapping[Kind, float] | None = None,
    min_rows: int = 1,
    options: DriftOptions | None = None,
) -> pl.DataFrame:
    """Column drift of each time window of ``current`` against the whole ``reference``.

    Windows are ``current[timestamp].dt.truncate(every)`` (calendar-aligned, e.g. whole
    hours); empty windows do not appear. The reference is cleaned and sorted once and
    reused for every window. The test is chosen per window exactly as
    :func:`column_drift` would for that window alone, and the Benjamini-Hochberg step runs
    across the columns of each window. A column with fewer than ``min_rows`` non-null
    values in a window is skipped for that window.

    Returns
    -------
    polars.DataFrame
        ``window_start, column, kind, method, statistic, threshold, drifted,
        obskit_drifted, effect_size, effect_ci_low, effect_ci_high, p_value_adjusted,
        n_reference, n_current``, sorted by window then column order.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> cur = pl.DataFrame({
    ...     "timestamp": [t0 + timedelta(minutes=i) for i in range(120)],
    ...     "x": [float(i % 10) for i in range(60)] + [float(i % 10) + 5 for i in range(60)],
    ... })
    >>> ref = pl.DataFrame({"x": [float(i % 10) for i in range(300)]})
    >>> drift_over_time(ref, cur)["drifted"].to_list()
    [False, True]
    """
    _check_args(fdr_alpha, ci_level, n_boot)
    if timestamp not in current.columns:
        raise AnalysisError("timestamp column missing from the current frame", column=timestamp)
    ts_dtype = current.schema[timestamp]
    if not (isinstance(ts_dtype, pl.Datetime) or ts_dtype == pl.Date):
        raise AnalysisError(
            f"timestamp must be a Datetime or Date, got {ts_dtype}", column=timestamp
        )
    opts = DriftOptions.of(options, columns=columns, kinds=kinds, method=method, threshold=threshold)
    resolved = resolve_columns(reference, current, opts.columns, opts.kinds, exclude=(timestamp,))
    resolved.pop(timestamp, None)
    if not resolved:
        raise AnalysisError("no column to test for drift besides the timestamp")
    try:
        windowed = current.with_columns(pl.col(timestamp).dt.truncate(every).alias("__window"))
    except pl.exceptions.PolarsError as err:
        reason = str(err).strip().splitlines()[0]
        raise AnalysisError(f"invalid window {every!r}: {reason}", column=timestamp) from None
    if windowed.get_column("__window").null_count():
        windowed = windowed.filter(pl.col("__window").is_not_null())
    parallel = reference.height >= _PARALLEL_ROWS
    ref_samples = _reference_samples(reference, resolved, parallel)
    effect = _min_effect(min_effect)
    frames: list[pl.DataFrame] = []
    windows = windowed.get_column("__window")
    if windowed.height and windows.min() == windows.max():  # one window (a scan tested one at a time): no copy
        parts = {(windows[0],): windowed}
    else:
        parts = windowed.partition_by("__window", as_dict=True, maintain_order=True)
    for (start,), part in sorted(parts.items(), key=lambda kv: kv[0][0]):
        rows = _drift_rows(
            list(ref_samples),
            ref_samples.__getitem__,
            part,
            parallel=reference.height + part.height >= _PARALLEL_ROWS,
            options=opts,
            fdr_alpha=fdr_alpha,
            ci_level=ci_level,
            seed=seed,
            n_boot=n_boot,
            min_effect=effect,
            min_rows=min_rows,
            skip_small=True,
        )
        if rows:
            frame = pl.DataFrame(rows, schema=RESULT_SCHEMA)
            frames.append(frame.with_columns(pl.lit(start, dtype=ts_dtype).alias("window_start")))
    if not frames:
        empty = pl.DataFrame(schema={**RESULT_SCHEMA, "window_start": ts_dtype})
        return empty.select(OVER_TIME_COLUMNS)
    return pl.concat(frames).select(OVER_TIME_COLUMNS)


def prediction_drift_over_time(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    timestamp: str = "timestamp",
    every: str = "1h",
    prediction: str = "prediction",
    confidence: str | None = "confidence",
    method: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    fdr_alpha: float = 0.05,
    ci_level: float = 0.95,
    seed: int = 0,
    n_boot: int = 200,
    min_rows: int = 1,
    options: DriftOptions | None = None,
) -> pl.DataFrame:
    """Drift over time of the predicted class mix and of the confidence distribution.

    ``prediction`` is tested as categorical (class mix; Evidently's choice: chi-square or
    z with a reference of at most 1000 predictions, Jensen-Shannon otherwise) and
    ``confidence``, when present in both frames, as numeric. Nulls (failed requests) are
    dropped. Same output as :func:`drift_over_time`.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> ref = pl.DataFrame({"prediction": ["cat", "dog"] * 100})
    >>> cur = pl.DataFrame({"timestamp": [t] * 100, "prediction": ["cat"] * 90 + ["dog"] * 10})
    >>> prediction_drift_over_time(ref, cur).select("column", "method", "drifted").rows()
    [('prediction', 'z', True)]
    """
    if prediction not in reference.columns or prediction not in current.columns:
        raise AnalysisError("prediction column missing from a frame", column=prediction)
    columns = [prediction]
    kinds: dict[str, str] = {prediction: "categorical"}
    if confidence is not None and confidence in reference.columns and confidence in current.columns:
        columns.append(confidence)
        kinds[confidence] = "numeric"
    return drift_over_time(
        reference,
        current,
        timestamp=timestamp,
        every=every,
        options=DriftOptions.of(options, columns=columns, kinds=kinds, method=method, threshold=threshold),
        fdr_alpha=fdr_alpha,
        ci_level=ci_level,
        seed=seed,
        n_boot=n_boot,
        min_rows=min_rows,
    )


#: Smallest p-value :func:`drift_score` takes the log of (a p-value of 0 scores as this one).
_SMALLEST_P = 1e-300


def drift_score(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``drift_score``: each row's statistic relative to its drift threshold, larger = more drift.

    Charts read the same way round whatever the test: for a distance (Wasserstein, KL,
    Jensen-Shannon, PSI...) the score is ``statistic / threshold``; for a p-value test (KS,
    chi-square, z...), whose statistic *falls* as drift grows, it is
    ``log10(p) / log10(threshold)`` (``-log10 p`` in units of ``-log10`` of the threshold).
    Either way 1 is the Evidently threshold, above 1 is drifted, 0 is no difference, and
    rows of different tests share one scale. Null when the threshold gives no unit (0, or
    a p-value threshold of 1 or more).

    >>> f = pl.DataFrame({"method": ["ks", "ks", "wasserstein"], "statistic": [0.5, 0.0005, 0.2],
    ...                   "threshold": [0.05, 0.05, 0.1]})
    >>> drift_score(f)["drift_score"].round(3).to_list()
    [0.231, 2.537, 2.0]
    """
    from obskit.analyze.stattests import STAT_TESTS

    pvalue = [m for m in frame.get_column("method").unique().to_list() if m in STAT_TESTS and STAT_TESTS[m].is_pvalue]
    stat, thr = pl.col("statistic").cast(pl.Float64), pl.col("threshold").cast(pl.Float64)
    as_p = pl.when((thr > 0) & (thr < 1)).then(
        stat.clip(_SMALLEST_P, 1.0).log10() / thr.log10())
    as_distance = pl.when(thr > 0).then(stat / thr)
    score = pl.when(pl.col("method").is_in(pvalue)).then(as_p).otherwise(as_distance)
    return frame.with_columns(score.alias("drift_score"))
