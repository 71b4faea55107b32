"""Data quality of current traffic against a baseline learned from the reference data.

:func:`infer_baseline` summarizes a reference frame column by column (a
:class:`Baseline`, JSON-serializable with :meth:`Baseline.to_dict` /
:meth:`Baseline.from_dict`, so it can be computed once at training time and stored next to
the model). :func:`check_quality` compares a current frame with it and lists every
violation, one row each.

Checks (names follow SageMaker Model Monitor's constraint violations where one exists;
distribution drift, its ``baseline_drift_check``, is :mod:`obskit.analyze.drift`'s job)

``empty_frame`` (error)
    The current frame has no rows; the row-level checks below are skipped.
``missing_column_check`` (error)
    A baseline column is absent from the current frame.
``extra_column_check`` (warning)
    The current frame has a column the baseline does not know.
``data_type_check``
    The column's dtype changed. *Error* when its family changed (integer, float, string,
    boolean, temporal, categorical: e.g. ``Int64`` -> ``String``, which usually means a
    parsing change upstream); the value checks below are then skipped for that column.
    *Warning* when only the width or unit changed within a family (``Int64`` -> ``Int32``,
    ``Datetime("us")`` -> ``Datetime("ns")``).
``completeness_check`` (error)
    The missing share rose by more than ``missing_tolerance`` (default 0.05, five
    percentage points) over the baseline's *and* a one-sided binomial test rejects "the
    missing share is still the baseline's" at ``alpha`` (default 0.001), so a handful of
    rows in a tiny frame does not raise it. Missing means null, and NaN for float columns.
``nullability_check`` (warning)
    The column had no missing value at all in the reference (``nullable=False``) and now
    has some, below the completeness tolerance (a new failure mode, often worth a look).
``range_check``
    Numeric columns: values outside the baseline's range ``[low - tol * span, high + tol *
    span]``, where ``low``/``high`` are reference quantiles (default 0.1 % and 99.9 %;
    ``quantiles=(0, 1)`` gives the exact min/max), ``span = high - low`` and ``tol`` is
    ``range_tolerance`` (default 0.25), plus infinite values. The lower bound is raised to 0
    for a column with no negative reference value (sizes, counts, latencies). *Error* when more than
    ``error_share`` (default 1 %) of the non-missing rows are out of range. Below that, a
    *warning* only when the values out of range are more than the reference's own share
    beyond the same band would give (one-sided binomial test at ``alpha``, the share counted
    add-one): a long-tailed column that puts two rows of 20,000 past the band on a normal day,
    as its reference does, is no finding. An infinite value, a negative one in a column never
    negative in the reference, or one more than ``FAR_SPANS`` (3) spans past the quantiles is
    always one.
``categorical_values_check``
    Columns with a category set (strings, categoricals, enums and booleans with at most
    ``max_categories`` distinct values in the reference, and integers with at most 10,
    Evidently's rule for "categorical integers"): values never seen in the reference,
    the five most frequent listed with their counts. *Error* above ``error_share`` of the
    non-missing rows, else warning.

Examples
--------
>>> import polars as pl
>>> ref = pl.DataFrame({"x": [1.0, 2.0, 3.0] * 100, "c": ["a", "b", "a"] * 100})
>>> base = infer_baseline(ref)
>>> cur = pl.DataFrame({"x": [1.0, 2.0, 50.0], "c": ["a", "z", "a"]})
>>> check_quality(base, cur).select("column", "check", "rows_affected").rows()
[('x', 'range_check', 1), ('c', 'categorical_values_check', 1)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import polars as pl
from scipy import stats

from obskit.errors import AnalysisError

__all__ = [
    "BASELINE_VERSION",
    "CHECKS",
    "Baseline",
    "ColumnBaseline",
    "check_quality",
    "infer_baseline",
]

#: Format version written by :meth:`Baseline.to_dict`.
BASELINE_VERSION = 1
#: Every check :func:`check_quality` can report.
CHECKS = (
    "empty_frame",
    "missing_column_check",
    "extra_column_check",
    "data_type_check",
    "completeness_check",
    "nullability_check",
    "range_check",
    "categorical_values_check",
)
#: Integer columns with at most this many distinct values get a category set.
INTEGER_CATEGORY_LIMIT = 10

Family = Literal["integer", "float", "string", "boolean", "temporal", "categorical", "other"]
ColumnKind = Literal["numeric", "categorical", "text", "temporal", "other"]

VIOLATION_SCHEMA = pl.Schema(
    {
        "column": pl.String(),
        "check": pl.String(),
        "severity": pl.String(),
        "expected": pl.String(),
        "observed": pl.String(),
        "rows_affected": pl.Int64(),
        "share": pl.Float64(),
    }
)


def _family(dtype: pl.DataType) -> Family:
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if dtype == pl.String:
        return "string"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_temporal():
        return "temporal"
    if dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return "categorical"
    return "other"


@dataclass(frozen=True)
class ColumnBaseline:
    """What the reference says about one column (see :func:`infer_baseline`).

    ``low``/``high`` are the reference quantiles that bound the range check, ``min``/``max``
    the exact extremes (for reading), ``categories`` the category set (strings) or None,
    ``beyond`` how many of the reference's own finite values lie outside the range check's
    band (None: a baseline written before it was counted).
    """

    name: str
    dtype: str
    family: str
    kind: str
    n: int
    missing: int
    missing_share: float
    nullable: bool
    min: float | None = None
    max: float | None = None
    low: float | None = None
    high: float | None = None
    categories: tuple[str, ...] | None = None
    beyond: int | None = None


@dataclass(frozen=True)
class Baseline:
    """Per-column data-quality baseline of a reference frame.

    Examples
    --------
    >>> import json, polars as pl
    >>> b = infer_baseline(pl.DataFrame({"x": [1.0, None], "c": ["a", "b"]}))
    >>> Baseline.from_dict(json.loads(json.dumps(b.to_dict()))) == b
    True
    >>> b.column("x").missing_share, b.column("c").categories
    (0.5, ('a', 'b'))
    """

    columns: tuple[ColumnBaseline, ...]
    n_rows: int
    quantiles: tuple[float, float] = (0.001, 0.999)
    range_tolerance: float = 0.25
    max_categories: int = 50
    version: int = BASELINE_VERSION
    _index: dict[str, ColumnBaseline] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        """Column names in reference order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnBaseline:
        """The baseline of one column."""
        try:
            return self._index[name]
        except KeyError:
            raise AnalysisError("column not in the baseline", column=name) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (no NaN: unknown values are None)."""
        return {
            "version": self.version,
            "n_rows": self.n_rows,
            "quantiles": list(self.quantiles),
            "range_tolerance": self.range_tolerance,
            "max_categories": self.max_categories,
            "columns": [
                {**asdict(c), "categories": None if c.categories is None else list(c.categories)}
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        """Rebuild a baseline written by :meth:`to_dict`."""
        version = data.get("version")
        if version != BASELINE_VERSION:
            raise AnalysisError(f"unsupported baseline version {version!r} (expected {BASELINE_VERSION})")
        try:
            cols = tuple(
                ColumnBaseline(
                    **{
                        **c,
                        "categories": None if c.get("categories") is None else tuple(c["categories"]),
                    }
                )
                for c in data["columns"]
            )
            lo_q, hi_q = data["quantiles"]
            return cls(
                columns=cols,
                n_rows=int(data["n_rows"]),
                quantiles=(float(lo_q), float(hi_q)),
                range_tolerance=float(data["range_tolerance"]),
                max_categories=int(data["max_categories"]),
                version=int(version),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise AnalysisError(f"malformed baseline: {err}") from None


def _missing_mask(s: pl.Series) -> pl.Series:
    mask = s.is_null()
    if s.dtype.is_float():
        mask = mask | s.is_nan().fill_null(False)
    return mask


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return None if math.isnan(out) else out


def _column_baseline(s: pl.Series, quantiles: tuple[float, float], max_categories: int,
                     tolerance: float = 0.25) -> ColumnBaseline:
    family = _family(s.dtype)
    n = s.len()
    missing = int(_missing_mask(s).sum())
    present = s.filter(~_missing_mask(s)) if missing else s
    kind: ColumnKind = "other"
    lo = hi = mn = mx = None
    beyond: int | None = None
    categories: tuple[str, ...] | None = None
    if family in ("integer", "float"):
        kind = "numeric"
        finite = present.cast(pl.Float64)
        finite = finite.filter(finite.is_finite())
        if finite.len():
            mn, mx = _opt_float(finite.min()), _opt_float(finite.max())
            lo = _opt_float(finite.quantile(quantiles[0], "linear"))
            hi = _opt_float(finite.quantile(quantiles[1], "linear"))
            if lo is not None and hi is not None:
                band_lo, band_hi = _band(lo, hi, mn, tolerance)
                beyond = int(((finite < band_lo) | (finite > band_hi)).sum())
        if family == "integer" and 0 < present.n_unique() <= INTEGER_CATEGORY_LIMIT:
            categories = tuple(sorted(present.unique().cast(pl.String).to_list()))
    elif family in ("string", "categorical", "boolean"):
        distinct = present.n_unique()
        if distinct <= max_categories:
            kind = "categorical"
            categories = tuple(sorted(present.cast(pl.String).unique().to_list()))
        else:
            kind = "text"
    elif family == "temporal":
        kind = "temporal"
    return ColumnBaseline(
        beyond=beyond,
        name=s.name,
        dtype=str(s.dtype),
        family=family,
        kind=kind,
        n=n,
        missing=missing,
        missing_share=missing / n if n else 0.0,
        nullable=missing > 0,
        min=mn,
        max=mx,
        low=lo,
        high=hi,
        categories=categories,
    )


def infer_baseline(
    reference: pl.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    quantiles: tuple[float, float] = (0.001, 0.999),
    range_tolerance: float = 0.25,
    max_categories: int = 50,
) -> Baseline:
    """Learn a data-quality baseline from a reference frame.

    Parameters
    ----------
    reference
        The training/reference data.
    columns
        Columns to keep; default: all.
    quantiles
        Reference quantiles bounding the numeric range check (``(0, 1)``: exact min/max).
    range_tolerance
        Share of the quantile span added on both sides of the range.
    max_categories
        String/categorical/boolean columns with at most this many distinct values get a
        category set (more: "text", no category check).

    Returns
    -------
    Baseline

    Examples
    --------
    >>> import polars as pl
    >>> b = infer_baseline(pl.DataFrame({"w": [224, 640, 224], "id": ["r1", "r2", "r3"]}), max_categories=2)
    >>> [(c.name, c.kind, c.categories) for c in b.columns]
    [('w', 'numeric', ('224', '640')), ('id', 'text', None)]
    """
    lo_q, hi_q = quantiles
    if not 0 <= lo_q < hi_q <= 1:
        raise AnalysisError(f"quantiles must satisfy 0 <= low < high <= 1, got {quantiles}")
    if range_tolerance < 0:
        raise AnalysisError(f"range_tolerance must be >= 0, got {range_tolerance}")
    if max_categories < 1:
        raise AnalysisError(f"max_categories must be >= 1, got {max_categories}")
    names = list(reference.columns) if columns is None else list(columns)
    for name in names:
        if name not in reference.columns:
            raise AnalysisError("column missing from the reference frame", column=name)
    if reference.height == 0:
        raise AnalysisError("the reference frame is empty")
    return Baseline(
        columns=tuple(_column_baseline(reference.get_column(n), quantiles, max_categories, range_tolerance)
                      for n in names),
        n_rows=reference.height,
        quantiles=(float(lo_q), float(hi_q)),
        range_tolerance=float(range_tolerance),
        max_categories=max_categories,
    )


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.6g}"


def check_quality(
    baseline: Baseline,
    current: pl.DataFrame | pl.LazyFrame,
    *,
    missing_tolerance: float = 0.05,
    alpha: float = 0.001,
    error_share: float = 0.01,
    extra_columns: bool = True,
) -> pl.DataFrame:
    """Data-quality violations of ``current`` against ``baseline`` (checks in the module docstring).

    Parameters
    ----------
    baseline
        From :func:`infer_baseline` (or :meth:`Baseline.from_dict`).
    current
        The frame to check, or a lazy scan of any size (aggregated in streaming passes: one
        for the counts, one per column with a category set).
    missing_tolerance
        Rise of the missing share (absolute) tolerated by ``completeness_check``.
    alpha
        Significance level of the completeness binomial test.
    error_share
        Share of affected non-missing rows above which a range or category violation is an
        error rather than a warning.
    extra_columns
        Report columns the baseline does not know (``extra_column_check``).

    Returns
    -------
    polars.DataFrame
        ``column, check, severity, expected, observed, rows_affected, share``: one row per
        violation, errors first, then in baseline column order. Empty when all is well.
        ``share`` is relative to the current rows (missing checks) or to the current
        non-missing rows (range and category checks); ``column`` is null for
        ``empty_frame``.

    Examples
    --------
    >>> import polars as pl
    >>> base = infer_baseline(pl.DataFrame({"x": [1, 2, 3] * 10, "y": ["a", "b", "c"] * 10}))
    >>> check_quality(base, pl.DataFrame({"x": ["1"], "z": [0]})).select("column", "check", "severity").rows()
    [('x', 'data_type_check', 'error'), ('y', 'missing_column_check', 'error'), ('z', 'extra_column_check', 'warning')]
    """
    if not 0 <= missing_tolerance < 1:
        raise AnalysisError(f"missing_tolerance must be in [0, 1), got {missing_tolerance}")
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 <= error_share <= 1:
        raise AnalysisError(f"error_share must be in [0, 1], got {error_share}")
    rows: list[dict[str, Any]] = []
    lf = current.lazy()
    schema = lf.collect_schema()
    n, facts = _facts(baseline, lf, schema)

    def add(
        column: str | None,
        check: str,
        severity: str,
        expected: str,
        observed: str,
        affected: int,
        share: float | None,
    ) -> None:
        rows.append(
            {
                "column": column,
                "check": check,
                "severity": severity,
                "expected": expected,
                "observed": observed,
                "rows_affected": affected,
                "share": share,
            }
        )

    if n == 0:
        add(None, "empty_frame", "error", f">= 1 row (baseline: {baseline.n_rows})", "0 rows", 0, None)
    for col in baseline.columns:
        if col.name not in schema:
            expected = f"column present ({col.dtype})"
            add(col.name, "missing_column_check", "error", expected, "absent", n, 1.0 if n else None)
            continue
        dtype = schema[col.name]
        family = _family(dtype)
        f = facts[col.name]
        if str(dtype) != col.dtype:
            same = family == col.family
            non_null = n - f["nulls"]
            add(
                col.name,
                "data_type_check",
                "warning" if same else "error",
                f"{col.dtype} ({col.family})",
                f"{dtype} ({family})",
                non_null,
                non_null / n if n else None,
            )
            if not same:
                if n:
                    _completeness(add, col, f["missing"], n, missing_tolerance, alpha)
                continue
        if n == 0:
            continue
        _completeness(add, col, f["missing"], n, missing_tolerance, alpha)
        present = n - f["missing"]
        if present == 0:
            continue
        if "below" in f:
            _range(add, col, f, present, error_share, alpha)
        if col.categories is not None:
            _categories(add, col, _unseen(lf, col, dtype), present, error_share)
    if extra_columns:
        known = set(baseline.names)
        for name in schema.names():
            if name not in known:
                observed = str(schema[name])
                add(name, "extra_column_check", "warning", "no such column", observed, n, 1.0 if n else None)
    order = {name: i for i, name in enumerate(baseline.names)}
    out = pl.DataFrame(rows, schema=VIOLATION_SCHEMA)
    return (
        out.with_columns(
            (pl.col("severity") != "error").alias("__sev"),
            pl.col("column").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("__pos"),
        )
        .sort("__sev", "__pos", maintain_order=True)
        .drop("__sev", "__pos")
    )


#: Values this many quantile spans past the reference's quantiles are out of range however rare.
FAR_SPANS = 3.0


def _band(low: float, high: float, minimum: float | None, tolerance: float) -> tuple[float, float]:
    span = high - low
    lo, hi = low - tolerance * span, high + tolerance * span
    if minimum is not None and minimum >= 0:
        lo = max(lo, 0.0)  # a column never negative in the reference stays non-negative
    return lo, hi


def _range_bounds(col: ColumnBaseline, tolerance: float) -> tuple[float, float]:
    assert col.low is not None and col.high is not None
    return _band(col.low, col.high, col.min, tolerance)


def _facts(baseline: Baseline, lf: pl.LazyFrame, schema: pl.Schema) -> tuple[int, dict[str, dict[str, Any]]]:
    """Rows, and per baseline column its null, missing, out-of-range counts and extremes: one aggregation.

    A frame in memory and a scan of any size (streamed) give the same counts.
    """
    exprs: list[pl.Expr] = [pl.len().alias("__n")]
    for col in baseline.columns:
        if col.name not in schema:
            continue
        c, dt = pl.col(col.name), schema[col.name]
        missing = c.is_null() | c.is_nan() if dt.is_float() else c.is_null()
        exprs += [c.null_count().alias(f"{col.name}\0nulls"), missing.sum().alias(f"{col.name}\0missing")]
        numeric = dt.is_numeric() and _family(dt) == col.family
        if col.kind == "numeric" and col.low is not None and col.high is not None and numeric:
            lo, hi = _range_bounds(col, baseline.range_tolerance)
            x = c.cast(pl.Float64)
            # (polars orders NaN above every number: a missing value is never out of range)
            far_lo, far_hi = _band(col.low, col.high, col.min, FAR_SPANS)  # (negative: below 0 when never negative)
            hard = x.is_infinite() | (x < far_lo) | (x > far_hi)
            exprs += [(hard & ~missing).sum().alias(f"{col.name}\0hard"),
                      ((x < lo) & ~missing).sum().alias(f"{col.name}\0below"),
                      ((x > hi) & ~missing).sum().alias(f"{col.name}\0above"),
                      x.filter(~missing).min().alias(f"{col.name}\0min"),
                      x.filter(~missing).max().alias(f"{col.name}\0max"),
                      pl.lit(lo).alias(f"{col.name}\0lo"), pl.lit(hi).alias(f"{col.name}\0hi")]
    row = lf.select(exprs).collect(engine="streaming").row(0, named=True)
    facts: dict[str, dict[str, Any]] = {}
    for key, value in row.items():
        if key != "__n":
            name, what = key.split("\0")
            facts.setdefault(name, {})[what] = int(value) if what in ("nulls", "missing", "below", "above", "hard") \
                else value
    return int(row["__n"]), facts


def _unseen(lf: pl.LazyFrame, col: ColumnBaseline, dtype: pl.DataType) -> pl.DataFrame:
    """Values of ``col`` the baseline never saw, with their counts, most frequent first (streamed)."""
    assert col.categories is not None
    c = pl.col(col.name)
    present = c.is_not_null() & ~c.is_nan() if dtype.is_float() else c.is_not_null()
    text = c.cast(pl.String).alias("value")
    return (lf.filter(present).select(text).filter(~pl.col("value").is_in(list(col.categories)))
            .group_by("value").agg(pl.len().alias("n")).collect(engine="streaming")
            .sort(["n", "value"], descending=[True, False]))


def _completeness(
    add: Any, col: ColumnBaseline, missing: int, n: int, tolerance: float, alpha: float
) -> None:
    if missing == 0:
        return
    share = missing / n
    expected = col.missing_share
    if share - expected > tolerance:
        p = float(stats.binomtest(missing, n, min(max(expected, 1e-12), 1.0), alternative="greater").pvalue)
        if p < alpha:
            add(
                col.name,
                "completeness_check",
                "error",
                f"missing share <= {expected:.4f} + {tolerance:g}",
                f"{share:.4f} (binomial p={p:.2g})",
                missing,
                share,
            )
            return
    if not col.nullable:
        add(col.name, "nullability_check", "warning", "no missing values", f"{missing} missing", missing, share)


def _range(add: Any, col: ColumnBaseline, f: Mapping[str, Any], present: int, error_share: float,
           alpha: float) -> None:
    below, above = f["below"], f["above"]
    bad = below + above
    if bad == 0:
        return
    share = bad / present
    observed = f"{below} below, {above} above (min {_fmt(_opt_float(f['min']))}, max {_fmt(_opt_float(f['max']))})"
    if col.beyond is not None:
        ref_n = max(col.n - col.missing, 0)
        observed += f"; the reference: {col.beyond:,} of {ref_n:,}"
        if share <= error_share and not f.get("hard"):
            # a long-tailed column puts a few values past any band: only more than the reference's
            # own share (add-one, so a reference with none still allows a rare one) is a finding
            p0 = (col.beyond + 1) / (ref_n + 1)
            if float(stats.binomtest(bad, present, min(p0, 1.0), alternative="greater").pvalue) >= alpha:
                return
    add(
        col.name,
        "range_check",
        "error" if share > error_share else "warning",
        f"[{_fmt(f['lo'])}, {_fmt(f['hi'])}]",
        observed,
        bad,
        share,
    )


def _categories(add: Any, col: ColumnBaseline, counts: pl.DataFrame, present: int, error_share: float) -> None:
    assert col.categories is not None
    if counts.height == 0:
        return
    unseen = int(counts["n"].sum())
    top = [f"{v!r}: {c}" for v, c in counts.head(5).iter_rows()]
    more = counts.height - len(top)
    observed = ", ".join(top) + (f" (+{more} more)" if more > 0 else "")
    shown = ", ".join(col.categories[:10]) + (", ..." if len(col.categories) > 10 else "")
    share = unseen / present
    add(
        col.name,
        "categorical_values_check",
        "error" if share > error_share else "warning",
        f"one of {{{shown}}}",
        observed,
        unseen,
        share,
    )
