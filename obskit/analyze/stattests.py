"""Statistical tests for drift, reproducing Evidently 0.7's stat-test semantics.

Every test is one :class:`StatTest` entry of :data:`STAT_TESTS`: its name (Evidently's
name, so a method string means the same thing in both tools), the column kinds it accepts,
its default threshold, whether its statistic is a p-value, and ``func``, which takes the
reference and current values (numpy arrays or polars Series) and returns the statistic.

Verdict
    A p-value test flags drift when ``p < threshold`` (``ks`` and ``cramer_von_mises`` use
    ``p <= threshold``, as Evidently does); a distance test flags drift when
    ``statistic >= threshold``. :meth:`StatTest.drifted` applies the right comparison.
Cleaning
    Nulls are dropped; for numeric columns NaN and +-inf are dropped too (Evidently replaces
    +-inf with NaN and drops NaN before testing). Numeric values are cast to ``Float64``.
Binning (``psi``, ``kl_div``, ``jensenshannon``)
    A numeric column with more than 20 distinct reference values is cut into Sturges bins
    spanning the combined reference+current range (``numpy.histogram_bin_edges(...,
    "sturges")`` on the concatenation); any other column uses one bin per distinct value
    seen in either sample. ``psi`` and ``kl_div`` then replace empty bins in each sample by
    ``1e-4`` (or by the smallest non-empty share / 1e6 when that share is itself <= 1e-4);
    ``jensenshannon`` does not smooth.
Automatic choice (:func:`default_test`)
    As Evidently's ``get_stattest``: with at most 1000 non-null reference values, a
    numeric column gets ``ks`` (``chisquare`` if it has 3-5 distinct values across both
    samples, ``z`` if at most 2) and a categorical column ``chisquare`` (``z`` if at most 2
    distinct values); with more than 1000, a numeric column gets ``wasserstein``
    (``jensenshannon`` if at most 5 distinct values) and a categorical one
    ``jensenshannon``.

Examples
--------
>>> import numpy as np
>>> from obskit.analyze.stattests import get_test
>>> ks = get_test("ks")
>>> p = ks.func(np.arange(100.0), np.arange(100.0) + 50)
>>> bool(ks.drifted(p, ks.default_threshold))
True
>>> round(get_test("wasserstein").func(np.zeros(3) + [0, 1, 2], np.array([1.0, 2.0, 3.0])), 4)
1.2247
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats
from scipy.spatial import distance

from obskit.errors import AnalysisError

__all__ = [
    "KINDS",
    "STAT_TESTS",
    "ArrayLike",
    "Kind",
    "Sample",
    "StatTest",
    "binned_shares",
    "default_test",
    "fill_empty_bins",
    "get_test",
    "normed_wasserstein",
]

Kind = Literal["numeric", "categorical"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical")
ArrayLike = npt.NDArray[Any] | pl.Series | list[Any]
FloatArray = npt.NDArray[np.float64]

#: Reference size up to which Evidently picks p-value tests (``<=``).
SMALL_REFERENCE = 1000
#: Distinct values (both samples) up to which a numeric column is tested like a categorical.
FEW_VALUES = 5
#: Distinct reference values above which a numeric column is binned with Sturges bins.
BINNING_UNIQUE = 20


# --------------------------------------------------------------------------- samples


class Sample:
    """One cleaned sample of one column, with cached sorted values and value counts.

    Parameters
    ----------
    values
        The raw values (numpy array, polars Series or list).
    kind
        ``"numeric"``: cast to Float64, nulls/NaN/+-inf dropped, kept sorted (``-0.0``
        just before ``0.0``).
        ``"categorical"``: nulls dropped (and NaN/+-inf for float values).
    name
        Column name, used in error messages.
    multithreaded
        Let polars sort with its thread pool (turn off when columns already run in
        parallel threads: a single-threaded sort costs less CPU).

    Examples
    --------
    >>> Sample([3.0, None, 1.0, float("inf")], "numeric").sorted.tolist()
    [1.0, 3.0]
    >>> Sample(["a", "b", "a", None], "categorical").n
    3
    """

    def __init__(
        self,
        values: ArrayLike,
        kind: Kind,
        name: str | None = None,
        *,
        multithreaded: bool = True,
    ) -> None:
        if kind not in KINDS:
            raise AnalysisError(
                f"unknown column kind {kind!r}; expected one of {KINDS}", column=name
            )
        self.kind: Kind = kind
        self.name = name
        s = values if isinstance(values, pl.Series) else pl.Series("v", values, strict=False)
        if s.dtype == pl.Null:
            s = s.cast(pl.Float64 if kind == "numeric" else pl.String)
        if kind == "numeric":
            if not (s.dtype.is_numeric() or s.dtype == pl.Boolean):
                raise AnalysisError(
                    f"numeric drift needs numeric values, got dtype {s.dtype}", column=name
                )
            s = s.cast(pl.Float64)
            if s.null_count():
                s = s.drop_nulls()
            finite = s.is_finite()
            if not finite.all():
                s = s.filter(finite)
            self.sorted: FloatArray = _sort_floats(s.to_numpy(), multithreaded)
            self.n = int(self.sorted.size)
            self._series = None
        else:
            if s.null_count():
                s = s.drop_nulls()
            if s.dtype.is_float():
                s = s.filter(s.is_finite())
            self._series = s.rename("value")
            self.sorted = np.empty(0)
            self.n = s.len()

    @cached_property
    def std(self) -> float:
        """Population standard deviation (``ddof=0``, as ``numpy.std``)."""
        return float(np.std(self.sorted)) if self.kind == "numeric" else float("nan")

    @cached_property
    def n_unique(self) -> int:
        """Number of distinct values."""
        return int(self.value_counts[1].size)

    @cached_property
    def value_counts(self) -> tuple[Any, npt.NDArray[np.int64]]:
        """Distinct values and their counts (numpy arrays for numeric, a Series otherwise)."""
        if self.kind == "numeric":
            x = self.sorted
            if x.size == 0:
                return np.empty(0), np.empty(0, dtype=np.int64)
            starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
            counts = np.diff(np.append(starts, x.size)).astype(np.int64)
            return x[starts], counts
        assert self._series is not None
        vc = self._series.value_counts(name="count")
        return vc.get_column("value"), vc.get_column("count").cast(pl.Int64).to_numpy()

    def n_unique_capped(self, cap: int) -> int:
        """``min(n_unique, cap + 1)`` without counting everything when it is large."""
        if self.kind == "numeric" and "value_counts" not in self.__dict__:
            x = self.sorted
            if x.size == 0:
                return 0
            return min(int(np.count_nonzero(x[1:] != x[:-1])) + 1, cap + 1)
        return min(self.n_unique, cap + 1)


#: Mask of the 63 non-sign bits of an IEEE-754 double.
_LOW63 = np.int64(0x7FFF_FFFF_FFFF_FFFF)


def _order_keys(bits: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Map float64 bit patterns to int64 keys that sort like the floats (and back).

    Negative floats get their 63 low bits flipped, so that a larger magnitude gives a
    smaller key; the map is its own inverse. ``-0.0`` sorts just before ``0.0``.
    """
    keys = bits >> 63
    keys &= _LOW63
    keys ^= bits
    return keys


