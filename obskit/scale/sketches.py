"""Mergeable state: exact counts, a relative-error quantile sketch and drift histograms.

Every structure here is a *partial state*: it is built from one chunk of rows (a file, a
row group, a Dask partition), two states of the same kind merge into the state of the
union of their rows, and the final statistics are read from the merged state. Merging is
exact (counts, sums, min/max, histogram bins) except for floating-point addition order
in sums, so ``merge`` is associative and commutative and the result does not depend on how
the rows were split.

:class:`QuantileSketch`
    A DDSketch-style log-bucketed histogram. With relative accuracy ``alpha``, value
    ``x > 0`` falls in bucket ``i = ceil(log(x) / log(gamma))`` with
    ``gamma = (1 + alpha) / (1 - alpha)``, i.e. ``gamma**(i-1) < x <= gamma**i``, and is
    represented by ``2 * gamma**i / (gamma + 1)``, which is within ``alpha * x`` of ``x``.
    Negative values use a mirrored store; values with ``|x| < min_value`` count as zero.
    **Guarantee** (up to floating-point rounding of the logarithm, < 1e-12 relative): for
    ``n`` values, ``quantile(q, method="lower")`` is within ``alpha * |x_(k)|`` of the
    order statistic ``x_(k)``, ``k = floor(q * (n - 1))`` (0-based); ``quantile(q)``
    (``method="linear"``, numpy's default, type 7) interpolates the estimates of ``x_(k)``
    and ``x_(k+1)`` and is within ``alpha * ((1 - f) * |x_(k)| + f * |x_(k+1)|)`` of
    ``numpy.quantile(x, q)`` (``f = q * (n - 1) - k``), i.e. within ``alpha`` relative
    whenever both order statistics have the same sign (always, for latencies). Estimates are
    clamped to the exact min and max, so ``q = 0`` and ``q = 1`` are exact. Values below
    ``min_value`` in magnitude are exact to within ``min_value`` absolute. The state holds
    one counter per occupied bucket between the smallest and largest occupied one: about
    ``ln(max / min) / ln(gamma)`` counters (2,073 for alpha = 0.5 % over nine decades).
:class:`SketchTable`
    The same sketch, one per group (e.g. per 5-minute window and model version), kept as
    a sparse polars frame ``(keys..., sign, bucket, count)`` so that polars' streaming
    engine can build it with a ``group_by`` and merge it with a ``concat`` + ``group_by``.
    Quantiles of all groups are read in one vectorized pass.
:class:`RateCounts`
    Exact integer counts per group (requests, errors, confident, corrected, ...).
:class:`NumericHistogram`
    Counts (and value sums) of current data in fixed bins taken from the reference
    (reference quantile edges), plus exact n, min and max and, for columns with few
    distinct reference values, exact value counts. Gives the Wasserstein distance and the
    Kolmogorov-Smirnov distance with *computed* bounds (see :meth:`wasserstein_bounds`).
:class:`FixedHistogram`
    Counts in given edges with ``numpy.histogram`` semantics (last bin closed): with
    Evidently's Sturges edges it reproduces ``psi``, ``kl_div`` and ``jensenshannon``
    exactly.
:class:`CategoricalCounts`
    Exact value counts of a categorical column.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.lognormal(3.0, 1.0, 10_000)
>>> a = QuantileSketch(alpha=0.01).add(x[:4000])
>>> b = QuantileSketch(alpha=0.01).add(x[4000:])
>>> s = a.merge(b)
>>> s.count, bool(abs(s.quantile(0.99) / np.quantile(x, 0.99) - 1) <= 0.01)
(10000, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from obskit.errors import AnalysisError

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_VALUE",
    "CategoricalCounts",
    "FixedHistogram",
    "NumericHistogram",
    "QuantileSketch",
    "RateCounts",
    "SketchTable",
    "reference_edges",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
QuantileMethod = Literal["linear", "lower"]

#: Default relative accuracy of :class:`QuantileSketch` (0.5 %).
DEFAULT_ALPHA = 0.005
#: Default magnitude below which a value counts as zero.
DEFAULT_MIN_VALUE = 1e-9


def _check_q(q: float) -> None:
    if not 0.0 <= q <= 1.0:
        raise AnalysisError(f"quantile must be in [0, 1], got {q}")


# --------------------------------------------------------------------------- quantile sketch


@dataclass
class _Store:
    """Dense counters for consecutive bucket keys ``offset, offset + 1, ...``."""

    offset: int = 0
    counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, keys: IntArray) -> None:
        if keys.size == 0:
            return
        lo, hi = int(keys.min()), int(keys.max())
        if self.counts.size:
            lo, hi = min(lo, self.offset), max(hi, self.offset + self.counts.size - 1)
        grown = np.zeros(hi - lo + 1, dtype=np.int64)
        if self.counts.size:
            grown[self.offset - lo : self.offset - lo + self.counts.size] = self.counts
        grown += np.bincount(keys - lo, minlength=hi - lo + 1)
        self.offset, self.counts = lo, grown

    def merged(self, other: _Store) -> _Store:
        if not other.counts.size:
            return _Store(self.offset, self.counts.copy())
        if not self.counts.size:
            return _Store(other.offset, other.counts.copy())
        lo = min(self.offset, other.offset)
        hi = max(self.offset + self.counts.size, other.offset + other.counts.size)
        out = np.zeros(hi - lo, dtype=np.int64)
        out[self.offset - lo : self.offset - lo + self.counts.size] += self.counts
        out[other.offset - lo : other.offset - lo + other.counts.size] += other.counts
        return _Store(lo, out)

    def nonzero(self) -> tuple[IntArray, IntArray]:
        idx = np.flatnonzero(self.counts)
        return (idx + self.offset).astype(np.int64), self.counts[idx]


class QuantileSketch:
    """A mergeable quantile sketch with relative accuracy ``alpha`` (DDSketch-style).

    Parameters
    ----------
    alpha
        Relative accuracy in (0, 1); see the module docstring for the exact guarantee.
    min_value
        Values with a smaller magnitude are counted as zero.

    Examples
    --------
    >>> s = QuantileSketch(alpha=0.01).add([1.0, 2.0, 3.0, 4.0, 100.0])
    >>> round(s.quantile(0.5), 2), s.quantile(1.0), s.count
    (2.97, 100.0, 5)
    >>> t = QuantileSketch.from_dict(s.to_dict())
    >>> t.quantile(0.5) == s.quantile(0.5)
    True
    """

    def __init__(self, alpha: float = DEFAULT_ALPHA, min_value: float = DEFAULT_MIN_VALUE) -> None:
        if not 0.0 < alpha < 1.0:
            raise AnalysisError(f"alpha must be in (0, 1), got {alpha}")
        if not min_value > 0.0:
            raise AnalysisError(f"min_value must be > 0, got {min_value}")
        self.alpha = float(alpha)
        self.min_value = float(min_value)
        self.gamma = (1.0 + self.alpha) / (1.0 - self.alpha)
        self.log_gamma = math.log(self.gamma)
        self.count = 0
        self.zero_count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._pos = _Store()
        self._neg = _Store()

    # ----------------------------------------------------------------- mapping

    def key(self, magnitudes: npt.ArrayLike) -> IntArray:
        """Bucket keys of positive magnitudes (``>= min_value``).

        >>> QuantileSketch(alpha=0.01).key([1.0, 1.02, 1.03]).tolist()
        [0, 1, 2]
        """
        m = np.asarray(magnitudes, dtype=np.float64)
        return np.ceil(np.log(m) / self.log_gamma).astype(np.int64)

    def value(self, keys: npt.ArrayLike) -> FloatArray:
        """Representative value of buckets ``keys`` (within ``alpha`` of every value in them).

        >>> s = QuantileSketch(alpha=0.01)
        >>> bool(abs(s.value(s.key([5.0]))[0] / 5.0 - 1) <= 0.01)
        True
        """
        k = np.asarray(keys, dtype=np.float64)
        return np.asarray(2.0 * np.exp(k * self.log_gamma) / (self.gamma + 1.0), dtype=np.float64)

    # ----------------------------------------------------------------- building

    def add(self, values: npt.ArrayLike) -> QuantileSketch:
        """Add values (NaN and +-inf are ignored) and return ``self``.

        >>> QuantileSketch().add([1.0, float("nan"), 0.0]).count
        2
        """
        x = np.asarray(values, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if x.size == 0:
            return self
        self.count += int(x.size)
        self.sum += float(x.sum())
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))
        pos = x >= self.min_value
        neg = x <= -self.min_value
        self.zero_count += int(x.size - np.count_nonzero(pos) - np.count_nonzero(neg))
        self._pos.add(self.key(x[pos]))
        self._neg.add(self.key(-x[neg]))
        return self

    def _compatible(self, other: QuantileSketch) -> None:
        if (self.alpha, self.min_value) != (other.alpha, other.min_value):
            raise AnalysisError(
                f"cannot merge sketches with different parameters: alpha {self.alpha} vs {other.alpha}, "
                f"min_value {self.min_value} vs {other.min_value}"
            )

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """A new sketch of the union of both inputs' values (neither input changes).

        >>> a, b = QuantileSketch().add([1.0, 2.0]), QuantileSketch().add([3.0])
        >>> a.merge(b).count, a.count
        (3, 2)
        """
        self._compatible(other)
        out = QuantileSketch(self.alpha, self.min_value)
        out.count = self.count + other.count
        out.zero_count = self.zero_count + other.zero_count
        out.sum = self.sum + other.sum
        out.min = min(self.min, other.min)
        out.max = max(self.max, other.max)
        out._pos = self._pos.merged(other._pos)
        out._neg = self._neg.merged(other._neg)
        return out

    def copy(self) -> QuantileSketch:
        """An independent copy."""
        return self.merge(QuantileSketch(self.alpha, self.min_value))

    # ----------------------------------------------------------------- reading

    def _ordered(self) -> tuple[FloatArray, IntArray]:
        nk, nc = self._neg.nonzero()
        pk, pc = self._pos.nonzero()
        values = np.concatenate((-self.value(nk[::-1]), [0.0], self.value(pk)))
        counts = np.concatenate((nc[::-1], [self.zero_count], pc)).astype(np.int64)
        return values, counts

    def quantiles(self, qs: Sequence[float], method: QuantileMethod = "linear") -> FloatArray:
        """Estimates of several quantiles (NaN for an empty sketch).

        >>> QuantileSketch().add(range(1, 101)).quantiles([0.0, 1.0]).tolist()
        [1.0, 100.0]
        """
        for q in qs:
            _check_q(q)
        if self.count == 0:
            return np.full(len(qs), np.nan)
        values, counts = self._ordered()
        cum = np.cumsum(counts)
        h = np.asarray(qs, dtype=np.float64) * (self.count - 1)
        k = np.floor(h).astype(np.int64)
        est = self._at_rank(values, cum, k)
        if method == "lower":
            return est
        if method != "linear":
            raise AnalysisError(f"unknown quantile method {method!r}; expected 'linear' or 'lower'")
        f = h - k
        nxt = self._at_rank(values, cum, np.minimum(k + 1, self.count - 1))
        return np.asarray(est + f * (nxt - est), dtype=np.float64)

    def _at_rank(self, values: FloatArray, cum: IntArray, ranks: IntArray) -> FloatArray:
        est = values[np.searchsorted(cum, ranks, side="right")]
        est = np.clip(est, self.min, self.max)
        est = np.where(ranks == 0, self.min, est)
        return np.asarray(np.where(ranks == self.count - 1, self.max, est), dtype=np.float64)

    def quantile(self, q: float, method: QuantileMethod = "linear") -> float:
        """Estimate of quantile ``q`` (see the module docstring for the guarantee)."""
        return float(self.quantiles([q], method)[0])

    def count_from(self, value: float) -> int:
        """Values in the bucket of ``value`` and every bucket above it (at bucket resolution).

        >>> QuantileSketch().add([1.0, 2.0, 3.0, 4.0]).count_from(3.0)
        2
        """
        nk, nc = self._neg.nonzero()
        pk, pc = self._pos.nonzero()
        if value >= self.min_value:
            return int(pc[pk >= self.key([value])[0]].sum())
        above = int(pc.sum()) + self.zero_count
        if value > -self.min_value:
            return above
        return above + int(nc[nk <= self.key([-value])[0]].sum())

    @property
    def mean(self) -> float:
        """Exact mean of the added values (NaN when empty)."""
        return self.sum / self.count if self.count else math.nan

    @property
    def n_buckets(self) -> int:
        """Counters held (the memory of the sketch is about 8 bytes each)."""
        return int(self._pos.counts.size + self._neg.counts.size)

    # ----------------------------------------------------------------- shipping

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the state (:meth:`from_dict` rebuilds it exactly)."""
        return {
            "alpha": self.alpha,
            "min_value": self.min_value,
            "count": self.count,
            "zero_count": self.zero_count,
            "sum": self.sum,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            "pos_offset": self._pos.offset,
            "pos_counts": self._pos.counts.tolist(),
            "neg_offset": self._neg.offset,
            "neg_counts": self._neg.counts.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileSketch:
        """Rebuild a sketch from :meth:`to_dict` output."""
        s = cls(float(data["alpha"]), float(data["min_value"]))
        s.count = int(data["count"])
        s.zero_count = int(data["zero_count"])
        s.sum = float(data["sum"])
        s.min = math.inf if data["min"] is None else float(data["min"])
        s.max = -math.inf if data["max"] is None else float(data["max"])
        s._pos = _Store(int(data["pos_offset"]), np.asarray(data["pos_counts"], dtype=np.int64))
        s._neg = _Store(int(data["neg_offset"]), np.asarray(data["neg_counts"], dtype=np.int64))
        return s

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        a, b = self.to_dict(), other.to_dict()
        sa, sb = a.pop("sum"), b.pop("sum")
        for d in (a, b):  # leading/trailing empty counters do not change the state
            for side in ("pos", "neg"):
                c = np.asarray(d[f"{side}_counts"], dtype=np.int64)
                nz = np.flatnonzero(c)
                d[f"{side}_counts"] = c[nz[0] : nz[-1] + 1].tolist() if nz.size else []
                d[f"{side}_offset"] = int(d[f"{side}_offset"] + nz[0]) if nz.size else 0
        return a == b and math.isclose(sa, sb, rel_tol=1e-9, abs_tol=1e-9)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"QuantileSketch(alpha={self.alpha}, count={self.count}, buckets={self.n_buckets})"


# --------------------------------------------------------------------------- grouped sketches


def _concat(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(list(frames), how="vertical_relaxed")


@dataclass(frozen=True)
class SketchTable:
    """One :class:`QuantileSketch` per group, as sparse polars frames (mergeable, exact).

    ``buckets`` has the key columns, ``sign`` (Int8: -1, 0, 1), ``bucket`` (Int32) and
    ``count``; ``summary`` has the key columns, ``count``, ``sum``, ``min`` and ``max``.
    Build it with :meth:`from_frame` (eager or lazy; lazy frames can be collected with the
    streaming engine) or :meth:`bucket_exprs` inside a larger query.

    Examples
    --------
    >>> df = pl.DataFrame({"g": ["a", "a", "b"], "x": [1.0, 3.0, 10.0]})
    >>> t = SketchTable.from_frame(df, "x", keys=("g",), alpha=0.01)
    >>> t.quantiles([0.5]).rows()
    [('a', 2, 2.0), ('b', 1, 10.0)]
    """

    keys: tuple[str, ...]
    buckets: pl.DataFrame
    summary: pl.DataFrame
    alpha: float = DEFAULT_ALPHA
    min_value: float = DEFAULT_MIN_VALUE

    @staticmethod
    def bucket_exprs(
        value: pl.Expr, alpha: float = DEFAULT_ALPHA, min_value: float = DEFAULT_MIN_VALUE
    ) -> tuple[pl.Expr, pl.Expr]:
        """``(sign, bucket)`` expressions mapping ``value`` to sketch buckets (null for null/NaN/inf).

        Same mapping as :meth:`QuantileSketch.key` (polars' ``log`` instead of numpy's).
        """
        log_gamma = math.log((1.0 + alpha) / (1.0 - alpha))
        sign = (
            pl.when(value.is_null() | ~value.is_finite())
            .then(None)
            .when(value >= min_value)
            .then(1)
            .when(value <= -min_value)
            .then(-1)
            .otherwise(0)
            .cast(pl.Int8)
        )
        bucket = (
            pl.when(sign != 0).then((value.abs().log() / log_gamma).ceil()).otherwise(0.0).cast(pl.Int32)
        )
        return sign.alias("sign"), bucket.alias("bucket")

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame | pl.LazyFrame,
        value: str,
        *,
        keys: Sequence[str] = (),
        alpha: float = DEFAULT_ALPHA,
        min_value: float = DEFAULT_MIN_VALUE,
        streaming: bool = False,
    ) -> SketchTable:
        """Sketch column ``value`` per group of ``keys`` (null and non-finite values are skipped)."""
        QuantileSketch(alpha, min_value)  # validates the parameters
        keys = tuple(keys)
        lf = frame.lazy().select(*keys, pl.col(value).cast(pl.Float64).alias("__v"))
        lf = lf.filter(pl.col("__v").is_finite())
        sign, bucket = cls.bucket_exprs(pl.col("__v"), alpha, min_value)
        engine: Any = "streaming" if streaming else "auto"
        buckets, summary = pl.collect_all(
            [
                lf.group_by([*keys, sign, bucket]).agg(pl.len().cast(pl.Int64).alias("count")),
                lf.group_by(list(keys)).agg(cls.summary_aggs(pl.col("__v"))),
            ],
            engine=engine,
        )
        return cls(keys, buckets, summary, alpha, min_value)

    @staticmethod
    def summary_aggs(value: pl.Expr) -> list[pl.Expr]:
        """Aggregations of the ``summary`` frame (``value`` already filtered to finite)."""
        return [
            value.count().cast(pl.Int64).alias("count"),
            value.sum().alias("sum"),
            value.min().alias("min"),
            value.max().alias("max"),
        ]

    def merge(self, other: SketchTable) -> SketchTable:
        """The table of the union of both inputs' rows (exact)."""
        return SketchTable.merge_all([self, other])

    @staticmethod
    def merge_all(tables: Sequence[SketchTable]) -> SketchTable:
        """Merge many tables at once (one concat and group_by)."""
        if not tables:
            raise AnalysisError("nothing to merge")
        first = tables[0]
        for t in tables[1:]:
            if (t.keys, t.alpha, t.min_value) != (first.keys, first.alpha, first.min_value):
                raise AnalysisError("cannot merge sketch tables with different keys or parameters")
        keys = list(first.keys)
        buckets = (
            _concat(t.buckets for t in tables)
            .group_by([*keys, "sign", "bucket"])
            .agg(pl.col("count").sum())
        )
        summary = (
            _concat(t.summary for t in tables)
            .group_by(keys)
            .agg(
                pl.col("count").sum(),
                pl.col("sum").sum(),
                pl.col("min").min(),
                pl.col("max").max(),
            )
        )
        return SketchTable(first.keys, buckets, summary, first.alpha, first.min_value)

    def quantiles(
        self, qs: Sequence[float], *, names: Sequence[str] | None = None, method: QuantileMethod = "linear"
    ) -> pl.DataFrame:
        """Key columns, ``count`` and one column per quantile (named ``names`` or ``q0.5`` ...).

        Groups are sorted by their keys. Same estimates as :class:`QuantileSketch`.
        """
        for q in qs:
            _check_q(q)
        names = list(names) if names is not None else [f"q{q:g}" for q in qs]
        keys = list(self.keys)
        summary = self.summary.filter(pl.col("count") > 0).sort(keys, nulls_last=True)
        gamma = (1.0 + self.alpha) / (1.0 - self.alpha)
        log_gamma = math.log(gamma)
        rep = (
            pl.col("sign").cast(pl.Float64)
            * (pl.col("bucket").cast(pl.Float64) * log_gamma).exp()
            * (2.0 / (gamma + 1.0))
        )
        b = (
            self.buckets.filter(pl.col("count") > 0)
            .with_columns(rep.alias("__rep"))
            .join(summary.select(*keys, pl.int_range(pl.len()).alias("__g")), on=keys, how="inner",
                  nulls_equal=True)
            .sort(["__g", "__rep"])
        )
        g = b.get_column("__g").to_numpy()
        values = b.get_column("__rep").to_numpy()
        cum = np.cumsum(b.get_column("count").to_numpy())
        n = summary.get_column("count").to_numpy().astype(np.int64)
        lo = summary.get_column("min").to_numpy().astype(np.float64)
        hi = summary.get_column("max").to_numpy().astype(np.float64)
        ngroups = n.size
        # cumulative count before each group's first bucket
        first = np.searchsorted(g, np.arange(ngroups), side="left")
        base = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0)

        def at(rank: IntArray) -> FloatArray:
            idx = np.searchsorted(cum, base + rank, side="right")
            est = np.clip(values[np.minimum(idx, values.size - 1)], lo, hi)
            est = np.where(rank == 0, lo, est)
            return np.asarray(np.where(rank == n - 1, hi, est), dtype=np.float64)

        cols: dict[str, Any] = {}
        for q, name in zip(qs, names, strict=True):
            h = q * (n - 1).astype(np.float64)
            k = np.floor(h).astype(np.int64)
            est = at(k)
            if method == "linear":
                est = est + (h - k) * (at(np.minimum(k + 1, n - 1)) - est)
            elif method != "lower":
                raise AnalysisError(f"unknown quantile method {method!r}")
            cols[name] = est
        extra = pl.DataFrame(cols, schema=dict.fromkeys(names, pl.Float64)) if cols else pl.DataFrame()
        return pl.concat([summary.select(*keys, "count"), extra], how="horizontal")

    def sketch(self, key: Mapping[str, Any] | None = None) -> QuantileSketch:
        """The :class:`QuantileSketch` of one group (``{key column: value}``; all rows if None)."""
        b, s = self.buckets, self.summary
        for col, val in (key or {}).items():
            cond = pl.col(col).is_null() if val is None else pl.col(col) == val
            b, s = b.filter(cond), s.filter(cond)
        out = QuantileSketch(self.alpha, self.min_value)
        if s.height == 0:
            return out
        out.count = int(s.get_column("count").sum())
        out.sum = float(s.get_column("sum").sum())
        out.min = float(s.get_column("min").min())  # type: ignore[arg-type]
        out.max = float(s.get_column("max").max())  # type: ignore[arg-type]
        agg = b.group_by("sign", "bucket").agg(pl.col("count").sum())
        for sign, store in ((1, out._pos), (-1, out._neg)):
            part = agg.filter(pl.col("sign") == sign)
            keys = part.get_column("bucket").to_numpy().astype(np.int64)
            counts = part.get_column("count").to_numpy().astype(np.int64)
            if keys.size:
                _add_counts(store, keys, counts)
        out.zero_count = int(agg.filter(pl.col("sign") == 0).get_column("count").sum())
        return out


