"""The trends report: a month (or any period) from the rollups saved beside each night's report.

Each health report run by ``obskit report`` saves its period's :class:`~obskit.scale.rollup.Rollup`
into ``<reports>/<day>/rollup``. The trends report reads the rollups of the period (default
the last 30 days), keeps the newest where two cover the same window, merges them exactly and
shows one row per day: no request log is read again, so a month costs a few seconds.

Counts (requests, errors, requests within the latency SLO, and the business counts behind
the confident and correction rates, defined as on the health page) are exact; percentiles
come from the merged latency sketches and are within the sketches' relative bound (0.5 % by
default) of the exact value — each page says which.

A day is judged against the median of the days before it (up to :data:`BASELINE_DAYS`):
:func:`regressions` flags a slower tail, more errors, a traffic drop or surge, fewer
requests within the SLO and fewer confident predictions.

Examples
--------
>>> tr = open_trends("data/samples/obskit.toml", reports_dir="reports")  # doctest: +SKIP
>>> daily(tr).status  # doctest: +SKIP
'ok'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from obskit import charts
from obskit.report.section import Section

if TYPE_CHECKING:
    from obskit.config import Config
    from obskit.scale.rollup import Found, Rollup

__all__ = [
    "BASELINE_DAYS",
    "MIN_BASELINE_DAYS",
    "TrendsContext",
    "business",
    "changes",
    "coverage",
    "daily",
    "errors",
    "latency",
    "open_trends",
    "regressions",
    "traffic",
]

#: Days before a day that form its baseline (their median).
BASELINE_DAYS = 7
#: A day is judged only with at least this many earlier days.
MIN_BASELINE_DAYS = 3
DEFAULT_SPAN = timedelta(days=30)


@dataclass
class TrendsContext:
    """A trends run: the config, the period, the rollups found and the sections shown so far."""

    config: Config
    start: datetime
    end: datetime
    reports_dir: Path
    found: Found
    rollup: Rollup | None
    output_dir: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    _daily: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def period_label(self) -> str:
        """The period as text."""
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"

    @property
    def alpha(self) -> float:
        """The latency sketches' relative bound."""
        return self.rollup.state.latency.alpha if self.rollup is not None else 0.0

    def days(self, *, by_version: bool = False) -> pl.DataFrame | None:
        """One row per day (and model version): counts, rates and sketch percentiles, or None."""
        if self.rollup is None:
            return None
        if by_version:
            return self.rollup.coarsen("1d").table()
        if self._daily is None:
            daily = self.rollup.coarsen("1d", by=())
            table = self.rollup.slo_of(daily.table(), every="1d")
            # the health report's definitions (confident among answered requests; corrections of
            # confident ones), from the business counts; a day saved before they were counted has none
            rates = (daily.business().select("window_start", "confident_rate", "correction_rate")
                     if "answered" in daily.state.present else
                     pl.DataFrame(schema={"window_start": table.schema["window_start"],
                                          "confident_rate": pl.Float64, "correction_rate": pl.Float64}))
            self._daily = table.join(rates, on="window_start", how="left").rename({"window_start": "day"})
        return self._daily

    def record(self, section: Section) -> Section:
        """Remember a section for ``summary.json``; returns it for display."""
        self.sections = [s for s in self.sections if s.title != section.title] + [section]
        return section

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        from obskit import views

        found = self.found
        text = (f"{self.period_label}: {len(found.days)} day(s) with a rollup, {len(found.missing)} without, "
                f"from {self.reports_dir}.")
        display(HTML(views.note(text, kind="info" if found.days else "warning")))
        for folder, reason in found.unreadable:
            display(HTML(views.note(f"Unreadable rollup {folder}: {reason}", kind="error")))

    def status(self) -> tuple[str, list[str], list[str]]:
        """``(status, flags, reasons)``: never "ok" without a day to check."""
        flags: list[str] = []
        reasons: list[str] = []
        if self.found.unreadable:
            flags.append("degraded")
            reasons += [f"unreadable rollup {f}: {r}" for f, r in self.found.unreadable]
        days = self.days()
        if days is None or not days.height:
            flags.append("no_data")
            reasons.append(f"no rollup for {self.period_label} under {self.reports_dir}")
        else:
            from obskit.report.status import slo_breaches

            slo = self.config.slo
            assert self.rollup is not None
            total = self.rollup.coarsen("1d", by=()).state
            sketch = total.latency.sketch()
            observed = sketch.quantile(slo.latency_quantile) if sketch.count else None
            requests = int(days["requests"].sum())
            success = 1 - int(days["errors"].sum()) / requests if requests else None
            breaches = slo_breaches(latency_q=slo.latency_quantile, latency_ms=slo.latency_ms, observed_ms=observed,
                                    availability=slo.availability, success=success)
            if breaches:
                flags.append("slo_breached")
                reasons += breaches
            flagged = regressions(days, slo_share_target=slo.availability)
            latest = flagged.filter(pl.col("day") == days["day"].max())
            if latest.height:
                flags.append("regression")
                reasons += [f"{r['day']:%Y-%m-%d}: {r['signal']} {r['detail']}" for r in latest.iter_rows(named=True)]
        if self.found.missing and self.found.days:
            flags.append("incomplete")
            reasons.append(f"{len(self.found.missing)} of {len(self.found.missing) + len(self.found.days)} day(s) "
                           "have no rollup")
        return (flags[0] if flags else "ok"), flags, reasons

    def finish(self) -> None:
        """Write ``summary.json`` into the output folder (when there is one)."""
        from obskit._atomic import atomic_write_text
        from obskit.session import strict_json

        if not self.output_dir:
            return
        status, flags, reasons = self.status()
        days = self.days()
        figures = dict(self.figures)
        figures["sections"] = [s.summary() for s in self.sections]
        figures["days"] = len(self.found.days)
        figures["missing_days"] = len(self.found.missing)
        if days is not None and days.height:
            n = int(days["requests"].sum())
            figures.update(requests=n, error_rate=int(days["errors"].sum()) / n)
        body = {
            "project": self.config.project.name,
            "model": self.config.project.model,
            "day": f"{(self.end - timedelta(microseconds=1)):%Y-%m-%d}",
            "period": self.period_label,
            "status": status,
            "flags": flags,
            "reasons": reasons,
            "problems": [{"source": "rollups", "reason": f"{f}: {r}"} for f, r in self.found.unreadable],
            "rejected_records": 0,
            "figures": figures,
        }
        out = Path(self.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "summary.json", strict_json(body))