def _sort_floats(values: FloatArray, multithreaded: bool) -> FloatArray:
    """Finite float64 values in ascending order, as a new contiguous array.

    Sorted as order-preserving int64 keys (:func:`_order_keys`): polars sorts integers
    markedly faster than floats, and the two key maps cost one pass each.
    """
    x = np.ascontiguousarray(values, dtype=np.float64)
    keys = pl.Series("k", _order_keys(x.view(np.int64)), dtype=pl.Int64)
    ordered = keys.sort(multithreaded=multithreaded).to_numpy()
    return _order_keys(ordered).view(np.float64)


def _as_sample(values: ArrayLike | Sample, kind: Kind) -> Sample:
    return values if isinstance(values, Sample) else Sample(values, kind)


def joint_counts(ref: Sample, cur: Sample) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Counts of every distinct value seen in either sample, aligned (reference, current).

    >>> r, c = joint_counts(Sample(["a", "a", "b"], "categorical"), Sample(["c"], "categorical"))
    >>> sorted(zip(r.tolist(), c.tolist()))
    [(0, 1), (1, 0), (2, 0)]
    """
    if ref.kind == "numeric":
        kr, cr = ref.value_counts
        kc, cc = cur.value_counts
        keys = np.union1d(kr, kc)
        a = np.zeros(keys.size, dtype=np.int64)
        b = np.zeros(keys.size, dtype=np.int64)
        a[np.searchsorted(keys, kr)] = cr
        b[np.searchsorted(keys, kc)] = cc
        return a, b
    kr, cr = ref.value_counts
    kc, cc = cur.value_counts
    left = pl.DataFrame({"value": kr, "r": cr})
    right = pl.DataFrame({"value": kc.cast(kr.dtype, strict=False), "c": cc})
    j = left.join(right, on="value", how="full", coalesce=True).fill_null(0).sort("value")
    return j.get_column("r").to_numpy().astype(np.int64), j.get_column("c").to_numpy().astype(
        np.int64
    )


def n_joint_unique(ref: Sample, cur: Sample, cap: int) -> int:
    """Distinct values across both samples, capped at ``cap + 1`` (cheap when large)."""
    if ref.n_unique_capped(cap) > cap or cur.n_unique_capped(cap) > cap:
        return cap + 1
    return min(int(joint_counts(ref, cur)[0].size), cap + 1)


# --------------------------------------------------------------------------- binning


def sturges_edges(lo: float, hi: float, n: int) -> FloatArray:
    """Sturges bin edges over ``[lo, hi]`` for ``n`` values, as ``numpy.histogram_bin_edges``.

    >>> sturges_edges(0.0, 1.0, 8).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    first, last = lo, hi
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (hi - lo) / (np.log2(n) + 1.0)
    n_bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, n_bins + 1, endpoint=True, dtype=np.float64)


