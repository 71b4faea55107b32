"""The request source below the session: a large parquet (or staged JSONL/CSV) source, scanned by period.

When the request source is parquet (a file, hive partitions, a glob) or a JSONL/CSV source
with ``stage``, and the period holds more rows than ``[report] max_rows``, the rows are
never loaded: :func:`scale_source` says so (counting reads parquet metadata only), and
:func:`canonical_scan` / :func:`period_scan` read the files lazily with the loader's
column mapping, UTC timestamps, canonical status and the period's filters pushed into the
scan. :func:`load_period` collects a short period of a large source; :func:`period_extent`
counts it; :func:`keep_rejects` hands the rows rejected while staging to the session.

This is the layer the :class:`~obskit.session.Session` and the reports stand on; it imports
nothing above :mod:`obskit.load` and :mod:`obskit.scale`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from obskit.errors import ObskitError, SourceError

if TYPE_CHECKING:
    from obskit.config import Config
    from obskit.load.registry import SourceConfig

__all__ = ["AUTO_STAGE_BYTES", "DEFAULT_MAX_ROWS", "ScaleSource", "auto_stage_folder",
           "canonical_scan", "keep_rejects", "load_period", "period_extent", "period_scan", "scale_source",
           "scan_rejects", "with_log_checks"]

#: Above this many request rows, the health report runs at scale (``[report] max_rows``): about 4 GB
#: of peak memory for an in-memory health report (10M rows took 7.4 GB).
DEFAULT_MAX_ROWS = 5_000_000
#: A JSONL/CSV request source this large on disk is staged without being asked (about 4M
#: requests as JSONL.gz): loading it whole would take several GB.
AUTO_STAGE_BYTES = 256 << 20


@dataclass(frozen=True)
class ScaleSource:
    """A parquet request source read by streaming: its files, row count and how to make it canonical."""

    files: tuple[str, ...]
    rows: int
    columns: dict[str, str]
    status_convention: str
    timestamp_format: str
    timezone: str
    period_rows: int = 0
    rejects: tuple[str, ...] = ()  # staged sources: the rows the loader rejected (parquet files)
    latency_unit: str = "ms"  # of the files' latency (staged files are canonical: ms)
    checked: bool = False  # staged sources: every row already passed the loader's checks
    #: The times the loader's whole-log check keeps (``far_from_bulk``), for parquet read as it is.
    bounds: tuple[datetime, datetime] | None = None
    #: Row numbers (over ``files`` in order) of the requests whose id occurred before: left out.
    duplicates: pl.Series | None = field(default=None, compare=False)
    #: Staged sources: the input file of each of ``files`` (their rows' lines are staged beside them).
    origins: tuple[str, ...] = ()


def scale_source(config: Config, max_rows: int | None = None) -> ScaleSource | None:
    """The request source as a :class:`ScaleSource` when it is parquet with more than ``max_rows`` rows.

    A JSONL/CSV source with ``stage = "<folder>"`` is staged first (each new input file
    converted once to canonical parquet, :mod:`obskit.scale.staging`) and then read like
    parquet. Without ``stage``, a JSONL/CSV source whose files hold at least
    :data:`AUTO_STAGE_BYTES` on disk is staged all the same, into :func:`auto_stage_folder`:
    nobody has to know that a day is big. None for any other source (several request
    sources, OpenTelemetry, fewer rows): those are loaded in memory as before. Counting reads
    only parquet metadata.
    """
    from obskit.scale.streaming import parquet_files

    limit = config.report.max_rows if max_rows is None else max_rows
    sources = config.sources_for("requests")
    if len(sources) != 1 or sources[0].kind != "requests":
        return None
    src = sources[0]
    path, fmt = src.options.get("path"), src.get("format")
    if src.get("stage") is not None:
        return _staged(config, src, limit)
    if path is not None and (fmt in ("jsonl", "ndjson", "csv") or (fmt is None and not _is_parquet(str(path)))):
        size = _input_bytes(str(path))
        if size >= AUTO_STAGE_BYTES:
            folder = auto_stage_folder(config, src.name)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                return None  # nowhere to write it beside the config: loaded in memory as before
            return _staged(config, src, limit, folder)
        return None
    if path is None or fmt not in (None, "parquet"):
        return None
    try:
        files = parquet_files(str(path))
    except SourceError:
        return None  # not parquet: the in-memory loader says what is wrong with it
    try:
        rows = int(pl.scan_parquet(files, hive_partitioning=True).select(pl.len()).collect().item())
    except (OSError, pl.exceptions.PolarsError):
        return None  # unreadable: the loader reports the problem
    if rows <= limit:
        return None
    found = ScaleSource(tuple(files), rows, dict(src.get("columns") or {}), str(src.get("status_convention") or "auto"),
                        str(src.get("timestamp_format") or "iso8601"),
                        str(src.get("timezone") or config.project.timezone),
                        latency_unit=str(src.get("latency_unit") or "ms"))
    return with_log_checks(found)


def with_log_checks(src: ScaleSource) -> ScaleSource:
    """``src`` with the loader's whole-log checks: far timestamps and repeated request ids are left out.

    The same rules as the in-memory loader, on the rows that pass the row checks:

    * a timestamp far from the bulk (:func:`obskit.load._plausible.far_from_bulk`), found in
      two streaming passes over the time column (:func:`obskit.load._plausible.far_bounds`);
      staged sources were checked part by part when staged;
    * a request id seen before (its first occurrence in time is kept), over every file,
      staged or not (:func:`obskit.load._duplicates.duplicate_rows`: hashed ids in parts, in
      bounded memory; usually one pass over the id column).
    """
    from obskit.load._duplicates import duplicate_rows
    from obskit.load._plausible import far_bounds

    bare = replace(src, bounds=None, duplicates=None)
    if not src.checked:
        src = replace(src, bounds=far_bounds(canonical_scan(bare)))
    scan = _scan(bare, row=True)
    if "request_id" in scan.collect_schema():
        found = duplicate_rows(_kept(scan, bare), row=_ROW, rows=src.rows)
        src = replace(src, duplicates=found if found.len() else None)
    return src


def auto_stage_folder(config: Config, name: str) -> Path:
    """Where a large JSONL/CSV source is staged without ``stage``: ``.obskit/staged/<source>`` beside the config."""
    return Path(config.path).resolve().parent / ".obskit" / "staged" / name


def _is_parquet(path: str) -> bool:
    return path.endswith(".parquet") or (Path(path).is_dir() and any(Path(path).rglob("*.parquet")))


def _input_bytes(path: str) -> int:
    """Bytes on disk of the source's input files (0 when they cannot be listed: the loader says why).

    A URL counts 0: sizing it would download it once more than the loader does.
    """
    from obskit.load._sources import resolve

    if "://" in path:
        return 0
    try:
        return sum(i.path.stat().st_size for i in resolve(path) if i.path is not None)
    except (OSError, ObskitError):
        return 0


def _staged(config: Config, src: SourceConfig, limit: int, folder: Path | None = None) -> ScaleSource | None:
    """The staged parquet of a JSONL/CSV source (converting its new files first), when above ``limit`` rows."""
    from obskit.scale.staging import stage_requests

    staged = stage_requests(src, folder if folder is not None else src.get("stage"),
                            timezone=config.project.timezone, model=config.project.model)
    if staged.rows <= limit:
        return None  # loaded in memory from the source itself, as without staging
    return with_log_checks(ScaleSource(staged.files, staged.rows, {}, "text", "iso8601", "UTC",
                                       rejects=staged.rejects, checked=True, origins=staged.origins))


def keep_rejects(session: Any, src: ScaleSource) -> None:
    """Put the rejected rows into the session's quarantine (reported as usual).

    Staged sources: the rows the loader rejected while staging. Parquet read as it is: the
    rows the same checks reject in the scan (:func:`scan_rejects`), which the reports leave out.
    """
    for path in src.rejects:
        session.quarantine.extend(pl.read_parquet(path))
    found = scan_rejects(src, model=getattr(session, "model", "") or "")
    if found.height:
        session.quarantine.extend(found)


def canonical_scan(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                   model: str = "", version: str = "") -> pl.LazyFrame:
    """The files as a lazy ``requests`` frame: mapped names, UTC timestamps, canonical status, the period.

    Rows the loader's checks reject are left out (:func:`scan_rejects` lists them).
    """
    dups = src.duplicates
    lf = _kept(_scan(src, row=dups is not None, model=model), src)
    if src.bounds is not None:  # and the times far from the rest of the log
        lf = lf.filter(pl.col("timestamp").is_between(*src.bounds))
    if dups is not None:  # and the requests whose id came before
        lf = lf.filter(~pl.col(_ROW).is_in(dups.implode())).drop(_ROW)
    if start is not None:
        lf = lf.filter(pl.col("timestamp") >= start)
    if end is not None:
        lf = lf.filter(pl.col("timestamp") < end)
    if model:  # (a file without a model column names the project's: every row passes)
        lf = lf.filter(pl.col("model").cast(pl.String) == model)
    if version:
        lf = lf.filter(pl.col("model_version") == version)
    return lf


_REASON = "__obskit_reason"
_NO_TS = "__obskit_no_ts"
_ROW = "__obskit_row"
_FILE = "__obskit_file"


def _scan(src: ScaleSource, *, row: bool = False, file: bool = False, model: str = "") -> pl.LazyFrame:
    """The files with canonical columns, every row; ``row``: numbered over the files in order; ``file``: its path."""
    lf = pl.scan_parquet(list(src.files), hive_partitioning=True, row_index_name=_ROW if row else None,
                         include_file_paths=_FILE if file else None)
    return _canonical_columns(lf, src, model)


def _kept(lf: pl.LazyFrame, src: ScaleSource) -> pl.LazyFrame:
    """The rows of a :func:`_scan` that pass the loader's row checks (staged files passed them when staged)."""
    if src.checked:
        return lf
    return lf.filter(~pl.any_horizontal([cond.fill_null(False) for cond, _ in _checks(lf)])).drop(_NO_TS)