def open_trends(config: str = "", *, start: str = "", end: str = "", reports_dir: str = "",
                output_dir: str = "") -> TrendsContext:
    """Open a trends run: the config, the period (default the last 30 days) and its rollups.

    Parameters
    ----------
    config
        The ``obskit.toml`` (its SLOs and project name); empty: the default config.
    start, end
        The period (ISO 8601); empty ``end`` is now, empty ``start`` is 30 days before ``end``.
    reports_dir
        The reports root whose ``<day>/rollup`` folders are read; empty: ``./reports``.
    output_dir
        Where ``summary.json`` goes (papermill sets it); empty: nowhere.
    """
    from obskit.config import load_config
    from obskit.report.notebooks import default_config
    from obskit.scale.rollup import combine, find_rollups
    from obskit.timeutil import parse_time

    cfg = load_config(config or default_config())
    hi = parse_time(end) if end else datetime.now(UTC).replace(microsecond=0)
    lo = parse_time(start) if start else hi - DEFAULT_SPAN
    root = Path(reports_dir or "reports")
    found = find_rollups(root, lo, hi)
    rollup = combine(found.rollups) if found.rollups else None
    return TrendsContext(cfg, lo, hi, root, found, rollup, output_dir)


def _no_days(tr: TrendsContext) -> str:
    return (f"no rollup under {tr.reports_dir} for {tr.period_label}; each `obskit report` of the health "
            "report saves one per day")


def _bound_note(tr: TrendsContext) -> str:
    return (f"Counts are exact. Percentiles come from merged latency sketches: each is within "
            f"{tr.alpha:.1%} (relative) of the exact percentile of that day's requests.")


def coverage(tr: TrendsContext) -> Section:
    """Which days of the period have a rollup, which do not, and which could not be read."""
    s = Section("Coverage")
    found = tr.found
    for folder, reason in found.unreadable:
        s.note(f"Unreadable rollup {folder}: {reason}", kind="error")
    if not found.days:
        return tr.record(s.skip(_no_days(tr)))
    days = tr.days()
    assert days is not None
    s.note(f"{len(found.days)} of {len(found.days) + len(found.missing)} day(s) of the period have a rollup.")
    if found.missing:
        shown = ", ".join(f"{d:%Y-%m-%d}" for d in found.missing[:14])
        more = f" and {len(found.missing) - 14} more" if len(found.missing) > 14 else ""
        s.note(f"No rollup for {shown}{more}: those days are absent from every chart, not zero.", kind="warning")
        s.warn(f"{len(found.missing)} day(s) without a rollup")
    if found.unreadable:
        s.warn(f"{len(found.unreadable)} unreadable rollup(s)")
    s.table(days.select(pl.col("day").dt.date(), "requests"), caption="Requests per day with a rollup", name="days",
            formats={"requests": "{:,}"})
    return tr.record(s)


