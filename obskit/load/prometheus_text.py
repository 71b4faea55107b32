"""Load Prometheus text exposition (0.0.4) and OpenMetrics 1.0 scrapes as canonical frames.

Two entry points:

:func:`parse_exposition`
    One document (``bytes`` or ``str``) -> :class:`Exposition` with ``.samples`` (the
    canonical ``metrics`` frame), ``.metadata`` (one row per family: type, unit, help) and
    ``.exemplars``.
:func:`load_prometheus_text` / :func:`scan_prometheus_text`
    A file, glob, directory or ``.tar``/``.tar.gz`` of periodic scrapes -> one time-series
    ``metrics`` frame.

The samples frame has the canonical columns ``timestamp`` (``Datetime("us", "UTC")``),
``metric`` and ``value`` (``Float64``; NaN and +-Inf kept), then ``family`` (the metric family
a sample belongs to, e.g. ``nv_inference_request_summary_us`` for ``..._us_count``, to join
with ``.metadata``), then one ``String`` column per label name, null where a series lacks
it. A label named ``timestamp``, ``metric``, ``value``, ``family`` or ``line`` becomes
``label_<name>``.

Format: ``format="auto"`` reads a document as OpenMetrics when it has a ``# EOF`` or
``# UNIT`` line, else as text 0.0.4. The difference that matters: sample timestamps are
integer milliseconds in 0.0.4 and (float) seconds in OpenMetrics; OpenMetrics also requires
``# EOF`` as the last line. Blank lines are ignored in both formats.

Known families (NVIDIA Triton ``nv_*``, DCGM exporter ``DCGM_FI_*``; see
:mod:`obskit.load.families`) get their type and unit from the registry when the scrape has
no ``# TYPE``; DCGM "blank" sentinels (no data, not supported...) become null values.

Malformed lines (bad label syntax, bad number, truncated line, invalid UTF-8, duplicate
label name, duplicate ``# TYPE``/``# HELP``/``# UNIT``, content after ``# EOF``) raise
:class:`~obskit.errors.ParseError` with file and line when ``strict=True``; otherwise they go
to the ``quarantine`` (file, line, reason, raw text) and parsing goes on. An empty document
raises :class:`~obskit.errors.SourceError`.

Examples
--------
>>> exp = parse_exposition(
...     b'# TYPE nv_gpu_utilization gauge\\n'
...     b'nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5 1700000000000\\n'
... )
>>> exp.samples
shape: (1, 5)
┌─────────────────────────┬────────────────────┬───────┬────────────────────┬──────────┐
│ timestamp               ┆ metric             ┆ value ┆ family             ┆ gpu_uuid │
│ ---                     ┆ ---                ┆ ---   ┆ ---                ┆ ---      │
│ datetime[μs, UTC]       ┆ str                ┆ f64   ┆ str                ┆ str      │
╞═════════════════════════╪════════════════════╪═══════╪════════════════════╪══════════╡
│ 2023-11-14 22:13:20 UTC ┆ nv_gpu_utilization ┆ 0.5   ┆ nv_gpu_utilization ┆ GPU-1    │
└─────────────────────────┴────────────────────┴───────┴────────────────────┴──────────┘
>>> exp.metadata.row(0)
('nv_gpu_utilization', 'gauge', 'ratio', 'GPU utilization, 0.0 to 1.0.', 'scrape')
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Literal

import polars as pl

from obskit.errors import InvalidArgument, ParseError, SourceError
from obskit.load._exposition import (
    LABEL_PREFIX,
    OPENMETRICS,
    TEXT,
    Rejected,
    decode,
    tokenize,
)
from obskit.load._plausible import PLAUSIBLE_US, YEARS_REASON, implausible_us
from obskit.load._quarantine import Quarantine, warn_unquarantined
from obskit.load._sources import Input, SourceLike, decompressed_bytes, resolve
from obskit.load.families import dcgm_blank, lookup
from obskit.progress import progress
from obskit.schemas import TIMESTAMP

__all__ = [
    "SUFFIXES",
    "Exposition",
    "load_prometheus_text",
    "parse_exposition",
    "scan_prometheus_text",
    "timestamp_from_name",
]

Format = Literal["auto", "text", "openmetrics"]

#: File name endings a directory source picks up (compressed variants and tar archives too).
SUFFIXES: tuple[str, ...] = (
    *(s + c for s in (".prom", ".txt", ".om", ".metrics", ".openmetrics") for c in ("", ".gz", ".zst")),
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.zst",
)

RESERVED = ("timestamp", "metric", "value", "family", "line")  # "line" is the internal line-number column

METADATA_SCHEMA = pl.Schema(
    {
        "family": pl.String(),
        "type": pl.String(),
        "unit": pl.String(),
        "help": pl.String(),
        "type_source": pl.String(),
    }
)

# sample-name suffix -> the family types it belongs to
_SUFFIX_TYPES: dict[str, frozenset[str]] = {
    "_total": frozenset({"counter"}),
    "_created": frozenset({"counter", "summary", "histogram"}),
    "_bucket": frozenset({"histogram", "gaugehistogram"}),
    "_sum": frozenset({"summary", "histogram"}),
    "_count": frozenset({"summary", "histogram"}),
    "_gsum": frozenset({"gaugehistogram"}),
    "_gcount": frozenset({"gaugehistogram"}),
    "_info": frozenset({"info"}),
}


@dataclass(frozen=True)
class Exposition:
    """One parsed exposition document.

    Attributes
    ----------
    samples
        The canonical ``metrics`` frame (plus ``family`` and one column per label).
    metadata
        One row per family: ``family``, ``type``, ``unit``, ``help``, ``type_source``
        (``"scrape"``: a ``# TYPE`` line; ``"registry"``: :mod:`obskit.load.families`;
        ``"default"``: ``untyped`` in text 0.0.4, ``unknown`` in OpenMetrics).
    exemplars
        One row per exemplar: the sample's ``timestamp``, ``metric``, ``value``, ``family``
        and labels, then ``exemplar_value``, ``exemplar_timestamp`` (null when absent) and
        one ``exemplar_<label>`` column per exemplar label (e.g. ``exemplar_trace_id``).
    format
        ``"text"`` or ``"openmetrics"``.
    rejected
        Number of lines rejected (lenient mode).
    """

    samples: pl.DataFrame
    metadata: pl.DataFrame
    exemplars: pl.DataFrame
    format: str
    rejected: int = 0


# --------------------------------------------------------------------------- helpers


def _utc_us(ts: datetime | str) -> int:
    if isinstance(ts, str):
        from obskit.timeutil import parse_time

        ts = parse_time(ts)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _now_us() -> int:
    return _utc_us(datetime.now(UTC))


def _family_of(name: str, types: dict[str, str], declared: set[str]) -> str:
    if name in declared:
        return name
    for suffix, allowed in _SUFFIX_TYPES.items():
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in declared and types.get(base, "untyped") in allowed:
                return base
    for suffix, allowed in _SUFFIX_TYPES.items():
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            spec = lookup(base)
            if spec is not None and spec.type in allowed and base not in declared:
                return base
    return name


def _label_names(columns: Iterable[str]) -> dict[str, str]:
    """``l:<label>`` -> output column name, with reserved names prefixed ``label_``."""
    labels = [c[len(LABEL_PREFIX) :] for c in columns if c.startswith(LABEL_PREFIX)]
    taken = set(RESERVED) | set(labels)
    out: dict[str, str] = {}
    for lab in labels:
        new = lab
        if lab in RESERVED:
            new = "label_" + lab
            while new in taken:
                new = "label_" + new
            taken.add(new)
        out[LABEL_PREFIX + lab] = new
    return out


def _settle(
    rejected: list[Rejected], name: str, strict: bool, quarantine: Quarantine | None
) -> int:
    """Raise for the first rejected line (strict) or put them all in ``quarantine``."""
    if not rejected:
        return 0
    if strict:
        first = rejected[0]
        raise ParseError(first.reason, path=name, line=first.line)
    if quarantine is not None:
        for r in rejected:
            quarantine.add(name, r.line, r.reason, r.raw)
    return len(rejected)




def _ts_reason(ts: float, fmt: str) -> str:
    """Why a sample's written timestamp is rejected, with the unit it may have been written in.

    >>> _ts_reason(1763805600, "text")
    'timestamp 1763805600 ms is outside the years 1990–2200 (it reads as seconds: this format writes milliseconds)'
    """
    unit, mine, other, other_us = (("s", "seconds", "milliseconds", 1e3) if fmt == OPENMETRICS
                                   else ("ms", "milliseconds", "seconds", 1e6))
    why = f"timestamp {ts:.17g} {unit} is {YEARS_REASON}"
    if implausible_us(ts * other_us) is None:
        why += f" (it reads as {other}: this format writes {mine})"
    return why


def _parse(data: bytes | str, name: str, default_us: int | None, fmt: str) -> tuple[Exposition, list[Rejected]]:
    rejected: list[Rejected] = []
    text = decode(data, rejected)
    if not text.strip() and not rejected:
        raise SourceError("empty exposition: no samples, no metadata", path=name)
    tok = tokenize(text, fmt=fmt, rejected=rejected)
    fmt = tok.format
    s = tok.samples

    # ---- families and metadata
    declared = set(tok.types) | set(tok.helps) | set(tok.units)
    names = s.get_column("metric").unique().to_list()
    fam_of = {n: _family_of(n, tok.types, declared) for n in names}
    default_type = "unknown" if fmt == OPENMETRICS else "untyped"
    meta_rows = []
    for fam in sorted(declared | set(fam_of.values())):
        spec = lookup(fam)
        if fam in tok.types:
            typ, source = tok.types[fam], "scrape"
        elif spec is not None:
            typ, source = spec.type, "registry"
        else:
            typ, source = default_type, "default"
        unit = tok.units.get(fam) or (spec.unit if spec is not None else None)
        help_ = tok.helps.get(fam)
        if help_ is None and spec is not None:
            help_ = spec.meaning
        meta_rows.append((fam, typ, unit, help_, source))
    metadata = pl.DataFrame(meta_rows, schema=METADATA_SCHEMA, orient="row")

    # ---- samples
    scale = 1e6 if fmt == OPENMETRICS else 1e3  # seconds vs milliseconds -> microseconds
    # a timestamp written on the line must be a plausible time (1990-2200, as every loader
    # asks): one that overflows int64 microseconds used to become null and then silently the
    # file's time via fill_null below, and seconds written where milliseconds belong read as 1970
    written_us = pl.col("ts") * scale
    bad_ts = s.filter(pl.col("ts").is_not_null()
                      & ~written_us.is_between(PLAUSIBLE_US[0], PLAUSIBLE_US[1], closed="left"))
    if bad_ts.height:
        tok.rejected.extend(Rejected(int(line), _ts_reason(ts, fmt), None)
                            for line, ts in bad_ts.select("line", "ts").iter_rows())
        tok.rejected.sort(key=lambda r: (r.line is None, r.line or 0))
        s = s.filter(~pl.col("line").is_in(bad_ts["line"].implode()))
    ts_us = written_us.round().cast(pl.Int64, strict=False)
    if default_us is not None:
        ts_us = ts_us.fill_null(default_us)
    value = pl.col("value")
    if any(n.startswith("DCGM_") for n in names):
        value = pl.when(pl.col("metric").str.starts_with("DCGM_") & dcgm_blank(value)).then(None).otherwise(value)
    renames = _label_names(s.columns)
    family = (
        pl.col("metric").replace_strict(fam_of, return_dtype=pl.String)
        if names
        else pl.col("metric")
    )
    samples = s.select(
        "line",
        ts_us.cast(TIMESTAMP).alias("timestamp"),
        "metric",
        value.alias("value"),
        family.alias("family"),
        *(pl.col(old).alias(new) for old, new in renames.items()),
    )

    # ---- exemplars
    if tok.exemplars:
        ex_names = list(dict.fromkeys(k for _, lab, _, _ in tok.exemplars for k in lab))
        ex = pl.DataFrame(
            {
                "line": [e[0] for e in tok.exemplars],
                "exemplar_value": [e[2] for e in tok.exemplars],
                "exemplar_timestamp": [
                    None if e[3] is None else round(e[3] * 1e6) for e in tok.exemplars
                ],
                **{f"exemplar_{k}": [e[1].get(k) for e in tok.exemplars] for k in ex_names},
            },
            schema_overrides={"line": pl.Int64, "exemplar_value": pl.Float64, "exemplar_timestamp": pl.Int64},
        ).with_columns(pl.col("exemplar_timestamp").cast(TIMESTAMP))
        exemplars = samples.join(ex, on="line", how="inner").drop("line")
    else:
        exemplars = samples.clear().drop("line").with_columns(
            pl.lit(None, pl.Float64).alias("exemplar_value"),
            pl.lit(None, TIMESTAMP).alias("exemplar_timestamp"),
        )
    samples, semantic = _check_semantics(samples, metadata)
    rejected = [*tok.rejected, *semantic]
    exp = Exposition(samples.drop("line"), metadata, exemplars, fmt, len(rejected))
    return exp, rejected


def _check_semantics(samples: pl.DataFrame, metadata: pl.DataFrame) -> tuple[pl.DataFrame, list[Rejected]]:
    """Series-level rules a line-by-line parse cannot see: duplicate series, malformed histograms.

    * The same metric with the same labels (and timestamp) twice in one document: the later
      lines are rejected (which value is right is unknowable).
    * A classic histogram whose buckets are not cumulative (a count decreasing as ``le``
      grows), that lacks the ``+Inf`` bucket, or whose ``_count`` differs from it: every
      sample of that series group is rejected — its quantiles would be wrong.
    """
    if samples.is_empty():
        return samples, []
    labels = [c for c in samples.columns if c not in ("line", "timestamp", "metric", "value", "family")]
    key = ["timestamp", "metric", *labels]
    # equal rows hash equal: only rows whose hash repeats can be duplicates, and only those are
    # compared exactly (in order, so the first occurrence of a series stays the one kept)
    maybe = samples.select(key).hash_rows().is_duplicated()
    later = (samples.filter(maybe).filter(~pl.struct(key).is_first_distinct()).get_column("line").to_list()
             if maybe.any() else [])
    bad_lines: dict[int, str] = dict.fromkeys(
        later, "duplicate series: the same metric and labels again in one scrape (first occurrence kept)")
    hist = metadata.filter(pl.col("type") == "histogram")["family"].to_list()
    if hist and "le" in samples.columns:
        group = ["timestamp", "family", *[c for c in labels if c != "le"]]
        buckets = (samples.filter(pl.col("family").is_in(hist) & pl.col("metric").str.ends_with("_bucket")
                                  & pl.col("le").is_not_null())
                   .with_columns(pl.col("le").cast(pl.Float64, strict=False).alias("_le")))
        if buckets.height:
            checks = (buckets.sort([*group, "_le"], nulls_last=True)
                      .group_by(group, maintain_order=True)
                      .agg(pl.col("line"), pl.col("le").filter(pl.col("_le").is_null()).first().alias("_bad_le"),
                           (pl.col("value").diff() < 0).any().alias("_down"),
                           (pl.col("_le") == float("inf")).any().alias("_inf"),
                           pl.col("value").filter(pl.col("_le") == float("inf")).first().alias("_inf_value")))
            counts = samples.filter(pl.col("metric").str.ends_with("_count") & pl.col("family").is_in(hist)).select(
                *group, pl.col("value").alias("_count"), pl.col("line").alias("_count_line"))
            sums = samples.filter(pl.col("metric").str.ends_with("_sum") & pl.col("family").is_in(hist)).select(
                *group, pl.col("line").alias("_sum_line"))
            checks = (checks.join(counts, on=group, how="left", nulls_equal=True)
                      .join(sums, on=group, how="left", nulls_equal=True)
                      .filter(pl.col("_bad_le").is_not_null() | pl.col("_down") | ~pl.col("_inf")
                              | (pl.col("_count").is_not_null() & (pl.col("_count") != pl.col("_inf_value")))))
            for row in checks.iter_rows(named=True):  # the malformed groups only
                why = (f"le {row['_bad_le']!r} is not a number" if row["_bad_le"] is not None
                       else "bucket counts decrease as le grows (not cumulative)" if row["_down"]
                       else "no le=\"+Inf\" bucket" if not row["_inf"]
                       else f"_count {row['_count']:g} differs from the +Inf bucket {row['_inf_value']:g}"
                       if row["_count"] is not None and row["_count"] != row["_inf_value"] else "")
                if why:
                    # the whole histogram goes: its _count and _sum too (no orphan left of it)
                    for line in [*row["line"], *(row[k] for k in ("_count_line", "_sum_line") if row[k] is not None)]:
                        bad_lines.setdefault(line, f"malformed histogram {row['family']}: {why}")
    if not bad_lines:
        return samples, []
    rejected = [Rejected(line, reason, None) for line, reason in sorted(bad_lines.items())]
    return samples.filter(~pl.col("line").is_in(list(bad_lines))), rejected


# --------------------------------------------------------------------------- public API


def parse_exposition(
    data: bytes | str,
    *,
    name: str = "<buffer>",
    default_timestamp: datetime | None = None,
    format: Format = "auto",
    strict: bool = False,
    quarantine: Quarantine | None = None,
) -> Exposition:
    """Parse one Prometheus text 0.0.4 or OpenMetrics 1.0 document.

    Parameters
    ----------
    data
        The document (``bytes`` are decoded as UTF-8; invalid lines are rejected).
    name
        Shown in errors and quarantine records.
    default_timestamp
        Time of samples that carry none (naive datetimes are UTC). ``None``: now, as a
        scraper would stamp them.
    format
        ``"auto"`` (OpenMetrics when a ``# EOF`` or ``# UNIT`` line is present), ``"text"``
        or ``"openmetrics"``.
    strict
        Raise :class:`~obskit.errors.ParseError` on the first malformed line.
    quarantine
        Lenient mode: collects rejected lines (a warning counts them when ``None``).

    Raises
    ------
    SourceError
        The document is empty.
    ParseError
        ``strict=True`` and a line is malformed.

    Examples
    --------
    >>> exp = parse_exposition('up{job="a"} 1 1700000000000\\n', default_timestamp=datetime(2026, 1, 1))
    >>> exp.samples.select("metric", "value", "job").row(0), exp.format
    (('up', 1.0, 'a'), 'text')
    """
    if format not in ("auto", TEXT, OPENMETRICS):
        raise InvalidArgument(f"format must be 'auto', 'text' or 'openmetrics', not {format!r}")
    default_us = _now_us() if default_timestamp is None else _utc_us(default_timestamp)
    exp, rejected = _parse(data, name, default_us, format)
    count = _settle(rejected, name, strict, quarantine)
    if quarantine is None:
        warn_unquarantined(count, name)
    return exp


_ISO_RE = re.compile(
    r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})[T_ ](\d{2})[:\-]?(\d{2})[:\-]?(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
_EPOCH_RE = re.compile(r"(?<!\d)(\d{13}|\d{10})(?:\.(\d+))?(?!\d)")


def timestamp_from_name(name: str) -> datetime | None:
    """The scrape time written in a file name, or ``None``.

    Recognises ISO 8601 date-times (``2026-11-22T10:00:00Z``, ``20261122T100000Z``,
    ``2026-11-22T10-00-00``, naive ones are UTC) and Unix epochs of 10 digits (seconds) or
    13 digits (milliseconds).

    >>> timestamp_from_name("scrape-2026-11-22T10:00:00Z.prom")
    datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)
    >>> timestamp_from_name("triton_1763805600.prom")
    datetime.datetime(2025, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)
    >>> timestamp_from_name("metrics.prom") is None
    True
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    m = _ISO_RE.search(base)
    if m:
        y, mo, d, h, mi, s, frac, tz = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                          int((frac or "0").ljust(6, "0")[:6]), tzinfo=UTC)
        except ValueError:
            dt = None
        if dt is not None:
            if tz and tz != "Z":
                sign = 1 if tz[0] == "+" else -1
                hh, mm = int(tz[1:3]), int(tz[-2:])
                dt -= sign * timedelta(hours=hh, minutes=mm)
            return dt
    m = _EPOCH_RE.search(base)
    if m:
        whole, frac = m.groups()
        seconds = int(whole) / (1000 if len(whole) == 13 else 1)
        if frac and len(whole) == 10:
            seconds += float("0." + frac)
        return datetime.fromtimestamp(seconds, UTC)
    return None