def _canonical_columns(lf: pl.LazyFrame, src: ScaleSource, model: str) -> pl.LazyFrame:
    """The files made canonical: mapped names, UTC timestamps, status, latency in ms, whether a time was written."""
    from obskit.load.logs import LATENCY_FACTORS, _status_exprs, _timestamp_expr

    lf = lf.rename({v: k for k, v in src.columns.items()}, strict=False)
    schema = lf.collect_schema()
    fixes = [_timestamp_expr("timestamp", src.timestamp_format, src.timezone, schema["timestamp"]).alias("timestamp"),
             pl.col("latency_ms").cast(pl.Float64, strict=False) * LATENCY_FACTORS[src.latency_unit]]
    status, code = _status_exprs(pl.DataFrame(schema=schema), src.status_convention)
    fixes += [status.alias("status"), code.alias("status_code")]
    if "model_version" in schema:
        fixes.append(pl.col("model_version").cast(pl.String))
    if "confidence" in schema and not schema["confidence"].is_numeric():
        fixes.append(pl.col("confidence").cast(pl.Float64, strict=False))
    if "model" not in schema:  # as the loader does: rows that name no model are the project's
        fixes.append(pl.lit(model or None, pl.String).alias("model"))
    if src.checked:  # staged files are canonical already: a column of its canonical type is left as it is
        from obskit.schemas import REQUESTS

        canonical = {c.name: c.dtype for c in REQUESTS.columns}
        fixes = [f for f in fixes if schema.get(f.meta.output_name()) != canonical.get(f.meta.output_name())
                 or (f.meta.output_name() == "latency_ms" and LATENCY_FACTORS[src.latency_unit] != 1.0)]
        return lf.with_columns(fixes) if fixes else lf
    return lf.with_columns(pl.col("timestamp").is_null().alias(_NO_TS)).with_columns(fixes)


