"""Matrix-profile discords, causal: each shape's distance to its nearest earlier shape.

The left matrix profile (Yeh et al., 2016; Zhu et al., 2017, "Matrix Profile IX") gives
every subsequence of length ``m`` the z-normalised Euclidean distance to its nearest
neighbour among the subsequences that start before it. A shape never seen before (a
*discord*: a missing beat, a doubled peak, a cycle out of step) has a large distance even
when every value is within the usual range, which is where value- and level-based
detectors are blind. The profile is computed by `stumpy <https://stumpy.readthedocs.io>`_
(``stumpy.stump``: its left indices are the same as the incremental ``stumpy.stumpi``
would find row by row), and placed on the subsequence's last row, so row ``i`` reads rows
``0..i`` only.

The history is bounded: rows are scored in blocks of ``history`` rows, each against the
block before it and itself, so the cost grows linearly with the series and each row looks
back between ``history`` and ``2 * history`` rows.

stumpy compiles its kernels with numba on first use (about 25 s); obskit turns numba's
on-disk cache on for them, so later processes load them in well under a second.

Examples
--------
>>> import numpy as np
>>> x = np.sin(np.arange(1200) * 2 * np.pi / 40)
>>> x[1000:1020] = x[1000:1020][::-1]  # one cycle with its shape broken
>>> d = discord_distance(x, 40)
>>> 1000 <= 200 + int(np.nanargmax(d[200:])) < 1060  # after the first cycles, which have few neighbours
True
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from functools import cache
from types import ModuleType

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from obskit.analyze.detect.shapes import ffill, gap_windows
from obskit.errors import InvalidArgument

__all__ = ["discord_distance"]


@cache
def _stumpy() -> ModuleType:
    """stumpy, with numba's on-disk cache turned on for its compiled kernels (once per process)."""
    import stumpy
    from stumpy import cache as stumpy_cache

    with contextlib.suppress(Exception):  # a cache that cannot be used only costs compile time
        for module, name in stumpy_cache.get_njit_funcs():
            getattr(importlib.import_module(f".{module}", package="stumpy"), name).enable_caching()
    return stumpy


def _left_distances(seg: np.ndarray, m: int, first: int) -> np.ndarray:
    """Left matrix-profile distances of the subsequences of ``seg`` starting at ``first`` or later."""
    stumpy = _stumpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp = stumpy.stump(seg, m)
    left = np.asarray(mp[first:, 2], dtype=np.int64)
    shapes = sliding_window_view(seg, m)
    out = np.full(left.size, np.nan)
    has = np.flatnonzero(left >= 0)
    for c0 in range(0, has.size, 4096):  # bounded memory: 4096 x m values at a time
        i = has[c0:c0 + 4096]
        a = _znorm(shapes[i + first])
        b = _znorm(shapes[left[i]])
        out[i] = np.sqrt(np.sum((a - b) ** 2, axis=1))
    return out


def _znorm(s: np.ndarray) -> np.ndarray:
    mu = s.mean(axis=1, keepdims=True)
    sd = s.std(axis=1, keepdims=True)
    return np.where(sd > 0, (s - mu) / np.where(sd > 0, sd, 1.0), 0.0)


def discord_distance(x: np.ndarray, m: int, *, history: int = 8192) -> np.ndarray:
    """Distance from each row's last ``m`` values to the nearest earlier shape (z-normalised).

    Parameters
    ----------
    x
        The series (NaN rows are carried forward, and score NaN themselves).
    m
        The shape length, in rows (at least 4); :func:`obskit.analyze.detect.score` uses the
        series' period.
    history
        Block size of the bounded look-back (see the module docstring).

    Returns
    -------
    numpy.ndarray
        One distance per row, in ``[0, 2 sqrt(m)]``; NaN until a shape has an earlier shape
        outside its own exclusion zone, and where the last ``m`` values include a missing one
        (a gap carried forward is not a shape, so the first row after a gap never alarms).

    Examples
    --------
    >>> x = np.tile([0.0, 1.0, 0.0, -1.0], 60)
    >>> x[200:204] = [0.0, -1.0, 0.0, 1.0]
    >>> d = discord_distance(x, 4)
    >>> bool(d[199] < 1e-6), bool(d[200:204].max() > 1.0)
    (True, True)
    """
    m, history = int(m), int(history)
    if m < 4:
        raise InvalidArgument("discord_distance needs shapes of at least 4 rows")
    if history < m:
        raise InvalidArgument(f"discord_distance needs a history of at least the shape length ({m} rows)")
    raw = np.asarray(x, dtype=np.float64)
    if raw.ndim != 1:
        raise InvalidArgument("discord_distance takes a one-dimensional series")
    v = ffill(raw)
    n = v.size
    out = np.full(n, np.nan)
    start = int(np.argmax(np.isfinite(v))) if np.isfinite(v).any() else n
    for b0 in range(start, n, history):
        lo = max(start, b0 - history)
        seg = v[lo:min(n, b0 + history)]
        if seg.size < m:  # no whole shape yet (whatever follows, these rows stay NaN)
            continue
        first = max(0, b0 - lo - m + 1)  # the first subsequence ending in this block
        # an offset does not change z-normalised distances, but a large one costs stumpy precision;
        # the segment's first value is known before any row it scores
        d = _left_distances(np.ascontiguousarray(seg - seg[0]), m, first)
        ends = lo + first + m - 1 + np.arange(d.size)
        keep = (ends >= b0) & (ends < min(n, b0 + history))
        out[ends[keep]] = d[keep]
    out[gap_windows(raw, m)] = np.nan
    return out
