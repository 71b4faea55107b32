"""``obskit check``: load every configured source and say, per source, what came in and what did not.

For each ``[sources.<name>]``: its kind, rows loaded, the time span, rejected rows with the
top reasons and their first line numbers, the mapped fields against the fields found, and a
short preview. A source that fails to load says why in one line; one that loads but looks
wrong (a latency median in another unit than ``latency_unit``) is ``warn`` with a warning
line (the source loaded: the exit code stays 0, a report run is degraded). Nothing is written.

Examples
--------
>>> checks = check_sources("data/samples/obskit.toml")  # doctest: +SKIP
>>> [c.name for c in checks]  # doctest: +SKIP
['requests', 'feedback', 'reference', 'prometheus', 'gpu']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from obskit.config import Config, load_config
from obskit.errors import ObskitError
from obskit.redact import scrub

__all__ = ["SourceCheck", "check_sources", "format_checks"]


@dataclass
class SourceCheck:
    """What one source gave when loaded."""

    name: str
    kind: str
    frame: str
    location: str
    error: str = ""
    rows: int = 0
    start: datetime | None = None
    end: datetime | None = None
    rejected: int = 0
    reasons: list[tuple[str, int, list[str]]] = field(default_factory=list)
    mapped: dict[str, str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    preview: pl.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Loaded, with at least one row (a source that gave nothing is not ok)."""
        return not self.error and self.rows > 0

    def line(self) -> str:
        """The one-line verdict for this source."""
        head = f"{self.name} ({self.kind} -> {self.frame})"
        if self.error:
            return f"FAIL {head}: {self.error}"
        span = f", {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC" if self.start and self.end else ""
        rejected = f", {self.rejected:,} rejected" if self.rejected else ""
        if not self.rows:
            return f"FAIL {head}: no row loaded{rejected} from {self.location}"
        verdict = "warn" if self.warnings else "ok  "
        return f"{verdict} {head}: {self.rows:,} rows{span}{rejected}"


def _check_one(cfg: Config, name: str) -> SourceCheck:
    from obskit.load._quarantine import Quarantine
    from obskit.load.registry import KINDS, LoadContext

    src = cfg.source(name)
    assert src is not None
    out = SourceCheck(src.name, src.kind, src.frame, src.location, mapped=src.columns)
    q = Quarantine()
    try:
        df = KINDS[src.kind].load(src, LoadContext(q, cfg.project.timezone, cfg.project.model))
    except (ObskitError, OSError) as exc:
        out.error = scrub(str(exc) if isinstance(exc, ObskitError) else f"{exc.strerror or exc}")
        out.rejected = q.count
        return out
    if src.kind == "prometheus" and not df.width and src.get("url"):
        return _check_live(cfg, src, out)
    out.rows = df.height
    out.columns = [c for c in df.columns if not c.startswith("__")]
    if "timestamp" in df.columns and df.height:
        lo, hi = df["timestamp"].min(), df["timestamp"].max()
        out.start = lo if isinstance(lo, datetime) else None
        out.end = hi if isinstance(hi, datetime) else None
    out.rejected = q.count
    out.warnings = [scrub(why) for _, why in q.stats.warnings]
    if q.count:
        rej = q.frame()
        # from several files, each line says its file ("b.jsonl:12"), in file then line order
        where = (pl.format("{}:{}", pl.col("source").str.extract(r"([^/\\]+)$"), pl.col("line"))
                 if rej.get_column("source").n_unique() > 1 else pl.col("line").cast(pl.String))
        top = (rej.filter(pl.col("line").is_not_null()).sort("source", "line")
               .group_by("reason", maintain_order=True).agg(where.head(3).alias("lines"))
               .join(rej.group_by("reason").agg(pl.len().alias("n")), on="reason", how="right")
               .select("reason", "n", pl.col("lines").fill_null(pl.lit([], pl.List(pl.String))))
               .sort(["n", "reason"], descending=[True, False]).head(3))
        out.reasons = [(r, n, list(lines)) for r, n, lines in top.iter_rows()]
    out.preview = df.select(out.columns[:8]).head(3)
    return out


def _check_live(cfg: Config, src: Any, out: SourceCheck) -> SourceCheck:
    from obskit.panels import client_for

    try:
        series = client_for(src).query("up")
    except (ObskitError, ValueError) as exc:
        out.error = scrub(str(exc))
        return out
    out.rows = series.height
    out.columns = list(series.columns)
    out.preview = series.head(3)
    return out


def check_sources(config: str | Path) -> list[SourceCheck]:
    """Load each configured source on its own (a failure never stops the others)."""
    cfg = load_config(config)
    return [_check_one(cfg, s.name) for s in cfg.sources]


def format_checks(checks: list[SourceCheck], *, preview: bool = True) -> str:
    """The report ``obskit check`` prints: one verdict line per source, then its details."""
    lines: list[str] = []
    for c in checks:
        lines.append(c.line())
        lines += [f"       warning: {why}" for why in c.warnings]
        for reason, n, first in c.reasons:
            where = f" (lines {', '.join(str(i) for i in first)}{'...' if n > len(first) else ''})" if first else ""
            lines.append(f"       rejected {n:,}: {reason}{where}")
        if c.mapped and c.error and not c.columns:
            lines.append(f"       mapping of {len(c.mapped)} field(s) not checked: the source did not load")
        elif c.mapped:
            found = [k for k in c.mapped if k in c.columns]
            lost = [f"{k} <- {v!r}" for k, v in c.mapped.items() if k not in c.columns]
            lines.append(f"       mapped {len(found)}/{len(c.mapped)}" + (f"; not found: {', '.join(lost)}" if lost
                                                                           else ""))
        if c.columns and not c.error:
            lines.append(f"       columns: {', '.join(c.columns[:16])}{' ...' if len(c.columns) > 16 else ''}")
        if preview and c.preview is not None and c.preview.height:
            for row in c.preview.head(2).iter_rows(named=True):
                cells = [f"{k}={_short(v)}" for k, v in list(row.items())[:7]]
                lines.append(f"       e.g. {'  '.join(cells)}")
    if not checks:
        lines.append("no source configured ([sources.<name>] tables)")
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else str(value)
    return text if len(text) <= 24 else text[:23] + "…"