def _checks(lf: pl.LazyFrame) -> list[tuple[pl.Expr, str]]:
    """The loader's row checks on the canonical columns (:mod:`obskit.load.row_checks`).

    The same reasons as the loader's, so a day has the same rows at every size. The checks
    that need the whole day at once apply through :attr:`ScaleSource.bounds` (a timestamp far
    from the rest) and :attr:`ScaleSource.duplicates` (a request id seen before).
    """
    from obskit.load.row_checks import value_checks

    return [(pl.col("timestamp").is_null() & ~pl.col(_NO_TS), "timestamp: cannot parse"),
            *value_checks(lf.collect_schema().names())]


def scan_rejects(src: ScaleSource, *, model: str = "") -> pl.DataFrame:
    """The rows of the files the loader's checks reject: ``source`` (file), ``line`` (null), ``reason``, ``raw``.

    One streaming pass over the files. Staged files passed the row checks when staged (the
    loader's own rejects are kept beside them): only repeated ids across parts are left.
    """
    from obskit.load._duplicates import DUPLICATE_REASON
    from obskit.load._plausible import FAR_REQUEST_REASON
    from obskit.load._quarantine import QUARANTINE_SCHEMA
    from obskit.load.row_checks import reason_expr

    dups = src.duplicates
    if not src.files or (src.checked and dups is None):
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    lf = _scan(src, row=dups is not None, file=True, model=model)
    reason = pl.lit(None, pl.String)
    if not src.checked:
        lf = lf.with_columns(reason_expr(_checks(lf), _REASON))
        reason = pl.col(_REASON)
    if src.bounds is not None:  # (a far time outranks a repeated id, as in memory)
        reason = pl.when(reason.is_null() & ~pl.col("timestamp").is_between(*src.bounds)).then(
            pl.lit(FAR_REQUEST_REASON)).otherwise(reason)
    if dups is not None:
        reason = pl.when(reason.is_null() & pl.col(_ROW).is_in(dups.implode())).then(
            pl.lit(DUPLICATE_REASON)).otherwise(reason)
    got = (lf.with_columns(reason.alias(_REASON)).filter(pl.col(_REASON).is_not_null())
           .select(pl.col(_FILE).alias("source"), pl.lit(None, pl.Int64).alias("line"),
                   pl.col(_REASON).alias("reason"), pl.lit(None, pl.String).alias("raw"),
                   *([pl.col(_ROW)] if dups is not None else []))
           .collect(engine="streaming"))
    if src.origins and dups is not None:  # staged: the input file and line of each rejected row
        got = _input_lines(got, src)
    return got.select(QUARANTINE_SCHEMA.keys()).cast(dict(QUARANTINE_SCHEMA))  # type: ignore[arg-type]