def _add_counts(store: _Store, keys: IntArray, counts: IntArray) -> None:
    lo, hi = int(keys.min()), int(keys.max())
    dense = np.zeros(hi - lo + 1, dtype=np.int64)
    np.add.at(dense, keys - lo, counts)
    merged = store.merged(_Store(lo, dense))
    store.offset, store.counts = merged.offset, merged.counts


# --------------------------------------------------------------------------- exact counts


@dataclass(frozen=True)
class RateCounts:
    """Exact integer counts per group; merging adds them.

    ``frame`` holds the key columns and one Int64 column per counter (``requests``,
    ``errors``, ``confident``, ``corrected``...). Rates are ratios of counters, so they
    merge exactly too.

    Examples
    --------
    >>> a = RateCounts(("g",), pl.DataFrame({"g": ["x"], "requests": [3], "errors": [1]}))
    >>> b = RateCounts(("g",), pl.DataFrame({"g": ["x", "y"], "requests": [1, 2], "errors": [0, 0]}))
    >>> a.merge(b).rate("errors").rows()
    [('x', 4, 1, 0.25), ('y', 2, 0, 0.0)]
    """

    keys: tuple[str, ...]
    frame: pl.DataFrame

    @property
    def counters(self) -> list[str]:
        """Names of the counter columns."""
        return [c for c in self.frame.columns if c not in self.keys]

    def merge(self, other: RateCounts) -> RateCounts:
        """Counts of the union of both inputs' rows."""
        return RateCounts.merge_all([self, other])

    @staticmethod
    def merge_all(parts: Sequence[RateCounts]) -> RateCounts:
        """Merge many count tables at once."""
        if not parts:
            raise AnalysisError("nothing to merge")
        keys = parts[0].keys
        if any(p.keys != keys for p in parts):
            raise AnalysisError("cannot merge counts with different keys")
        counters = list(dict.fromkeys(c for p in parts for c in p.counters))  # a counter one part lacks counts 0 there
        frame = (
            _concat(p.frame.with_columns(pl.lit(0, pl.Int64).alias(c) for c in counters if c not in p.frame.columns)
                    .select(*keys, *counters) for p in parts)
            .group_by(list(keys))
            .agg(pl.col(c).sum().cast(pl.Int64) for c in counters)
            .sort(list(keys), nulls_last=True)
        )
        return RateCounts(keys, frame)

    def rate(self, counter: str, total: str = "requests") -> pl.DataFrame:
        """Keys, ``total``, ``counter`` and ``rate = counter / total``, sorted by the keys."""
        return self.frame.select(
            *self.keys, total, counter, (pl.col(counter) / pl.col(total)).alias("rate")
        ).sort(list(self.keys), nulls_last=True)