def daily(tr: TrendsContext) -> Section:
    """The day-by-day table of every signal."""
    s = Section("Daily figures")
    days = tr.days()
    if days is None:
        return tr.record(s.skip(_no_days(tr)))
    s.note(_bound_note(tr))
    cols = ["day", "requests", "error_rate", "p50_ms", "p95_ms", "p99_ms", "slo_share", "confident_rate",
            "correction_rate"]
    if _mixed_slo(days):  # each day's share is within its own SLO: show which
        cols.insert(cols.index("slo_share"), "slo_ms")
    fmts = {"error_rate": "{:.3%}", "slo_share": "{:.3%}", "confident_rate": "{:.1%}", "correction_rate": "{:.2%}",
            "requests": "{:,}", "p50_ms": "{:.1f}", "p95_ms": "{:.1f}", "p99_ms": "{:.1f}"}
    shown = days.select(cols).with_columns(pl.col("day").dt.date())
    return tr.record(s.table(shown, caption="One row per day", formats=fmts, name="daily"))


def traffic(tr: TrendsContext) -> Section:
    """Requests per day, per model version."""
    s = Section("Traffic")
    per = tr.days(by_version=True)
    if per is None:
        return tr.record(s.skip(_no_days(tr)))
    by = tr.rollup.state.by if tr.rollup is not None else ()
    color = by[0] if by else None
    s.chart(charts.lines_chart(per, ["requests"], title="Requests per day", y_title="requests", color_by=color))
    return tr.record(s.keep(per_version=per))


def latency(tr: TrendsContext) -> Section:
    """Daily latency percentiles against the SLO, and the share of requests within it."""
    s = Section("Latency")
    days = tr.days()
    if days is None:
        return tr.record(s.skip(_no_days(tr)))
    slo = tr.config.slo
    s.note(_bound_note(tr))
    s.chart(charts.latency_chart(days.rename({"day": "window_start"}), slo_ms=slo.latency_ms,
                                 title="Daily latency percentiles (sketch, bound above)"))
    mixed = _mixed_slo(days)
    if mixed:
        s.note(f"The within-SLO share was counted at the SLO each report ran with: {_slo_history(tr)}. Each "
               "day is compared with its own SLO; the config's is today's.", kind="warning")
    if days["slo_share"].null_count() < days.height:
        within = "each day's SLO" if mixed else f"{slo.latency_ms:g} ms"
        s.chart(charts.lines_chart(days.rename({"day": "window_start"}), ["slo_share"], y_format="%",
                                   title=f"Share of requests within {within} (exact)",
                                   thresholds={"target": slo.availability}))
    q = f"p{slo.latency_quantile * 100:g}_ms"
    if q in days.columns:
        own = pl.col("slo_ms").fill_null(slo.latency_ms) if "slo_ms" in days.columns else pl.lit(slo.latency_ms)
        over = days.filter(pl.col(q) > own)
        if over.height:
            target = "its day's" if mixed else f"the {slo.latency_ms:g} ms"
            s.warn(f"{over.height} day(s) with {q} above {target} SLO")
    return tr.record(s.keep(daily=days))


def _mixed_slo(days: pl.DataFrame) -> bool:
    """Whether the days' within-SLO counts were made at more than one SLO."""
    return "slo_ms" in days.columns and (days["slo_ms"].n_unique() > 1 or days["slo_ms"].null_count() > 0)


def _slo_history(tr: TrendsContext) -> str:
    """``120 ms until 2026-11-20, 100 ms from 2026-11-21``: the SLOs the rollups were built with."""
    assert tr.rollup is not None
    parts = []
    for lo, hi, slo in tr.rollup.slo_spans:
        what = "no SLO" if slo is None else f"{slo:g} ms"
        parts.append(f"{what} from {lo:%Y-%m-%d} to {hi:%Y-%m-%d}")
    return "; ".join(parts)


def errors(tr: TrendsContext) -> Section:
    """Daily error rate, and the error messages of the period with the days they appeared."""
    s = Section("Errors")
    days = tr.days()
    if days is None or tr.rollup is None:
        return tr.record(s.skip(_no_days(tr)))
    s.chart(charts.error_rate_chart(days.rename({"day": "window_start"}),
                                    threshold=1 - tr.config.slo.availability))
    msgs = tr.rollup.messages
    if msgs.height:
        top = (
            msgs.group_by("error")
            .agg(pl.col("count").sum(), pl.col("window_start").dt.date().n_unique().alias("days"),
                 pl.col("window_start").min().dt.date().alias("first_day"),
                 pl.col("window_start").max().dt.date().alias("last_day"))
            .sort(["count", "error"], descending=[True, False])
        )
        s.table(top, caption="Error messages of the period", formats={"count": "{:,}"}, name="messages")
    elif int(days["errors"].sum()):
        s.note("The logs carry no error message column: only the counts are known.")
    return tr.record(s.keep(daily=days))