def _input_lines(got: pl.DataFrame, src: ScaleSource) -> pl.DataFrame:
    """Rejected rows of staged parts (their row over the files in ``_ROW``) named by input file and line.

    Each part's rows have their line in the input file staged beside them
    (:func:`obskit.scale.staging.lines_path`); a part staged before that has none: null.
    """
    from obskit.scale.staging import lines_path

    rows = got[_ROW].to_numpy()
    lines = pl.repeat(None, got.height, dtype=pl.Int64, eager=True).alias("line")
    start = 0
    for part in src.files:
        size = int(pl.scan_parquet(part).select(pl.len()).collect().item())
        mine = (got["source"] == part).to_numpy()
        side = lines_path(part)
        if mine.any() and side.exists():
            at = pl.Series(rows[mine] - start)
            staged = pl.read_parquet(side)["line"]
            if staged.len() == size:
                lines = lines.scatter(mine.nonzero()[0], staged.gather(at))
        start += size
    origin = dict(zip(src.files, src.origins, strict=True))
    return got.with_columns(lines, got["source"].replace_strict(origin, default=got["source"]).alias("source"))


def load_period(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                model: str = "", version: str = "") -> pl.DataFrame:
    """The period's rows of a large source, read with the filters pushed into the scan (not the whole files).

    Columns of the ``requests`` schema get its dtypes; rows keep every other column.
    """
    return period_scan(src, start=start, end=end, model=model, version=version).collect(engine="streaming")


def period_scan(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                model: str = "", version: str = "") -> pl.LazyFrame:
    """:func:`canonical_scan` with the ``requests`` schema's dtypes (what the explorer at scale reads)."""
    from obskit.schemas import REQUESTS

    lf = canonical_scan(src, start=start, end=end, model=model, version=version)
    schema = lf.collect_schema()
    casts = [pl.col(c.name).cast(c.dtype, strict=False) for c in REQUESTS.columns
             if c.name in schema and c.name not in ("timestamp", "status", "status_code")]
    return lf.with_columns(casts)


def period_extent(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                  model: str = "", version: str = "") -> tuple[int, tuple[datetime, datetime] | None]:
    """Rows of the period and their first and last timestamp (None when there is none), in one streaming pass."""
    lf = canonical_scan(src, start=start, end=end, model=model, version=version)
    n, lo, hi = lf.select(pl.len(), pl.col("timestamp").min(), pl.col("timestamp").max().alias("hi")).collect(
        engine="streaming").row(0)
    span = (lo, hi) if isinstance(lo, datetime) and isinstance(hi, datetime) else None
    return int(n), span