# --------------------------------------------------------------------------- drift histograms


def reference_edges(sorted_values: FloatArray, bins: int) -> FloatArray:
    """Inner bin edges at reference quantiles: ``bins + 1`` levels from min to max, deduplicated.

    >>> reference_edges(np.arange(11.0), 5).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    """
    if sorted_values.size == 0:
        raise AnalysisError("the reference has no values")
    if bins < 1:
        raise AnalysisError(f"bins must be >= 1, got {bins}")
    idx = np.linspace(0, sorted_values.size - 1, bins + 1).round().astype(np.int64)
    return np.unique(sorted_values[idx])


@dataclass
class CategoricalCounts:
    """Exact value counts (``values`` as a String-keyed frame ``value, count``).

    >>> a = CategoricalCounts.from_values(pl.Series(["a", "b", "a", None]))
    >>> a.merge(CategoricalCounts.from_values(pl.Series(["c"]))).as_dict()
    {'a': 2, 'b': 1, 'c': 1}
    """

    counts: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"value": pl.String, "count": pl.Int64})
    )

    @property
    def n(self) -> int:
        """Number of counted (non-null) values."""
        return int(self.counts.get_column("count").sum())

    @classmethod
    def from_values(cls, values: pl.Series) -> CategoricalCounts:
        """Counts of the non-null (and, for floats, finite) values, keyed by their string form."""
        s = values.drop_nulls()
        if s.dtype.is_float():
            s = s.filter(s.is_finite())
        vc = s.cast(pl.String).rename("value").value_counts(name="count")
        return cls(vc.with_columns(pl.col("count").cast(pl.Int64)))

    def add(self, values: pl.Series) -> CategoricalCounts:
        """Add values in place and return ``self``."""
        self.counts = self.merge(CategoricalCounts.from_values(values)).counts
        return self

    def merge(self, other: CategoricalCounts) -> CategoricalCounts:
        """Counts of the union."""
        both = pl.concat([self.counts, other.counts])
        return CategoricalCounts(both.group_by("value").agg(pl.col("count").sum()).sort("value"))

    def as_dict(self) -> dict[str, int]:
        """``{value: count}`` sorted by value."""
        c = self.counts.sort("value")
        return dict(zip(c.get_column("value").to_list(), c.get_column("count").to_list(), strict=True))