def business(tr: TrendsContext) -> Section:
    """Confident-prediction and correction rates per day."""
    s = Section("Business signals")
    days = tr.days()
    if days is None:
        return tr.record(s.skip(_no_days(tr)))
    if days["confident_rate"].null_count() == days.height:
        return tr.record(s.skip("the request logs have no confidence column (or the days' rollups predate "
                                "business counts)"))
    cols = ["confident_rate"] + (["correction_rate"] if days["correction_rate"].null_count() < days.height else [])
    s.chart(charts.lines_chart(days.rename({"day": "window_start"}), cols, y_format="%",
                               title="Confident predictions and corrections per day"))
    return tr.record(s.keep(daily=days))


@dataclass(frozen=True)
class _Rule:
    signal: str
    column: str
    worse: str  # "up" or "down"
    relative: float  # relative change beyond which a day is flagged
    absolute: float  # and at least this absolute change


RULES = (
    _Rule("latency p95", "p95_ms", "up", 0.20, 0.0),
    _Rule("latency p99", "p99_ms", "up", 0.25, 0.0),
    _Rule("error rate", "error_rate", "up", 0.50, 0.002),
    _Rule("traffic drop", "requests", "down", 0.50, 0.0),
    _Rule("traffic surge", "requests", "up", 1.00, 0.0),
    _Rule("confident rate", "confident_rate", "down", 0.0, 0.05),
    _Rule("within-SLO share", "slo_share", "down", 0.0, 0.005),
)


def regressions(days: pl.DataFrame, *, slo_share_target: float | None = None,
                baseline_days: int = BASELINE_DAYS, min_baseline: int = MIN_BASELINE_DAYS) -> pl.DataFrame:
    """Days whose signal is worse than the median of the (up to) ``baseline_days`` days before.

    A day is judged with at least ``min_baseline`` earlier days. A rule flags when the change
    exceeds both its relative and its absolute tolerance (see :data:`RULES`); the within-SLO
    share is flagged only when it also falls below ``slo_share_target``.

    Returns
    -------
    polars.DataFrame
        ``day``, ``signal``, ``value``, ``baseline``, ``detail``, one row per flag.

    Examples
    --------
    >>> from datetime import date
    >>> d = pl.DataFrame({"day": [date(2026, 1, i) for i in range(1, 6)],
    ...                   "p95_ms": [100.0, 102.0, 98.0, 101.0, 140.0]})
    >>> regressions(d).select("signal", "value", "baseline").rows()
    [('latency p95', 140.0, 100.5)]
    """
    rows: list[dict[str, Any]] = []
    days = days.sort("day")
    for rule in RULES:
        if rule.column not in days.columns:
            continue
        values = days[rule.column].to_list()
        for i, v in enumerate(values):
            before = [x for x in values[max(0, i - baseline_days):i] if x is not None]
            if v is None or len(before) < min_baseline:
                continue
            base = float(pl.Series(before).median())  # type: ignore[arg-type]
            delta = (v - base) if rule.worse == "up" else (base - v)
            if delta <= rule.absolute or delta <= rule.relative * abs(base):
                continue
            if rule.column == "slo_share" and slo_share_target is not None and v >= slo_share_target:
                continue
            change = f"{v / base - 1:+.0%}" if base else "new"
            rows.append({"day": days["day"][i], "signal": rule.signal, "value": float(v), "baseline": base,
                         "detail": f"{v:.4g} vs {base:.4g} ({change} against the median of the days before)"})
    schema = {"day": days.schema["day"], "signal": pl.String(), "value": pl.Float64(), "baseline": pl.Float64(),
              "detail": pl.String()}
    return pl.DataFrame(rows, schema=schema).sort(["day", "signal"])


def changes(tr: TrendsContext) -> Section:
    """Days worse than the days before them (see :func:`regressions`)."""
    s = Section("Changes")
    days = tr.days()
    if days is None:
        return tr.record(s.skip(_no_days(tr)))
    if days.height <= MIN_BASELINE_DAYS:
        return tr.record(s.skip(f"{days.height} day(s): a day is judged against at least {MIN_BASELINE_DAYS} "
                                "earlier days"))
    flagged = regressions(days, slo_share_target=tr.config.slo.availability)
    s.note(f"Each day against the median of up to {BASELINE_DAYS} days before it. {_bound_note(tr)}")
    if flagged.height:
        latest = flagged.filter(pl.col("day") == days["day"].max())
        if latest.height:
            s.warn(f"the latest day regressed: {', '.join(latest['signal'])}")
    s.table(flagged.select(pl.col("day").dt.date(), "signal", "detail"), caption="Flagged days", name="flagged")
    return tr.record(s)
