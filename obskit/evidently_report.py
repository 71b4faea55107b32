"""Evidently's own data-drift report, built from obskit's polars frames.

obskit's drift analysis (:mod:`obskit.analyze.drift`) reproduces Evidently's verdicts in a
fraction of the time; some teams still want the familiar Evidently HTML page to share.
:func:`evidently_drift_report` runs Evidently 0.7's ``DataDriftPreset`` on the two frames
and saves the page Evidently renders (``Snapshot.get_html_str``, what ``save_html``
writes), with three obskit additions:

* column kinds come from :func:`obskit.analyze.drift.infer_kind` on the *reference* frame
  (Evidently would infer them from the current one), so both tools test the same columns
  the same way; pass ``kinds`` to pin them;
* each side larger than ``max_rows`` is sampled without replacement (Evidently's runtime
  grows quickly with rows); the sizes used are stated in the returned
  :class:`EvidentlyReportInfo` and in a note at the top of the page
  (``<div id="obskit-sampling-note">``), also when nothing was sampled;
* the file is written atomically (a temporary file in the same folder, then
  ``os.replace``), so a reader never sees half a report.

Evidently is imported lazily; if it cannot be imported, :class:`MissingDependencyError`
says so (obskit's own drift analysis does not need it).

Examples
--------
>>> import tempfile, pathlib, polars as pl
>>> ref = pl.DataFrame({"x": [float(i % 30) for i in range(300)]})
>>> cur = pl.DataFrame({"x": [float(i % 30) + 3 for i in range(300)]})
>>> out = pathlib.Path(tempfile.mkdtemp()) / "drift.html"
>>> info = evidently_drift_report(ref, cur, out, max_rows=200)  # doctest: +SKIP
>>> info.n_reference, info.n_current, info.sampled  # doctest: +SKIP
(200, 200, True)
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import polars as pl

from obskit._atomic import atomic_write_text
from obskit.analyze.drift import resolve_columns
from obskit.errors import AnalysisError, MissingDependencyError

__all__ = ["EvidentlyReportInfo", "evidently_drift_report"]


@dataclass(frozen=True)
class EvidentlyReportInfo:
    """What :func:`evidently_drift_report` wrote.

    ``n_reference``/``n_current`` are the rows Evidently saw, ``*_total`` the input sizes;
    ``note`` is the sentence stated at the top of the page.
    """

    path: Path
    columns: tuple[str, ...]
    numerical_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    n_reference: int
    n_current: int
    n_reference_total: int
    n_current_total: int
    sampled: bool
    seed: int
    evidently_version: str
    note: str
    bytes: int


def _import_evidently() -> tuple[Any, Any, Any, Any, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notices from Evidently's own dependencies
            import evidently
            from evidently import DataDefinition, Dataset, Report
            from evidently.presets import DataDriftPreset
    except Exception as err:  # ImportError, or a broken install (e.g. an incompatible pandas)
        raise MissingDependencyError(
            f"the Evidently report needs the evidently package (pip install 'evidently==0.7.23'): {err}"
        ) from None
    return DataDefinition, Dataset, Report, DataDriftPreset, str(getattr(evidently, "__version__", "?"))


def _to_pandas(frame: pl.DataFrame, kinds: Mapping[str, str]) -> Any:
    exprs = [
        pl.col(c).cast(pl.Float64) if k == "numeric" else pl.col(c).cast(pl.String) for c, k in kinds.items()
    ]
    return frame.select(exprs).to_pandas()


def _with_note(page: str, note: str) -> str:
    """Put ``note`` at the top of the page body (a visible banner), without touching the doctype."""
    banner = (
        '<div id="obskit-sampling-note" style="font-family:sans-serif;font-size:14px;padding:8px 12px;'
        f'background:#fff8e1;border-bottom:1px solid #e0c060">{html.escape(note)}</div>'
    )
    at = page.lower().find("<body")
    end = page.find(">", at) if at >= 0 else -1
    if end < 0:
        return banner + page
    return page[: end + 1] + banner + page[end + 1 :]


def evidently_drift_report(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    path: str | PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    max_rows: int = 100_000,
    seed: int = 0,
) -> EvidentlyReportInfo:
    """Run Evidently's ``DataDriftPreset`` on two polars frames and save its HTML page.

    Parameters
    ----------
    reference, current
        The reference (training) frame and the frame to test.
    path
        Where to write the HTML file (folders are created).
    columns
        Columns to include; default: every column of both frames with a drift kind
        (:func:`obskit.analyze.drift.infer_kind`).
    kinds
        ``{column: "numeric" | "categorical"}`` overriding the inferred kinds.
    max_rows
        Rows per side at most; a larger side is sampled without replacement.
    seed
        Seed of the sampling.

    Returns
    -------
    EvidentlyReportInfo

    Raises
    ------
    MissingDependencyError
        Evidently cannot be imported.
    AnalysisError
        An empty frame, a missing column, no usable column, ``max_rows < 1``.

    Examples
    --------
    >>> import polars as pl
    >>> ref = pl.DataFrame({"x": [1.0, 2.0]})
    >>> evidently_drift_report(ref, ref.head(0), "never.html")
    Traceback (most recent call last):
    ...
    obskit.errors.AnalysisError: the current frame is empty
    """
    if max_rows < 1:
        raise AnalysisError(f"max_rows must be >= 1, got {max_rows}")
    for frame, label in ((reference, "reference"), (current, "current")):
        if frame.height == 0:
            raise AnalysisError(f"the {label} frame is empty")
    resolved: dict[str, str] = dict(resolve_columns(reference, current, columns, kinds))
    data_definition, dataset, report_cls, preset, version = _import_evidently()

    ref, cur = reference, current
    if ref.height > max_rows:
        ref = ref.sample(n=max_rows, seed=seed)
    if cur.height > max_rows:
        cur = cur.sample(n=max_rows, seed=seed + 1)
    sampled = ref.height < reference.height or cur.height < current.height
    numerical = tuple(c for c, k in resolved.items() if k == "numeric")
    categorical = tuple(c for c, k in resolved.items() if k == "categorical")
    if sampled:
        note = (
            f"Evidently ran on a random sample (seed {seed}): {ref.height:,} of {reference.height:,} "
            f"reference rows and {cur.height:,} of {current.height:,} current rows (at most {max_rows:,} a side)."
        )
    else:
        note = (
            f"Evidently ran on all rows: {ref.height:,} reference rows and {cur.height:,} current rows "
            "(no sampling)."
        )

    definition = data_definition(numerical_columns=list(numerical), categorical_columns=list(categorical))
    report = report_cls([preset(columns=list(resolved))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently and pandas are chatty on mixed dtypes
        snapshot = report.run(
            dataset.from_pandas(_to_pandas(cur, resolved), data_definition=definition),
            dataset.from_pandas(_to_pandas(ref, resolved), data_definition=definition),
        )
        page = snapshot.get_html_str(as_iframe=False)
    dest = Path(path)
    size = atomic_write_text(dest, _with_note(page, note))
    return EvidentlyReportInfo(
        path=dest,
        columns=tuple(resolved),
        numerical_columns=numerical,
        categorical_columns=categorical,
        n_reference=ref.height,
        n_current=cur.height,
        n_reference_total=reference.height,
        n_current_total=current.height,
        sampled=sampled,
        seed=seed,
        evidently_version=version,
        note=note,
        bytes=size,
    )
