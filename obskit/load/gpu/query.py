"""Loaders of ``nvidia-smi --query-gpu`` and ``--query-compute-apps`` CSV logs."""


from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import TypeAlias

import polars as pl

from obskit.load._quarantine import Quarantine
from obskit.load._sources import SourceLike, resolve
from obskit.load.gpu._csv import _APP_TARGETS, _GPU_TARGETS, _csv_blocks, _CsvSpec, _query_frame
from obskit.load.gpu._text import _SUFFIXES, _blocks
from obskit.load.gpu._values import _anchor, _concat, _reject_far_from_bulk, _Sink, _zone
from obskit.schemas import GPU, GPU_PROCESSES


def _load_query(
    source: SourceLike,
    spec: _CsvSpec,
    kind: str,
    *,
    timezone: str | tzinfo,
    strict: bool,
    quarantine: Quarantine | None,
    fields: Sequence[str] | None,
    timestamp: datetime | None,
) -> pl.DataFrame:
    zone = _zone(timezone)
    anchor = _anchor(timestamp, zone)
    sink = _Sink(strict, quarantine)
    inputs = resolve(source, suffixes=_SUFFIXES)
    frames: list[pl.DataFrame] = []
    for inp in inputs:
        for block in _blocks(inp, kind, spec.what):
            for csv_block in _csv_blocks(block, spec, zone, sink, fields):
                frames.append(_query_frame(csv_block, sink, anchor, kind == "query-gpu"))
    frame = _reject_far_from_bulk(_concat(frames, spec.schema), sink)
    sink.finish(inputs, frame.height, spec.what)
    return frame


def load_nvidia_smi(
    source: SourceLike,
    *,
    timezone: str | tzinfo = "UTC",
    strict: bool = False,
    quarantine: Quarantine | None = None,
    fields: Sequence[str] | None = None,
    timestamp: datetime | None = None,
    keep_extra: bool = False,
) -> pl.DataFrame:
    """Load ``nvidia-smi --query-gpu=... --format=csv`` logs into a ``gpu`` frame.

    Parameters
    ----------
    source
        Path, glob, directory (``*.csv``, ``*.txt``, ``*.log``, optionally ``.gz``/``.zst``),
        list of paths, or file-like object. Capture files with section banners are read
        for their ``--query-gpu`` sections only.
    timezone
        Zone of the host that wrote the log (nvidia-smi writes local time without a zone).
    strict
        Raise :class:`~obskit.errors.ParseError` on the first bad row instead of quarantining.
    quarantine
        Where lenient mode puts bad rows; without one, a warning counts them.
    fields
        Field names for logs written with ``--format=csv,noheader``.
    timestamp
        Sample time for queries without the ``timestamp`` field (a one-off snapshot).
        Naive values are read in ``timezone``.
    keep_extra
        Keep the fields with no canonical column (``fan.speed``, ``pstate``, ...) as
        String columns named like the field; by default they are dropped.

    Returns
    -------
    polars.DataFrame
        A ``gpu`` frame (every canonical column; absent fields are null), in file order.
        Power comes from ``power.draw``, else ``power.draw.average``, else
        ``power.draw.instant``; the limit from ``enforced.power.limit``, else
        ``power.limit``. Without an ``index`` field GPUs are numbered by ``pci.bus_id``
        order, else by their position within each sample.

    Raises
    ------
    SourceError
        Missing or empty file, capture without a query-gpu section.
    ParseError
        No header, no timestamps at all; in strict mode any bad row (with line and column).

    Examples
    --------
    >>> import io
    >>> log = io.BytesIO(b"timestamp, name, power.draw [W], memory.total [MiB]\\n"
    ...                  b"2024/01/15 10:00:00.000, NVIDIA H100, [N/A], 81559\\n")
    >>> load_nvidia_smi(log).select("gpu", "power_w", "memory_total_mib").row(0)
    (0, None, 81559.0)
    """
    spec = _CsvSpec(_GPU_TARGETS, GPU.polars_schema, "nvidia-smi --query-gpu", keep_extra)
    return _load_query(
        source,
        spec,
        "query-gpu",
        timezone=timezone,
        strict=strict,
        quarantine=quarantine,
        fields=fields,
        timestamp=timestamp,
    )


GpuIndex: TypeAlias = Mapping[str, int] | pl.DataFrame


def _index_lookup(gpus: GpuIndex | None) -> Callable[[object], int | None] | None:
    if gpus is None:
        return None
    if isinstance(gpus, pl.DataFrame):
        table: dict[str, int] = {}
        for key, idx in gpus.select("uuid", "gpu").unique().iter_rows():
            if key is not None and idx is not None:
                table[str(key)] = int(idx)
    else:
        table = {str(k): int(v) for k, v in gpus.items()}
    return lambda key: None if key is None else table.get(str(key))


def load_compute_apps(
    source: SourceLike,
    *,
    timezone: str | tzinfo = "UTC",
    strict: bool = False,
    quarantine: Quarantine | None = None,
    fields: Sequence[str] | None = None,
    gpus: GpuIndex | None = None,
) -> pl.DataFrame:
    """Load ``nvidia-smi --query-compute-apps=... --format=csv`` output into ``gpu_processes``.

    Parameters
    ----------
    source
        Path, glob, directory, list of paths or file-like object (capture files: the
        ``--query-compute-apps`` sections).
    timezone, strict, quarantine, fields
        As in :func:`load_nvidia_smi`.
    gpus
        How to find the GPU index, which the query cannot report: a mapping from GPU
        UUID or PCI bus id to index, or a ``gpu`` frame (its ``uuid`` → ``gpu``). Without
        it ``gpu`` is null.

    Returns
    -------
    polars.DataFrame
        A ``gpu_processes`` frame; ``sm_pct``/``mem_pct`` are null (the query has no
        per-process utilization). A header-only file gives an empty frame.

    Examples
    --------
    >>> import io
    >>> log = io.BytesIO(b"timestamp, gpu_uuid, pid, process_name, used_gpu_memory [MiB]\\n"
    ...                  b"2024/01/15 10:00:00.000, GPU-1, 4242, python, 1542 MiB\\n")
    >>> load_compute_apps(log, gpus={"GPU-1": 3}).select("gpu", "pid", "used_memory_mib").row(0)
    (3, 4242, 1542.0)
    """
    spec = _CsvSpec(
        _APP_TARGETS,
        GPU_PROCESSES.polars_schema,
        "nvidia-smi --query-compute-apps",
        required=("pid",),
        gpu_of=_index_lookup(gpus),
    )
    return _load_query(
        source,
        spec,
        "query-compute-apps",
        timezone=timezone,
        strict=strict,
        quarantine=quarantine,
        fields=fields,
        timestamp=None,
    )