@dataclass
class FixedHistogram:
    """Counts in fixed ``edges`` with ``numpy.histogram`` semantics (values outside are dropped).

    >>> h = FixedHistogram(np.array([0.0, 1.0, 2.0])).add(np.array([0.0, 0.5, 1.0, 2.0, 3.0]))
    >>> h.counts.tolist(), h.n
    ([2, 2], 5)
    """

    edges: FloatArray
    counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n: int = 0

    def __post_init__(self) -> None:
        if self.counts.size == 0:
            self.counts = np.zeros(max(self.edges.size - 1, 0), dtype=np.int64)

    def add(self, values: FloatArray) -> FixedHistogram:
        """Add finite values in place; ``n`` counts every finite value, binned or not."""
        x = values[np.isfinite(values)]
        self.n += int(x.size)
        if self.counts.size:
            idx = np.searchsorted(self.edges, x, side="right") - 1
            idx = np.where(x == self.edges[-1], self.counts.size - 1, idx)
            ok = (idx >= 0) & (idx < self.counts.size)
            self.counts += np.bincount(idx[ok], minlength=self.counts.size)
        return self

    def merge(self, other: FixedHistogram) -> FixedHistogram:
        """Counts of the union (same edges required)."""
        if not np.array_equal(self.edges, other.edges):
            raise AnalysisError("cannot merge histograms with different edges")
        return FixedHistogram(self.edges, self.counts + other.counts, self.n + other.n)


