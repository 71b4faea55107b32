"""Prototype: the streaming analyses on a ``dask.distributed`` cluster.

Each parquet file (or group of ``files_per_task`` files) is one task that builds a partial
state (:func:`~obskit.scale.streaming.window_state`,
:func:`~obskit.scale.streaming.drift_state`) on a worker; states are merged pairwise in a
tree (``log2(tasks)`` rounds, on the workers) and only the final, small state travels to
the client, which finishes it exactly as the local path does. The frames are the same as
:func:`~obskit.scale.streaming.stream_window_stats` and
:func:`~obskit.scale.streaming.stream_drift` return, with the same error bounds:

* counts, error rates, means: exact;
* latency percentiles: within ``alpha`` (default 0.5 %) relative of the exact
  linear-interpolated percentile (the sketches merge exactly, so the split into partitions
  does not change the estimate);
* drift: categorical and few-value tests, and Sturges-binned ``psi``/``kl_div``/
  ``jensenshannon`` exact; ``wasserstein`` and ``ks`` within the computed
  ``[statistic_low, statistic_high]`` interval (see :mod:`obskit.scale.streaming`).

When to use it
    When the data do not fit one machine's disk or bandwidth, or already live partitioned
    in object storage next to a Dask cluster (workers read their files where they are; pass
    paths the workers can open, e.g. ``s3://...`` with the right filesystem installed on
    the workers, or a shared mount). Otherwise prefer the local streaming path: one polars
    query uses every core of the machine without serialization, scheduling or a second
    copy of the reference, and is faster for anything one machine can read (see
    ``benchmarks/bench_scale.py``).

Examples
--------
>>> from dask.distributed import Client, LocalCluster   # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))   # doctest: +SKIP
>>> dask_window_stats(client, "s3://bucket/requests/day=2026-11-22/")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from obskit.analyze.serving import DEFAULT_QUANTILES
from obskit.analyze.stattests import DriftOptions
from obskit.errors import AnalysisError
from obskit.scale.rollup import ROLLUP_EVERY, Rollup, build_rollup
from obskit.scale.sketches import DEFAULT_ALPHA, DEFAULT_MIN_VALUE
from obskit.scale.streaming import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_BINS,
    DriftSpec,
    DriftState,
    SourceSpec,
    WindowState,
    _as_reference,
    drift_spec,
    drift_state,
    finish_drift,
    parquet_files,
    second_pass_spec,
    window_state,
)

__all__ = ["dask_drift", "dask_rollup", "dask_window_stats", "remote_files", "tree_reduce"]

T = TypeVar("T")


def _merge_two(a: Any, b: Any) -> Any:
    return a.merge(b)


def _window_task(files: list[str], opts: dict[str, Any]) -> WindowState:
    return window_state(files, **opts)


def _drift_task(files: list[str], spec: DriftSpec) -> DriftState:
    return drift_state(files, spec)


def _rollup_task(files: list[str], opts: dict[str, Any]) -> Rollup:
    return build_rollup(files, **opts)


def tree_reduce(client: Any, futures: list[Any], merge: Callable[[Any, Any], Any] = _merge_two) -> Any:
    """Merge futures pairwise on the cluster until one is left; return that future."""
    if not futures:
        raise AnalysisError("nothing to merge")
    level = list(futures)
    while len(level) > 1:
        nxt = [client.submit(merge, level[i], level[i + 1], pure=False) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _chunks(files: list[str], per_task: int) -> list[list[str]]:
    step = max(1, per_task)
    return [files[i : i + step] for i in range(0, len(files), step)]


def _files(paths: SourceSpec) -> list[str]:
    if isinstance(paths, (list, tuple)) and all("://" in str(p) for p in paths):
        return [str(p) for p in paths]
    if isinstance(paths, str) and "://" in paths:
        return remote_files(paths)
    return parquet_files(paths)


def remote_files(url: str) -> list[str]:
    """The parquet files under an object-storage folder or glob (``s3://bucket/requests/``), listed with fsspec.

    A folder is searched recursively (hive partitions); a URL with ``*``/``?``/``[`` is a
    glob. Listing needs ``fsspec`` and the store's package (``s3fs``, ``gcsfs``, ``adlfs``)
    on the client; the workers read the returned URLs with polars' own object-store
    reader, with credentials from their environment (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``).

    Raises
    ------
    SourceError
        fsspec or the store's package is missing, or nothing matched.
    """
    from obskit.errors import SourceError
    from obskit.redact import scrub

    try:
        import fsspec  # type: ignore[import-untyped]

        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise SourceError(f"cannot list {scrub(url)}: {exc} (install fsspec and the store's package, or pass "
                          "a list of file URLs)") from None
    pattern = root if any(ch in root for ch in "*?[") else root.rstrip("/") + "/**/*.parquet"
    protocol = url.split("://", 1)[0]
    found = sorted(str(f) for f in fs.glob(pattern) if str(f).endswith(".parquet"))
    if not found:
        raise SourceError("no parquet files found", path=scrub(url))
    return [f if "://" in f else f"{protocol}://{f}" for f in found]


def dask_window_stats(
    client: Any,
    paths: SourceSpec,
    *,
    every: str = "5m",
    by: Sequence[str] = ("model_version",),
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    alpha: float = DEFAULT_ALPHA,
    min_value: float = DEFAULT_MIN_VALUE,
    confidence_threshold: float = 0.8,
    column_map: Mapping[str, str] | None = None,
    files_per_task: int = 1,
) -> pl.DataFrame:
    """:func:`~obskit.scale.streaming.stream_window_stats` with one task per file (group) on ``client``.

    ``client`` is a ``dask.distributed.Client``; ``paths`` a folder, glob, file or list of
    files the workers can read. Returns the same frame as the local function.
    """
    for q in quantiles:
        if not 0 < q < 1:
            raise AnalysisError(f"quantile must be in (0, 1), got {q}")
    files = _files(paths)
    opts: dict[str, Any] = {
        "every": every,
        "by": tuple(by),
        "alpha": alpha,
        "min_value": min_value,
        "confidence_threshold": confidence_threshold,
        "column_map": dict(column_map) if column_map else None,
    }
    parts = [client.submit(_window_task, chunk, opts, pure=False) for chunk in _chunks(files, files_per_task)]
    state: WindowState = tree_reduce(client, parts).result()
    return state.finish(quantiles)


def dask_drift(
    client: Any,
    reference: pl.DataFrame | str | Path,
    paths: SourceSpec,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    method: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    options: DriftOptions | None = None,
    bins: int = DEFAULT_BINS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    column_map: Mapping[str, str] | None = None,
    files_per_task: int = 1,
) -> pl.DataFrame:
    """:func:`~obskit.scale.streaming.stream_drift` with one task per file (group) on ``client``.

    The reference stays on the client; only the bin edges (a few KB per column) are sent to
    the workers, once (``client.scatter(..., broadcast=True)``).
    """
    ref = _as_reference(reference)
    files = _files(paths)
    opts = DriftOptions.of(options, columns=columns, kinds=kinds, method=method, threshold=threshold)
    plan = drift_spec(ref, files, options=opts, bins=bins, batch_rows=batch_rows, column_map=column_map)
    chunks = _chunks(files, files_per_task)

    def run(spec: DriftSpec) -> DriftState:
        shipped = client.scatter(spec, broadcast=True)
        parts = [client.submit(_drift_task, chunk, shipped, pure=False) for chunk in chunks]
        result: DriftState = tree_reduce(client, parts).result()
        return result

    state = run(plan.spec)
    spec2 = second_pass_spec(plan, state)
    sturges = run(spec2) if spec2 is not None else None
    return finish_drift(plan, state, sturges)


def dask_rollup(
    client: Any,
    paths: SourceSpec,
    *,
    slo_ms: float | None = None,
    confidence_threshold: float = 0.8,
    by: Sequence[str] = ("model_version",),
    every: str = ROLLUP_EVERY,
    alpha: float = DEFAULT_ALPHA,
    files_per_task: int = 1,
) -> Rollup:
    """:func:`~obskit.scale.rollup.build_rollup` of parquet files with one task per file (group) on ``client``.

    The partial rollups merge exactly on the workers, so the result equals the local one
    (counts, sketch buckets and error messages; only the float ``sum`` behind means may
    differ in its last bits). Save it beside the day's report for the trends report.
    """
    files = _files(paths)
    opts: dict[str, Any] = {"slo_ms": slo_ms, "confidence_threshold": confidence_threshold, "by": tuple(by),
                            "every": every, "alpha": alpha}
    parts = [client.submit(_rollup_task, chunk, opts, pure=False) for chunk in _chunks(files, files_per_task)]
    result: Rollup = tree_reduce(client, parts).result()
    return result
