"""One drift verdict per run: which features to act on, which only a test notices, and why.

:func:`~obskit.analyze.drift.column_drift` gives two verdicts per feature: Evidently's
(``drifted``: the test's threshold, kept bit for bit for parity) and obskit's
(``obskit_drifted``: false discoveries controlled and a material effect). A page that shows
both without saying which counts contradicts itself. :func:`drift_verdict` turns them into
one answer that every badge, figure, table and sentence of a page reads:

``drifted``
    obskit's verdict holds: a material shift. Act on it.
``detectable``
    Only Evidently's test flags it: a shift a large sample makes significant, but too small
    to matter (or not surviving the false-discovery correction). Shown, not acted on.
``within noise``
    Evidently's distance statistic passes its threshold, but not its noise floor: the
    samples are too small for the threshold (see :func:`noise_floor`).
``too few rows``
    Fewer than :data:`MIN_ROWS` values on a side: no test answers; never "drifted".
``no drift``
    Checked and fine.

The noise floor of a distance test (Wasserstein, Jensen-Shannon, PSI, KL, Hellinger) is the
95th percentile of its statistic between two samples of the actual sizes drawn from the
reference itself: the value noise alone reaches. A threshold below it fires on noise.

Examples
--------
>>> import polars as pl
>>> from obskit.analyze.drift import column_drift
>>> ref = pl.DataFrame({"x": [float(i % 50) for i in range(2000)], "y": [float(i % 7) for i in range(2000)]})
>>> cur = pl.DataFrame({"x": [float(i % 50) + 20 for i in range(2000)], "y": [float(i % 7) for i in range(2000)]})
>>> v = drift_verdict(column_drift(ref, cur, n_boot=0), ref)
>>> v.status, v.drifted, v.sentence
('drift', ('x',), 'Drifted: x (a material shift: act on it).')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from obskit.analyze.stattests import Sample, get_test

__all__ = ["MIN_ROWS", "MISSING_EXCESS", "MISSING_WINDOW_EXCESS", "DriftVerdict", "drift_verdict", "missing_expr",
           "missing_mask", "missing_share", "missing_shares", "noise_floor"]

#: Below this many values on either side, a drift test does not answer ("too few rows").
MIN_ROWS = 30
_REPLICATES = 20
_NOISE_Q = 0.95
#: Samples are drawn at most this large; the floor is then scaled to the actual sizes.
_DRAWN = 20_000
#: Statistics that grow like the sampling variance (1/n + 1/m), not its square root.
_VARIANCE_LIKE = frozenset({"psi", "kl_div"})


#: More missing values than in training, over the whole period, that a page flags (5 points).
MISSING_EXCESS = 0.05
#: The same over a window of 1000 answers (the ``feature-nulls`` rule's default threshold).
MISSING_WINDOW_EXCESS = 0.2


@dataclass(frozen=True)
class DriftVerdict:
    """The one drift answer of a run; ``table`` adds a ``verdict`` and a ``noise_floor`` per feature."""

    status: str  # "drift", "ok", "too_few_rows" or "not_checked"
    drifted: tuple[str, ...]
    detectable: tuple[str, ...]
    within_noise: tuple[str, ...]
    too_few: tuple[str, ...]
    sentence: str
    table: pl.DataFrame


def noise_floor(reference: pl.Series, n_current: int, method: str, kind: str, *, seed: int = 0,
                replicates: int = _REPLICATES) -> float | None:
    """The statistic of ``method`` that noise alone reaches (95%) at these sample sizes; None for p-value tests.

    Two samples, of the reference's size and of ``n_current``, are drawn with replacement from
    the reference ``replicates`` times; their statistics' 95th percentile is the floor. Sizes
    above 20,000 are drawn at 20,000 and the floor scaled to the real sizes: by the ratio of
    ``1/n + 1/m`` for PSI and KL (chi-square-like), by its square root for the others.

    >>> import polars as pl
    >>> ref = pl.Series([float(i % 10) for i in range(124)])
    >>> noise_floor(ref, 1000, "psi", "numeric") > 0.05  # a 124-row reference is noisy
    True
    """
    test = get_test(method)
    if test.is_pvalue or n_current < 1:
        return None
    pool = Sample(reference, kind)  # type: ignore[arg-type]
    if pool.n < 2:
        return None
    rng = np.random.default_rng(seed)
    series = pool._series
    values = pool.sorted if kind == "numeric" or series is None else series.to_numpy()
    m, n = min(pool.n, _DRAWN), min(n_current, _DRAWN)
    stats = []
    for _ in range(replicates):
        a = Sample(pl.Series(rng.choice(values, m)), kind)  # type: ignore[arg-type]
        b = Sample(pl.Series(rng.choice(values, n)), kind)  # type: ignore[arg-type]
        stats.append(test.compute(a, b))
    floor = float(np.quantile(np.asarray(stats, dtype=float), _NOISE_Q))
    ratio = (1 / pool.n + 1 / n_current) / (1 / m + 1 / n)
    return floor * (ratio if method in _VARIANCE_LIKE else float(np.sqrt(ratio)))


def _names(names: list[str]) -> str:
    return ", ".join(names)


def drift_verdict(result: pl.DataFrame, reference: pl.DataFrame | None = None, *,
                  min_rows: int = MIN_ROWS) -> DriftVerdict:
    """The run's drift answer from :func:`~obskit.analyze.drift.column_drift`'s result.

    ``reference`` (the training frame) gives each distance test its noise floor; without it
    the floor is not computed (null) and no feature is "within noise".
    """
    verdicts: list[str] = []
    floors: list[float | None] = []
    for row in result.iter_rows(named=True):
        floor = None
        if reference is not None and row["column"] in reference.columns and not row["is_pvalue"]:
            floor = noise_floor(reference[row["column"]], int(row["n_current"]), row["method"], row["kind"])
        floors.append(floor)
        if min(row["n_reference"], row["n_current"]) < min_rows:
            verdicts.append("too few rows")
        elif row["obskit_drifted"] and (floor is None or row["statistic"] > floor):
            verdicts.append("drifted")
        elif row["drifted"] and floor is not None and row["statistic"] <= floor:
            verdicts.append("within noise")
        elif row["drifted"]:
            verdicts.append("detectable")
        else:
            verdicts.append("no drift")
    table = result.with_columns(pl.Series("verdict", verdicts, dtype=pl.String),
                                pl.Series("noise_floor", floors, dtype=pl.Float64))

    def having(v: str) -> list[str]:
        return [c for c, x in zip(result["column"].to_list(), verdicts, strict=True) if x == v]

    drifted, detectable, noise, few = having("drifted"), having("detectable"), having("within noise"), \
        having("too few rows")
    parts = []
    if drifted:
        parts.append(f"Drifted: {_names(drifted)} (a material shift: act on it).")
    if detectable:
        parts.append(f"{_names(detectable)}: a statistically detectable shift too small to matter (Evidently's "
                     "test flags it; obskit's verdict, which controls false discoveries and needs a material "
                     "effect, does not): watch, do not act.")
    if noise:
        parts.append(f"{_names(noise)}: Evidently's threshold is passed, but not the noise floor of these sample "
                     "sizes: the reference or the period is too small to tell.")
    if few:
        parts.append(f"{_names(few)}: too few rows to test (fewer than {min_rows} values on a side).")
    if not result.height:
        status = "not_checked"
        parts.append("No feature was checked.")
    elif drifted:
        status = "drift"
    elif len(few) == result.height:
        status = "too_few_rows"
    else:
        status = "ok"
        if not parts:
            parts.append(f"No drift in the {result.height} checked feature(s).")
        elif not drifted:
            parts.insert(0, "No material drift.")
    return DriftVerdict(status, tuple(drifted), tuple(detectable), tuple(noise), tuple(few), " ".join(parts), table)


def missing_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """True where column ``name`` (of ``dtype``) is missing: null, or NaN in a float column (the one rule).

    >>> import polars as pl
    >>> pl.DataFrame({"x": ["NaN", None]}).select(missing_expr("x", pl.String()))["x"].to_list()
    [False, True]
    """
    missing = pl.col(name).is_null()
    return missing | pl.col(name).is_nan().fill_null(False) if dtype.is_float() else missing


def missing_mask(column: pl.Series) -> pl.Series:
    """:func:`missing_expr` of a series: the rule for pages and signals alike."""
    return column.to_frame().select(missing_expr(column.name, column.dtype)).to_series()


def missing_share(column: pl.Series) -> float:
    """The share of missing values in ``column`` (0.0 for an empty one).

    >>> import polars as pl
    >>> missing_share(pl.Series([1.0, None, float("nan"), 2.0]))
    0.5
    """
    value = missing_mask(column).mean()
    return float(value) if isinstance(value, (int, float)) else 0.0


def missing_shares(reference: pl.DataFrame | None, current: pl.DataFrame | pl.LazyFrame, features: list[str], *,
                   worst_window: dict[str, float] | None = None) -> pl.DataFrame:
    """Missing values (null or NaN) per feature: training, the period, the worst window, and a verdict.

    ``worst_window`` maps a feature to the largest excess over the reference's share seen in a
    window of 1000 answers (the ``feature_null_share`` signal's maximum): a 90-minute gap in
    a day is 6 % of the day's rows but 45 % of the window's. The verdict is ``missing in every
    row``, ``more missing than in training`` (period excess over :data:`MISSING_EXCESS` or a
    window over :data:`MISSING_WINDOW_EXCESS`) or ``ok``.

    >>> import polars as pl
    >>> ref = pl.DataFrame({"x": [1.0] * 100, "y": [1.0] * 100})
    >>> cur = pl.DataFrame({"x": [None] * 10 + [1.0] * 90, "y": [None] * 100})
    >>> missing_shares(ref, cur, ["x", "y"])["verdict"].to_list()
    ['more missing than in training', 'missing in every row']
    """
    rows = []
    schema = current.lazy().collect_schema()
    present = [c for c in features if c in schema]
    # one aggregation: a frame in memory or a scan of any size (streamed) gives the same shares
    got = current.lazy().select(pl.len().alias("\0n"), *(missing_expr(c, schema[c]).mean().alias(c)
                                                          for c in present)).collect(engine="streaming").row(
        0, named=True)
    n = int(got["\0n"])
    for col in present:
        ref_share = missing_share(reference[col]) if reference is not None and \
            col in reference.columns and reference.height else None
        cur_share = float(got[col]) if n else None
        worst = (worst_window or {}).get(col)
        excess = None if cur_share is None else cur_share - (ref_share or 0.0)
        if cur_share is not None and cur_share >= 1.0 and n:
            verdict = "missing in every row"
        elif (excess is not None and excess > MISSING_EXCESS) or (worst is not None and worst > MISSING_WINDOW_EXCESS):
            verdict = "more missing than in training"
        else:
            verdict = "ok"
        rows.append({"column": col, "missing_reference": ref_share, "missing_period": cur_share,
                     "worst_window_excess": worst, "verdict": verdict})
    return pl.DataFrame(rows, schema={"column": pl.String, "missing_reference": pl.Float64,
                                      "missing_period": pl.Float64, "worst_window_excess": pl.Float64,
                                      "verdict": pl.String})