@dataclass
class NumericHistogram:
    """Current-data state of one numeric column, binned on reference edges.

    ``edges`` (ascending, ``m`` values, from :func:`reference_edges`) define ``m + 1`` bins,
    left-closed: bin 0 is ``x < edges[0]``, bin ``i`` is ``edges[i-1] <= x < edges[i]``,
    bin ``m`` is ``x >= edges[-1]``. Each bin keeps its count and value sum; ``n``, ``min``,
    ``max`` and ``at_max`` (values equal to the last edge, the reference max) are exact.
    With ``track_values`` the exact value counts are also kept, up to
    ``max_values`` distinct values (``values_overflow`` is set beyond).

    Examples
    --------
    >>> ref = np.sort(np.random.default_rng(1).normal(size=5000))
    >>> h = NumericHistogram(reference_edges(ref, 1000))
    >>> _ = h.add(np.random.default_rng(2).normal(0.5, 1.0, 5000))
    >>> est, lo, hi = h.wasserstein_bounds(ref)
    >>> bool(lo <= est <= hi and hi - lo < 0.02)
    True
    """

    edges: FloatArray
    counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sums: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    n: int = 0
    min: float = math.inf
    max: float = -math.inf
    at_max: int = 0
    track_values: bool = False
    max_values: int = 1000
    values: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    value_counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values_overflow: bool = False

    def __post_init__(self) -> None:
        if self.counts.size == 0:
            self.counts = np.zeros(self.edges.size + 1, dtype=np.int64)
            self.sums = np.zeros(self.edges.size + 1, dtype=np.float64)

    def empty_like(self) -> NumericHistogram:
        """An empty state with the same bins and options."""
        return NumericHistogram(self.edges, track_values=self.track_values, max_values=self.max_values)

    def add(self, values: FloatArray) -> NumericHistogram:
        """Add values in place (NaN and +-inf are dropped, as the in-memory drift does)."""
        x = np.asarray(values, dtype=np.float64)
        x = np.sort(x[np.isfinite(x)])  # sorted once: bins, extremes and distinct values are then cut points
        if x.size == 0:
            return self
        # bin i holds edges[i-1] <= x < edges[i]: its values are x[cut[i]:cut[i+1]]
        cut = np.concatenate(([0], np.searchsorted(x, self.edges, side="left"), [x.size]))
        counts = np.diff(cut)
        self.counts += counts
        full = counts > 0
        self.sums[full] += np.add.reduceat(x, cut[:-1][full])
        self.n += int(x.size)
        self.at_max += int(np.searchsorted(x, self.edges[-1], side="right") - cut[-2])
        self.min = min(self.min, float(x[0]))
        self.max = max(self.max, float(x[-1]))
        if self.track_values and not self.values_overflow:
            first = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
            self._merge_values(x[first], np.diff(np.append(first, x.size)).astype(np.int64))
        return self

    def _merge_values(self, v: FloatArray, c: IntArray) -> None:
        keys = v if v.size > self.max_values else np.union1d(self.values, v)
        if keys.size > self.max_values:
            self.values_overflow = True
            self.values, self.value_counts = np.zeros(0), np.zeros(0, dtype=np.int64)
            return
        out = np.zeros(keys.size, dtype=np.int64)
        out[np.searchsorted(keys, self.values)] += self.value_counts
        out[np.searchsorted(keys, v)] += c
        self.values, self.value_counts = keys, out

    def merge(self, other: NumericHistogram) -> NumericHistogram:
        """State of the union of both inputs' rows (same edges required; exact)."""
        if not np.array_equal(self.edges, other.edges):
            raise AnalysisError("cannot merge histograms with different edges")
        out = NumericHistogram(
            self.edges,
            self.counts + other.counts,
            self.sums + other.sums,
            self.n + other.n,
            min(self.min, other.min),
            max(self.max, other.max),
            self.at_max + other.at_max,
            self.track_values,
            self.max_values,
            self.values.copy(),
            self.value_counts.copy(),
            self.values_overflow or other.values_overflow,
        )
        if out.track_values and not out.values_overflow:
            out._merge_values(other.values, other.value_counts)
        return out

    # ----------------------------------------------------------------- statistics

    def _grid(self, ref: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Gaps of the merged grid inside [edges[0], edges[-1]]: width, F_ref, F_cur low/high/linear."""
        e = self.edges
        grid = np.union1d(e, ref[(ref > e[0]) & (ref < e[-1])])
        left, width = grid[:-1], np.diff(grid)
        f_ref = np.searchsorted(ref, left, side="right") / ref.size
        cum = np.concatenate(([0], np.cumsum(self.counts))) / self.n  # cum[i] = share below edges[i-1]
        j = np.searchsorted(e, left, side="right")  # bin of each gap, 1..m-1
        c_lo, c_hi = cum[j], cum[j + 1]
        pos = (left + width / 2 - e[j - 1]) / (e[j] - e[j - 1])
        c_lin = c_lo + pos * (c_hi - c_lo)
        return width, f_ref, c_lo, c_hi, c_lin

    def wasserstein_bounds(self, reference_sorted: FloatArray) -> tuple[float, float, float]:
        """Wasserstein-1 distance to the reference: ``(estimate, lower, upper)``; the exact value is in [lower, upper].

        ``reference_sorted`` holds the finite reference values, sorted (the edges came from
        them). Outside the reference range the reference CDF is 0 or 1, so the bins'
        counts and sums give the exact contribution; inside, the reference CDF is exact and
        the current CDF is only known at edges, so each gap contributes between the
        distances of the reference CDF to the nearest and the farthest of the two edge
        values. ``upper - lower <= sum over inner bins of width * current share``. The
        estimate takes the current CDF as linear inside each bin. Not normalized.
        """
        if self.n == 0:
            raise AnalysisError("no current values")
        e = self.edges
        c, s = self.counts, self.sums
        tails = (c[0] * e[0] - s[0] + s[-1] - c[-1] * e[-1]) / self.n
        if e.size < 2:
            return tails, tails, tails
        width, f_ref, c_lo, c_hi, c_lin = self._grid(reference_sorted)
        near = np.where((f_ref >= c_lo) & (f_ref <= c_hi), 0.0, np.minimum(np.abs(f_ref - c_lo), np.abs(f_ref - c_hi)))
        far = np.maximum(np.abs(f_ref - c_lo), np.abs(f_ref - c_hi))
        est = tails + float(np.dot(np.abs(f_ref - c_lin), width))
        return est, tails + float(np.dot(near, width)), tails + float(np.dot(far, width))

    def ks_bounds(self, reference_sorted: FloatArray) -> tuple[float, float, float]:
        """Two-sample Kolmogorov-Smirnov distance ``(estimate, lower, upper)``; exact value in [lower, upper].

        Both CDFs are exact just left of every edge; inside a bin the current CDF lies between
        its values at the two edges, so ``upper - lower <= max current share of one bin``.
        """
        if self.n == 0:
            raise AnalysisError("no current values")
        ref = reference_sorted
        e = self.edges
        cum = np.concatenate(([0], np.cumsum(self.counts))) / self.n
        r_left = np.searchsorted(ref, e, side="left") / ref.size  # F_ref just left of each edge
        exact = float(np.max(np.abs(r_left - cum[1:-1])))  # includes the share below edges[0]
        # F_ref = 1 from edges[-1] (the reference max) on, where F_cur is known exactly
        top = 1.0 - cum[-2] - self.at_max / self.n
        lower = upper = est = max(exact, top)
        if e.size >= 2:
            _, f_ref, c_lo, c_hi, c_lin = self._grid(ref)
            near = np.where((f_ref >= c_lo) & (f_ref <= c_hi), 0.0,
                            np.minimum(np.abs(f_ref - c_lo), np.abs(f_ref - c_hi)))
            far = np.maximum(np.abs(f_ref - c_lo), np.abs(f_ref - c_hi))
            lower = max(lower, float(near.max()))
            upper = max(upper, float(far.max()))
            est = max(est, float(np.abs(f_ref - c_lin).max()))
        est = min(max(est, lower), upper)
        return est, lower, upper

    def value_count_arrays(self) -> tuple[FloatArray, IntArray]:
        """Exact distinct values and counts (``track_values`` must be set and not overflowed)."""
        if not self.track_values or self.values_overflow:
            raise AnalysisError(
                f"exact value counts are not available (more than {self.max_values} distinct current values)"
            )
        return self.values, self.value_counts