def _hist_sorted(x: FloatArray, edges: FloatArray) -> npt.NDArray[np.int64]:
    """``numpy.histogram(x, edges)[0]`` for sorted ``x`` (last bin closed on the right)."""
    cum = np.concatenate((x.searchsorted(edges[:-1], "left"), x.searchsorted(edges[-1:], "right")))
    return np.diff(cum).astype(np.int64)


def fill_empty_bins(p: FloatArray) -> FloatArray:
    """Evidently's fill of empty bins: 1e-4, or min non-empty share / 1e6 if that is <= 1e-4.

    >>> fill_empty_bins(np.array([0.5, 0.5, 0.0])).tolist()
    [0.5, 0.5, 0.0001]
    """
    nz = p[p != 0]
    if nz.size == 0:
        return p
    m = float(nz.min())
    out = p.copy()
    out[out == 0] = m / 10**6 if m <= 0.0001 else 0.0001
    return out


def binned_shares(
    reference: ArrayLike | Sample,
    current: ArrayLike | Sample,
    kind: Kind = "numeric",
    *,
    fill_zeroes: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Shares of each sample in shared bins, as Evidently's ``get_binned_data``.

    Numeric with more than 20 distinct reference values: Sturges bins over the combined
    range; otherwise one bin per distinct value. With ``fill_zeroes`` empty bins get
    ``1e-4`` (or the smallest non-empty share / 1e6 when that is <= 1e-4).

    >>> r, c = binned_shares(["a", "a", "b"], ["a", "c"], "categorical")
    >>> sorted(r.round(4).tolist()), sorted(c.round(4).tolist())
    ([0.0001, 0.3333, 0.6667], [0.0001, 0.5, 0.5])
    """
    ref, cur = _as_sample(reference, kind), _as_sample(current, kind)
    if ref.kind == "numeric" and ref.n_unique_capped(BINNING_UNIQUE) > BINNING_UNIQUE:
        lo = min(ref.sorted[0], cur.sorted[0])
        hi = max(ref.sorted[-1], cur.sorted[-1])
        edges = sturges_edges(float(lo), float(hi), ref.n + cur.n)
        rp = _hist_sorted(ref.sorted, edges) / ref.n
        cp = _hist_sorted(cur.sorted, edges) / cur.n
    else:
        rc, cc = joint_counts(ref, cur)
        rp, cp = rc / ref.n, cc / cur.n
    if fill_zeroes:
        rp, cp = fill_empty_bins(rp), fill_empty_bins(cp)
    return rp, cp


# --------------------------------------------------------------------------- statistics


def _wasserstein_sorted(a: FloatArray, b: FloatArray) -> float:
    """First Wasserstein distance of two sorted samples, ``integral |Qa(u) - Qb(u)| du``.

    The quantile function of ``a`` steps at ``i / n`` and that of ``b`` at ``j / m``. In
    integer units of ``1 / lcm(n, m)`` both step sets are arithmetic progressions, so their
    merge is computed (no comparison sort): an ``a`` step goes after the ``b`` steps strictly
    below it, a ``b`` step after the ``a`` steps at or below it. On each merged interval
    both quantile functions are constant. Equal sizes reduce to ``mean(|a - b|)``.
    """
    n, m = int(a.size), int(b.size)
    if n == m:
        d = np.subtract(a, b)
        return float(np.mean(np.abs(d, out=d)))
    g = math.gcd(n, m)
    sa, sb = m // g, n // g  # step widths of a and b in units of 1 / lcm(n, m)
    total = n * sa  # lcm(n, m)
    if total > 2**53:  # the units would not be exact as float64
        return float(stats.wasserstein_distance(a, b))
    ua = np.arange(sa, total + 1, sa, dtype=np.int64)  # a's steps i * sa, i = 1..n
    ub = np.arange(sb, total + 1, sb, dtype=np.int64)  # b's steps j * sb, j = 1..m
    ib = (ua - 1) // sb  # b steps strictly below each a step = index of Qb there
    ia = (ub - 1) // sa  # a steps strictly below each b step = index of Qa there
    pos_a = ib + np.arange(n, dtype=np.int64)
    pos_b = ub // sa
    pos_b += np.arange(m, dtype=np.int64)
    u = np.empty(n + m + 1, dtype=np.float64)  # merged steps after a leading 0 (exact)
    u[0] = 0.0
    merged = u[1:]
    merged[pos_a] = ua
    merged[pos_b] = ub
    du = np.subtract(merged, u[:-1])
    gap = np.empty(n + m, dtype=np.float64)
    gap[pos_a] = a - b[ib]
    gap[pos_b] = a[ia] - b
    return float(np.dot(np.abs(gap, out=gap), du)) / total


def normed_wasserstein(reference: ArrayLike | Sample, current: ArrayLike | Sample) -> float:
    """Wasserstein-1 distance divided by ``max(std(reference), 0.001)`` (Evidently's norm).

    >>> round(normed_wasserstein([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]), 4)
    1.2247
    """
    ref, cur = _as_sample(reference, "numeric"), _as_sample(current, "numeric")
    norm = max(ref.std, 0.001)
    return _wasserstein_sorted(ref.sorted, cur.sorted) / norm


def _ks(ref: Sample, cur: Sample) -> float:
    return float(stats.ks_2samp(ref.sorted, cur.sorted)[1])


def _chisquare(ref: Sample, cur: Sample) -> float:
    rc, cc = joint_counts(ref, cur)
    f_exp = rc * (cur.n / ref.n)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.chisquare(cc.astype(np.float64), f_exp)[1])


def _z(ref: Sample, cur: Sample) -> float:
    rc, cc = joint_counts(ref, cur)
    if rc.size == 1:  # one single value, the same in both samples
        return 1.0
    # Evidently codes the smallest value as 0 and every other value as 1; the two-sided
    # p-value does not depend on which value is coded 0, so the first key will do.
    n1, n2 = ref.n, cur.n
    p1 = float(n1 - rc[0]) / n1
    p2 = float(n2 - cc[0]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _wasserstein(ref: Sample, cur: Sample) -> float:
    return normed_wasserstein(ref, cur)


def _jensenshannon(ref: Sample, cur: Sample) -> float:
    rp, cp = binned_shares(ref, cur, fill_zeroes=False)
    return float(distance.jensenshannon(rp, cp))


def _psi(ref: Sample, cur: Sample) -> float:
    rp, cp = binned_shares(ref, cur)
    return float(np.sum((rp - cp) * np.log(rp / cp)))


def _kl_div(ref: Sample, cur: Sample) -> float:
    rp, cp = binned_shares(ref, cur)
    return float(stats.entropy(rp, cp))


def _hellinger(ref: Sample, cur: Sample) -> float:
    if ref.kind == "categorical":
        rc, cc = joint_counts(ref, cur)
        bc = float(np.sum(np.sqrt((rc / ref.n) * (cc / cur.n))))
    else:
        # Evidently takes Sturges bins over the *distinct* values of both samples.
        keys = np.union1d(ref.value_counts[0], cur.value_counts[0])
        edges = np.histogram_bin_edges(keys, bins="sturges")
        widths = np.diff(edges)
        h1 = _hist_sorted(ref.sorted, edges)
        h2 = _hist_sorted(cur.sorted, edges)
        d1 = h1 / widths / h1.sum()
        d2 = h2 / widths / h2.sum()
        bin_width = (edges.max() - edges.min()) / (len(edges) - 1)
        bc = float(np.sum(np.sqrt(d1 * d2) * bin_width))
    return float(np.sqrt(1 - np.clip(bc, 0, 1)))


def _anderson(ref: Sample, cur: Sample) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.anderson_ksamp([ref.sorted, cur.sorted])[2])


def _cramer_von_mises(ref: Sample, cur: Sample) -> float:
    if ref.n <= 1 or cur.n <= 1:
        raise AnalysisError(
            "cramer_von_mises needs at least two values in each sample", column=ref.name
        )
    return float(stats.cramervonmises_2samp(ref.sorted, cur.sorted).pvalue)


def _mannw(ref: Sample, cur: Sample) -> float:
    # Evidently runs the one-sided alternative "less" (reference stochastically smaller).
    return float(stats.mannwhitneyu(ref.sorted, cur.sorted, alternative="less")[1])


def _t_test(ref: Sample, cur: Sample) -> float:
    return float(stats.ttest_ind(ref.sorted, cur.sorted)[1])


# --------------------------------------------------------------------------- registry

Impl = Callable[[Sample, Sample], float]


@dataclass(frozen=True)
class StatTest:
    """One drift test.

    Attributes
    ----------
    name
        Registry name (Evidently's name).
    kinds
        Column kinds it may be asked for explicitly.
    default_threshold
        Threshold used when none is given.
    is_pvalue
        True: the statistic is a p-value (drift when small); False: a distance.
    func
        ``func(reference, current, kind="numeric") -> statistic`` on raw values.
    display_name
        Evidently's display name (what its reports print as the method).
    inclusive
        p-value tests only: drift when ``p <= threshold`` instead of ``p < threshold``.
    """

    name: str
    kinds: frozenset[Kind]
    default_threshold: float
    is_pvalue: bool
    func: Callable[..., float] = field(repr=False, compare=False)
    display_name: str = ""
    inclusive: bool = False
    impl: Impl = field(default=lambda r, c: float("nan"), repr=False, compare=False)

    def drifted(self, statistic: float, threshold: float | None = None) -> bool:
        """Evidently's verdict for ``statistic`` against ``threshold`` (default if None).

        >>> get_test("psi").drifted(0.1), get_test("t_test").drifted(0.05)
        (True, False)
        """
        t = self.default_threshold if threshold is None else threshold
        if self.is_pvalue:
            return bool(statistic <= t) if self.inclusive else bool(statistic < t)
        return bool(statistic >= t)

    def compute(self, reference: Sample, current: Sample) -> float:
        """Statistic on two already-cleaned samples."""
        if reference.n == 0 or current.n == 0:
            side = "reference" if reference.n == 0 else "current"
            raise AnalysisError(f"no non-null values in the {side} data", column=reference.name)
        return self.impl(reference, current)


def _entry(
    name: str,
    kinds: tuple[Kind, ...],
    threshold: float,
    is_pvalue: bool,
    impl: Impl,
    display_name: str,
    *,
    inclusive: bool = False,
) -> StatTest:
    def func(
        reference: ArrayLike | Sample, current: ArrayLike | Sample, kind: Kind = kinds[0]
    ) -> float:
        return StatTest.compute(test, _as_sample(reference, kind), _as_sample(current, kind))

    func.__name__ = f"{name}_statistic"
    func.__doc__ = f"{display_name} of ``current`` against ``reference``."
    test = StatTest(
        name=name,
        kinds=frozenset(kinds),
        default_threshold=threshold,
        is_pvalue=is_pvalue,
        func=func,
        display_name=display_name,
        inclusive=inclusive,
        impl=impl,
    )
    return test


_NUM: tuple[Kind, ...] = ("numeric",)
_CAT: tuple[Kind, ...] = ("categorical",)
_BOTH: tuple[Kind, ...] = ("numeric", "categorical")

#: Every registered test by name.
STAT_TESTS: Mapping[str, StatTest] = {
    t.name: t
    for t in (
        _entry("ks", _NUM, 0.05, True, _ks, "K-S p_value", inclusive=True),
        _entry("chisquare", _CAT, 0.05, True, _chisquare, "chi-square p_value"),
        _entry("z", _CAT, 0.05, True, _z, "Z-test p_value"),
        _entry("wasserstein", _NUM, 0.1, False, _wasserstein, "Wasserstein distance (normed)"),
        _entry("jensenshannon", _BOTH, 0.1, False, _jensenshannon, "Jensen-Shannon distance"),
        _entry("psi", _BOTH, 0.1, False, _psi, "PSI"),
        _entry("kl_div", _BOTH, 0.1, False, _kl_div, "Kullback-Leibler divergence"),
        _entry("hellinger", _BOTH, 0.1, False, _hellinger, "Hellinger distance"),
        _entry("anderson", _NUM, 0.1, True, _anderson, "Anderson-Darling"),
        _entry(
            "cramer_von_mises",
            _NUM,
            0.1,
            True,
            _cramer_von_mises,
            "Cramer-von Mises",
            inclusive=True,
        ),
        _entry("mannw", _NUM, 0.05, True, _mannw, "Mann-Whitney U-rank test"),
        _entry("t_test", _NUM, 0.05, True, _t_test, "t_test"),
    )
}


def get_test(name: str, kind: Kind | None = None) -> StatTest:
    """The registered test ``name``; with ``kind``, check that it accepts that kind.

    >>> get_test("psi").default_threshold
    0.1
    >>> get_test("ks", "categorical")
    Traceback (most recent call last):
    ...
    obskit.errors.AnalysisError: test 'ks' does not apply to categorical columns (only numeric)
    """
    test = STAT_TESTS.get(name)
    if test is None:
        raise AnalysisError(f"unknown drift test {name!r}; known: {', '.join(STAT_TESTS)}")
    if kind is not None and kind not in test.kinds:
        only = ", ".join(sorted(test.kinds))
        raise AnalysisError(f"test {name!r} does not apply to {kind} columns (only {only})")
    return test


def default_test(reference: Sample, current: Sample) -> StatTest:
    """Evidently 0.7's automatic choice for two cleaned samples of one column.

    >>> r = Sample(np.arange(2000.0), "numeric")
    >>> default_test(r, r).name
    'wasserstein'
    >>> default_test(Sample(["a", "b"] * 10, "categorical"), Sample(["a"], "categorical")).name
    'z'
    """
    n_values = n_joint_unique(reference, current, FEW_VALUES)
    if reference.n <= SMALL_REFERENCE:
        if reference.kind == "numeric" and n_values > FEW_VALUES:
            return STAT_TESTS["ks"]
        return STAT_TESTS["chisquare"] if n_values > 2 else STAT_TESTS["z"]
    if reference.kind == "numeric" and n_values > FEW_VALUES:
        return STAT_TESTS["wasserstein"]
    return STAT_TESTS["jensenshannon"]
