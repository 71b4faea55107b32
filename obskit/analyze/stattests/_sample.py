"""Cleaned samples, aligned counts and Evidently's bins: what every stat test reads."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from obskit.errors import AnalysisError

__all__ = [
    "BINNING_UNIQUE",
    "KINDS",
    "ArrayLike",
    "FloatArray",
    "IntArray",
    "Kind",
    "Sample",
    "as_sample",
    "binned_counts",
    "binned_shares",
    "fill_empty_bins",
    "hist_sorted",
    "joint_counts",
    "many_values",
    "n_joint_unique",
    "sturges_edges",
]

Kind = Literal["numeric", "categorical"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical")
ArrayLike = npt.NDArray[Any] | pl.Series | list[Any]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

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


def as_sample(values: ArrayLike | Sample, kind: Kind) -> Sample:
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


def hist_sorted(x: FloatArray, edges: FloatArray) -> npt.NDArray[np.int64]:
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


def many_values(sample: Sample) -> bool:
    """True when a numeric sample has more than :data:`BINNING_UNIQUE` distinct values (Sturges-binned)."""
    return sample.kind == "numeric" and sample.n_unique_capped(BINNING_UNIQUE) > BINNING_UNIQUE


def binned_counts(reference: Sample, current: Sample) -> tuple[IntArray, IntArray]:
    """Counts of both samples in Evidently's shared bins (``get_binned_data``), aligned.

    Numeric with more than 20 distinct reference values: Sturges bins over the combined
    range; otherwise one bin per distinct value seen in either sample.

    >>> r, c = binned_counts(Sample(np.arange(100.0), "numeric"), Sample(np.arange(50.0), "numeric"))
    >>> int(r.sum()), int(c.sum()), r.size
    (100, 50, 9)
    """
    ref, cur = reference, current
    if many_values(ref):
        lo = min(ref.sorted[0], cur.sorted[0])
        hi = max(ref.sorted[-1], cur.sorted[-1])
        edges = sturges_edges(float(lo), float(hi), ref.n + cur.n)
        return hist_sorted(ref.sorted, edges), hist_sorted(cur.sorted, edges)
    return joint_counts(ref, cur)


def binned_shares(
    reference: ArrayLike | Sample,
    current: ArrayLike | Sample,
    kind: Kind = "numeric",
    *,
    fill_zeroes: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Shares of each sample in shared bins (:func:`binned_counts`), as Evidently's ``get_binned_data``.

    With ``fill_zeroes`` empty bins get ``1e-4`` (or the smallest non-empty share / 1e6
    when that is <= 1e-4).

    >>> r, c = binned_shares(["a", "a", "b"], ["a", "c"], "categorical")
    >>> sorted(r.round(4).tolist()), sorted(c.round(4).tolist())
    ([0.0001, 0.3333, 0.6667], [0.0001, 0.5, 0.5])
    """
    ref, cur = as_sample(reference, kind), as_sample(current, kind)
    rc, cc = binned_counts(ref, cur)
    rp, cp = rc / ref.n, cc / cur.n
    if fill_zeroes:
        rp, cp = fill_empty_bins(rp), fill_empty_bins(cp)
    return rp, cp