@dataclass(frozen=True)
class _Doc:
    name: str
    data: bytes
    mtime: float | None


def _is_tar(data: bytes) -> bool:
    return len(data) >= 262 and data[257:262] == b"ustar"


def _documents(inp: Input) -> Iterator[_Doc]:
    data = decompressed_bytes(inp)
    mtime = inp.path.stat().st_mtime if inp.path is not None else None
    if not _is_tar(data):
        yield _Doc(inp.name, data, mtime)
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = sorted(
                (m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name
            )
            for m in members:
                base = PurePosixPath(m.name).name
                if base.startswith((".", "_")):
                    continue
                f = tar.extractfile(m)
                if f is None:
                    continue
                raw = f.read()
                member = Input(f"{inp.name}:{m.name}", None, raw)
                yield _Doc(member.name, decompressed_bytes(member), float(m.mtime))
    except tarfile.TarError as exc:
        raise SourceError(f"corrupt tar archive: {exc}", path=inp.name) from None


def load_prometheus_text(
    source: SourceLike,
    *,
    timestamp: datetime | str | None = None,
    format: Format = "auto",
    strict: bool = False,
    quarantine: Quarantine | None = None,
    families: Iterable[str] | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame:
    """Load one or many scrapes (text 0.0.4 or OpenMetrics) as one ``metrics`` frame.

    Parameters
    ----------
    source
        A file, glob, directory (files ending in :data:`SUFFIXES`), ``.tar``/``.tar.gz``
        archive of scrapes, list of paths, or a binary file-like object. gzip/zstd files are
        detected by their magic bytes.
    timestamp
        Scrape time for samples without their own timestamp, overriding file names and
        modification times.
    format
        ``"auto"``, ``"text"`` or ``"openmetrics"`` (see :func:`parse_exposition`).
    strict, quarantine
        Raise on the first malformed line, or collect rejected lines (see module docs).
    families
        Keep only these families (names or ``fnmatch`` patterns such as ``"nv_gpu_*"``).
    show_progress
        Force the progress bar on or off (default: on in an interactive terminal).

    Returns
    -------
    polars.DataFrame
        ``timestamp, metric, value, family`` and one ``String`` column per label, sorted by
        ``timestamp`` (stable: file order within one scrape).

    Notes
    -----
    The time of a sample is, in order of precedence:

    1. the timestamp written on the sample line;
    2. the ``timestamp`` argument;
    3. a date-time or Unix epoch in the file (or archive member) name, see
       :func:`timestamp_from_name`;
    4. the file's modification time (a tar member's recorded mtime);
    5. the time of loading (in-memory buffers without any of the above).

    An empty file raises :class:`~obskit.errors.SourceError` when it is the only document or
    ``strict=True``; among several documents in lenient mode it is quarantined as one
    record (line ``None``, reason ``"empty file"``) and the others load.

    Examples
    --------
    >>> import io
    >>> df = load_prometheus_text(io.BytesIO(b"nv_gpu_utilization 0.25\\n"),
    ...                           timestamp=datetime(2026, 11, 22, 10))
    >>> df.select("metric", "value", "family").row(0)
    ('nv_gpu_utilization', 0.25, 'nv_gpu_utilization')
    >>> df.get_column("timestamp").item().isoformat()
    '2026-11-22T10:00:00+00:00'
    """
    if format not in ("auto", TEXT, OPENMETRICS):
        raise InvalidArgument(f"format must be 'auto', 'text' or 'openmetrics', not {format!r}")
    inputs = resolve(source, suffixes=SUFFIXES)
    docs = [d for inp in inputs for d in _documents(inp)]
    if not docs:
        raise SourceError("no scrapes found", path=os.fspath(source) if isinstance(source, str) else None)
    explicit_us = None if timestamp is None else _utc_us(timestamp)
    load_us = _now_us()
    frames: list[pl.DataFrame] = []
    total_rejected = 0
    patterns = None if families is None else list(families)
    for doc in progress(docs, total=len(docs), desc="prometheus", show=show_progress, unit="file"):
        if not doc.data.strip():
            if strict or len(docs) == 1:
                raise SourceError("empty file: no samples, no metadata", path=doc.name)
            if quarantine is not None:
                quarantine.add(doc.name, None, "empty file", "")
            total_rejected += 1
            continue
        if explicit_us is not None:
            default_us = explicit_us
        else:
            from_name = timestamp_from_name(doc.name)
            if from_name is not None:
                default_us = _utc_us(from_name)
            elif doc.mtime is not None:
                default_us = round(doc.mtime * 1e6)
            else:
                default_us = load_us
        exp, rejected = _parse(doc.data, doc.name, default_us, format)
        total_rejected += _settle(rejected, doc.name, strict, quarantine)
        frame = exp.samples
        if patterns is not None:
            fams = frame.get_column("family").unique().to_list()
            keep = [f for f in fams if any(fnmatch.fnmatchcase(f, p) for p in patterns)]
            frame = frame.filter(pl.col("family").is_in(pl.Series(keep, dtype=pl.String).implode()))
        if quarantine is not None:
            quarantine.stats.files.append(doc.name)
            quarantine.stats.bytes += len(doc.data)
            quarantine.stats.rows += frame.height
            quarantine.stats.rejected += len(rejected)
        frames.append(frame)
    if quarantine is None:
        warn_unquarantined(total_rejected, "load_prometheus_text")
    if not frames:
        raise SourceError("every scrape is empty", path=docs[0].name)
    out = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    if len(frames) > 1:
        out = out.sort("timestamp", maintain_order=True)
    return out


def scan_prometheus_text(
    source: SourceLike,
    *,
    timestamp: datetime | str | None = None,
    format: Format = "auto",
    strict: bool = False,
    quarantine: Quarantine | None = None,
    families: Iterable[str] | None = None,
) -> pl.LazyFrame:
    """Lazy twin of :func:`load_prometheus_text` (the scrapes are parsed eagerly).

    >>> import io
    >>> lf = scan_prometheus_text(io.BytesIO(b"up 1\\n"), timestamp=datetime(2026, 1, 1))
    >>> lf.select("metric").collect().item()
    'up'
    """
    return load_prometheus_text(
        source,
        timestamp=timestamp,
        format=format,
        strict=strict,
        quarantine=quarantine,
        families=families,
    ).lazy()
