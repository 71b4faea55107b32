"""Closing the flywheel: corrected production examples become new training rows.

:func:`flywheel_increment` is pure (frames in, frame out); :func:`write_flywheel` is the
only function here that touches the disk, and it writes atomically (a temporary file in
the destination folder, then a rename), so a reader never sees half a file.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = pl.DataFrame({"timestamp": [t, t], "request_id": ["a", "b"], "model_version": ["v1", "v1"],
...                   "brightness": [80.0, 120.0], "prediction": ["boots", "hat"],
...                   "confidence": [0.9, 0.8], "corrected_label": ["sneaker", None]})
>>> flywheel_increment(r, features=["brightness"]).select("brightness", "label", "prediction").rows()
[(80.0, 'sneaker', 'boots')]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from obskit._atomic import atomic_path
from obskit.errors import AnalysisError

__all__ = ["PROVENANCE_COLUMNS", "flywheel_increment", "write_flywheel"]

PROVENANCE_COLUMNS: tuple[str, ...] = ("request_id", "timestamp", "model_version", "corrected_at")


def flywheel_increment(
    requests: pl.DataFrame,
    features: Sequence[str],
    *,
    reference: pl.DataFrame | None = None,
    provenance: bool = True,
) -> pl.DataFrame:
    """The corrected requests as training rows: features, ``label`` (the correction), prediction.

    Parameters
    ----------
    requests
        A ``requests`` frame with feedback attached (``corrected_label``), the feature
        columns, ``request_id`` and ``prediction``.
    features
        Feature columns to carry over.
    reference
        The training set. When given, the rows follow its layout: its columns in its order
        (features it has that ``features`` does not name are taken from ``requests`` when
        present, else null) with its dtypes; ``confidence`` is kept when the reference has
        it.
    provenance
        Append ``request_id``, ``timestamp``, ``model_version`` and ``corrected_at`` (when
        present) after the reference layout, for traceability.

    Returns
    -------
    polars.DataFrame
        One row per corrected request (deduplicated by ``request_id``: the latest
        correction wins), sorted by ``timestamp`` then ``request_id``.

    Raises
    ------
    AnalysisError
        A required column is missing.

    Examples
    --------
    >>> import polars as pl
    >>> ref = pl.DataFrame({"x": [1.0], "label": ["a"], "prediction": ["a"]})
    >>> r = pl.DataFrame({"request_id": ["q", "q"], "x": [2.0, 2.0], "prediction": ["a", "a"],
    ...                   "corrected_label": ["b", "c"], "corrected_at": [1, 2]})
    >>> flywheel_increment(r, ["x"], reference=ref, provenance=False).rows()
    [(2.0, 'c', 'a')]
    """
    need = ["request_id", "prediction", "corrected_label", *features]
    missing = [c for c in need if c not in requests.columns]
    if missing:
        raise AnalysisError(f"flywheel_increment: missing column(s) {', '.join(missing)}")
    df = requests.filter(pl.col("corrected_label").is_not_null())
    order = [c for c in ("corrected_at", "timestamp") if c in df.columns]
    if order:
        df = df.sort(order, nulls_last=False, maintain_order=True)
    df = df.unique("request_id", keep="last", maintain_order=True)
    df = df.with_columns(pl.col("corrected_label").alias("label"))
    if reference is not None:
        layout = list(reference.columns)
        cols = []
        for c in layout:
            dtype = reference.schema[c]
            if c in df.columns:
                cols.append(pl.col(c).cast(dtype, strict=False))
            else:
                cols.append(pl.lit(None, dtype=dtype).alias(c))
        body = list(layout)
    else:
        body = [*features, "label", "prediction"]
        cols = [pl.col(c) for c in body]
    extra = [c for c in PROVENANCE_COLUMNS if provenance and c in df.columns and c not in body]
    sort_keys = [c for c in ("timestamp", "request_id") if c in df.columns]
    if sort_keys:
        df = df.sort(sort_keys)
    return df.select(*cols, *[pl.col(c) for c in extra])


def write_flywheel(frame: pl.DataFrame, path: str | Path, *, merge: bool = False) -> Path:
    """Write flywheel rows to a Parquet file atomically (temporary file + rename).

    Parameters
    ----------
    frame
        Output of :func:`flywheel_increment`.
    path
        Destination ``.parquet`` file; its folder is created.
    merge
        Add to an existing file instead of replacing it: old and new rows are
        concatenated and deduplicated by ``request_id`` (the new row wins).

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import tempfile, pathlib, polars as pl
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "flywheel.parquet"
    >>> _ = write_flywheel(pl.DataFrame({"request_id": ["a"], "label": ["x"]}), p)
    >>> _ = write_flywheel(pl.DataFrame({"request_id": ["a", "b"], "label": ["y", "z"]}), p, merge=True)
    >>> pl.read_parquet(p).rows()
    [('a', 'y'), ('b', 'z')]
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    out = frame
    if merge and dest.exists():
        old = pl.read_parquet(dest)
        out = pl.concat([old, frame], how="diagonal_relaxed")
        if "request_id" in out.columns:
            out = out.unique("request_id", keep="last", maintain_order=True)
    with atomic_path(dest) as tmp:
        out.write_parquet(tmp, compression="zstd")
    return dest
