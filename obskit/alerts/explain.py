"""What an alert is about and where: its subject, and the segments that explain it.

:func:`explain_run` takes an :class:`~obskit.alerts.engine.AlertRun` and the period's
requests and gives each episode:

``subject``
    What the alert is about, as ``{name: value}``: the series' own labels (version,
    feature, class, host, GPU...), then what the signal points at (the error message and
    code that dominate the failures, the class that gained the most share, the category a
    feature moved to, the hottest GPU), then the segment that explains it best, if one does.
``hints``
    Up to ``top`` segments ranked by :func:`obskit.analyze.segments.rank_segments`: the
    outcome behind the signal (the request failed; was slower than the 90th percentile of
    the three hours before; answered the class; carried the drifted value; lacked the
    feature...) during the episode, against the rest of the traffic and against the same
    split before the episode's incident (:func:`incident_starts`: a rule that re-fires on
    one series within three hours is one incident, so a re-fire is not compared with its
    own first episodes). Each hint has its support, effect and 95 % interval and a
    line of text. A series of one version (client...) is split within it, against its own
    normal window; a signal that compares it with the other versions now
    (``version_error_ratio``, ``version_latency_ratio``) against them. When nothing splits
    but one model version took over the traffic just before the episode (a deploy), that
    version is the hint: the change came with it. An empty list with
    ``explained = "no single segment explains it"`` when the change is spread over the
    traffic, and a reason when the signal has no request outcome to split (GPU gauges, panels).

The summary gets the subject appended when its template does not already name it, so the
page, ``alerts.json`` and the webhook body all say it.

Examples
--------
>>> subject_text({"model_version": "v1.5.0", "error": "CUDA out of memory"})
'model_version=v1.5.0, error=CUDA out of memory'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from obskit.analyze.drift_verdict import missing_expr
from obskit.analyze.segments import (
    NONE_EXPLAINS,
    Binned,
    auto_dimensions,
    rank_drops,
    rank_segments,
    segment_counts,
    segment_text,
)
from obskit.redact import scrub

if TYPE_CHECKING:
    from obskit.alerts.engine import AlertRun
    from obskit.alerts.rules import Rule

__all__ = ["SUBJECT_LABELS", "Explanation", "explain_episode", "explain_rows", "explain_run", "incident_starts",
           "subject_text", "window_rows"]

#: Series labels that name what an alert is about (others, such as ``quantile``, qualify the signal).
SUBJECT_LABELS: tuple[str, ...] = ("model", "model_version", "feature", "class", "host", "gpu", "client", "region",
                                   "error", "status_code", "panel", "series")
_ERROR = frozenset({"error_rate", "burn_rate", "error_excess", "version_error_ratio"})
_SLOW = frozenset({"latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms", "latency_ratio",
                   "version_latency_ratio", "slow_request_share"})
_CLASS = frozenset({"class_mix_shift", "class_takeover", "version_class_mix", "unseen_class_share",
                    "missing_class_share"})
_CONFIDENCE = frozenset({"confidence_shift", "confident_rate"})
_FEATURE = frozenset({"feature_shift", "drift_statistic", "kl_divergence"})
_TRAFFIC = frozenset({"traffic_ratio", "request_rate"})
#: Signals on what the model answers: their subject names the model and version that answered.
_MODEL_OUTPUT = _CLASS | _CONFIDENCE
_GPU_VALUE = {"gpu_memory_used_share": ("memory_used_mib", "memory_total_mib"),
              "gpu_utilization_pct": ("utilization_pct", None), "gpu_temperature_c": ("temperature_c", None),
              "gpu_power_share": ("power_w", "power_limit_w"), "gpu_sm_clock_ratio": ("sm_clock_mhz", None),
              "gpu_memory_growth": ("memory_used_mib", "memory_total_mib")}
#: How far before an episode's pending time its data starts (the rule's window when it has one).
LOOKBACK = timedelta(minutes=15)
#: The normal window the split is compared with: this long, just before the episode.
BASELINE = timedelta(hours=3)
#: At most this much of a long episode is split (its start is what explains it).
LONGEST = timedelta(hours=2)
_OK = pl.col("status").cast(pl.String) == "ok"
#: Signals that compare one version with the others at the same time.
_VERSUS_OTHERS = frozenset({"version_error_ratio", "version_latency_ratio"})
#: A series needs this many requests in its normal window to be its own "before".
_OWN_BEFORE_ROWS = 500


@dataclass(frozen=True)
class Explanation:
    """The subject of one alert episode and the segments that explain it (see the module doc)."""

    subject: dict[str, str] = field(default_factory=dict)
    hints: list[dict[str, Any]] = field(default_factory=list)
    explained: str = ""


@dataclass(frozen=True)
class _Outcome:
    """The rows an episode is about (``population``), which of them are the outcome, and its name."""

    population: pl.Expr
    outcome: pl.Expr
    noun: str
    what: dict[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()


def subject_text(subject: Mapping[str, str]) -> str:
    """``name=value`` pairs, comma-separated ("" for no subject)."""
    return ", ".join(f"{k}={v}" for k, v in subject.items())


#: At scale, an episode is explained on at most this many of its (and the baseline's) rows.
EXPLAIN_ROWS = 2_000_000
#: Seed of the hash that samples an episode's rows beyond :data:`EXPLAIN_ROWS`.
SAMPLE_SEED = 7


def window_rows(scan: pl.LazyFrame, lo: datetime, hi: datetime, limit: int = EXPLAIN_ROWS,
                feedback: pl.DataFrame | None = None) -> pl.DataFrame:
    """The rows of ``scan`` in ``[lo, hi)``, streamed; beyond ``limit``, a uniform sample of about ``limit``.

    A report at scale explains each fired episode this way: its subject and segment hints
    need the rows of the episode and of the three hours before it, never the day's. The
    sample keeps the rows whose timestamp hashes to 0 modulo ``k`` (about one in ``k``,
    whatever their order): a condition on the timestamp alone, so the reader decodes the
    other columns of the kept rows only. ``feedback`` (corrections) is joined to the rows
    read, not to the scan: the join then touches the window's rows only.
    """
    inside = (pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi)
    n = int(scan.filter(inside).select(pl.len()).collect(engine="streaming").item())
    step = max(1, -(-n // limit))
    if step > 1:
        inside = inside & (pl.col("timestamp").dt.epoch("us").hash(SAMPLE_SEED) % step == 0)
    rows = scan.filter(inside).collect(engine="streaming")
    if feedback is not None and "request_id" in rows.columns:
        from obskit.load.logs import attach_feedback

        rows = attach_feedback(rows, feedback)
    return rows


def _slice(requests: pl.DataFrame, lo: datetime, hi: datetime) -> pl.DataFrame:
    return requests.filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi))


def _quantile(frame: pl.DataFrame, column: str, q: float) -> float | None:
    if column not in frame.columns or frame.height == 0:
        return None
    value = frame.get_column(column).cast(pl.Float64).drop_nulls().drop_nans().quantile(q, "linear")
    return None if value is None else float(value)


def _top_share(frame: pl.DataFrame, column: str, base: pl.DataFrame | None) -> str | None:
    """The value of ``column`` whose share grew the most from ``base`` to ``frame`` (``base`` None: the commonest)."""
    if column not in frame.columns or frame.height == 0:
        return None
    cur = frame.get_column(column).cast(pl.String).drop_nulls().value_counts(normalize=True, name="s")
    if cur.height == 0:
        return None
    if base is not None and column in base.columns and base.height:
        ref = base.get_column(column).cast(pl.String).drop_nulls().value_counts(normalize=True, name="r")
        cur = cur.join(ref, on=column, how="left").with_columns((pl.col("s") - pl.col("r").fill_null(0.0)).alias("s"))
    return str(cur.sort(["s", column], descending=[True, False]).get_column(column)[0])


def _error_what(failed: pl.DataFrame) -> dict[str, str]:
    """The message and code behind the failures, when one stands out: at least 30 % of them and
    twice the next (314 x 500 beside 315 x 503 names neither code).

    >>> f = pl.DataFrame({"error": ["timeout"] * 6 + ["oom"] * 2, "status_code": [500, 503] * 4})
    >>> _error_what(f)
    {'error': 'timeout'}
    """
    what: dict[str, str] = {}
    for column in ("error", "status_code"):
        if column not in failed.columns or failed.height == 0:
            continue
        counts = failed.get_column(column).cast(pl.String).drop_nulls().value_counts(sort=True, name="n")
        if not counts.height:
            continue
        top, runner_up = int(counts["n"][0]), int(counts["n"][1]) if counts.height > 1 else 0
        if top >= 0.3 * failed.height and top >= 2 * runner_up:
            what[column] = scrub(str(counts[column][0]))[:200]  # it travels to webhooks: no credentials
    return what


def _failures(during: pl.DataFrame) -> _Outcome:
    """Failed requests; what: the message and code behind most of them."""
    return _Outcome(pl.lit(True), ~_OK, "failures", _error_what(during.filter(~_OK)),
                    exclude=("error", "status_code", "prediction"))  # a failure has no answer


def _slow(during: pl.DataFrame, before: pl.DataFrame, q: float, cut: float | None = None) -> _Outcome | None:
    """Successful requests slower than ``cut``, else than the ``q`` quantile of before (of the window itself
    when before has under 100 of them)."""
    if cut is None:
        base = before if before.filter(_OK).height >= 100 else during
        cut = _quantile(base.filter(_OK), "latency_ms", q)
    if cut is None:
        return None
    return _Outcome(_OK, pl.col("latency_ms") > cut, f"requests slower than {cut:.4g} ms")


def _outcome(rule: Rule, labels: Mapping[str, str], during: pl.DataFrame, before: pl.DataFrame,
             reference: pl.DataFrame | None, slo_ms: float | None, confidence_threshold: float) -> _Outcome | None:
    """The request outcome behind ``rule``'s signal during an episode (None: not a request signal)."""
    sig = rule.signal
    if sig in _ERROR:
        return _failures(during)
    if sig in _SLOW:
        tail = sig in ("latency_p99_ms", "latency_p95_ms") or labels.get("quantile") in ("p95", "p99")
        return _slow(during, before, 0.99 if tail else 0.9, slo_ms if sig == "slow_request_share" else None)
    if sig in _CLASS and "prediction" in during.columns:
        ref = reference if reference is not None and "prediction" in reference.columns else None
        if sig in ("unseen_class_share", "missing_class_share") and ref is not None:
            known = ref.get_column("prediction").cast(pl.String).drop_nulls().unique().to_list()
            unseen = pl.col("prediction").cast(pl.String).is_in(known).not_()
            new = (during.filter(_OK & unseen & pl.col("prediction").is_not_null())
                   .get_column("prediction").cast(pl.String).value_counts(sort=True, name="n"))
            what = {"class": ", ".join(new["prediction"].head(3).to_list())} if new.height else {}
            return _Outcome(_OK & pl.col("prediction").is_not_null(), unseen, "answers of classes never in training",
                            what, exclude=("prediction",))
        cls = labels.get("class") or _top_share(during.filter(_OK), "prediction", ref if ref is not None else before)
        if cls is None:
            return None
        return _Outcome(_OK & pl.col("prediction").is_not_null(), pl.col("prediction").cast(pl.String) == cls,
                        f"answers '{cls}'", {"class": cls}, exclude=("prediction",))
    if sig in _CONFIDENCE and "confidence" in during.columns:
        conf_base: pl.DataFrame | None = before.filter(_OK) if before.filter(_OK).height >= 100 else reference
        if sig == "confident_rate":
            return _Outcome(_OK & pl.col("confidence").is_not_null(), pl.col("confidence") < confidence_threshold,
                            "answers below the confidence threshold")
        now, then = _quantile(during.filter(_OK), "confidence", 0.5), _quantile(conf_base, "confidence", 0.5) \
            if conf_base is not None else None
        if now is None or then is None:
            return None
        cut = _quantile(conf_base, "confidence", 0.9 if now >= then else 0.1) if conf_base is not None else None
        if cut is None:
            return None
        high = now >= then
        return _Outcome(_OK & pl.col("confidence").is_not_null(),
                        pl.col("confidence") > cut if high else pl.col("confidence") < cut,
                        f"answers {'more' if high else 'less'} confident than usual")
    feature = labels.get("feature")
    if sig in _FEATURE and feature and feature in during.columns:
        ref = reference if reference is not None and feature in reference.columns else before
        col = during.get_column(feature)
        if col.dtype.is_numeric():
            now, then = _quantile(during, feature, 0.5), _quantile(ref, feature, 0.5)
            if now is None or then is None:
                return None
            high = now >= then
            cut = _quantile(ref, feature, 0.9 if high else 0.1)
            if cut is None:
                return None
            x = pl.col(feature).cast(pl.Float64)
            return _Outcome(pl.col(feature).is_not_null(), x > cut if high else x < cut,
                            f"requests with {feature} {'above' if high else 'below'} {cut:.4g}", exclude=(feature,))
        value = _top_share(during, feature, ref)
        if value is None:
            return None
        return _Outcome(pl.col(feature).is_not_null(), pl.col(feature).cast(pl.String) == value,
                        f"requests with {feature}={value}", {"value": value}, exclude=(feature,))
    if sig == "feature_null_share" and feature and feature in during.columns:
        missing = missing_expr(feature, during.schema[feature])
        return _Outcome(pl.lit(True), missing, f"requests without {feature}", exclude=(feature,))
    if sig == "correction_rate" and "corrected_at" in during.columns and "confidence" in during.columns:
        return _Outcome(_OK & (pl.col("confidence") >= confidence_threshold), pl.col("corrected_at").is_not_null(),
                        "corrected confident answers")
    if sig == "label_arrival" and "corrected_at" in during.columns:
        late = (pl.col("corrected_at") - pl.col("timestamp")) > timedelta(minutes=15)
        return _Outcome(pl.col("corrected_at").is_not_null(), late, "corrections later than 15 minutes")
    return None


def _gpu_subject(rule: Rule, labels: Mapping[str, str], gpu: pl.DataFrame | None, lo: datetime,
                 hi: datetime) -> dict[str, str]:
    """The GPU an alert on a GPU signal is about: its labels, else the worst GPU over the episode."""
    named = {k: labels[k] for k in ("host", "gpu") if labels.get(k)}
    if named or gpu is None or rule.signal not in _GPU_VALUE or not gpu.height:
        return named
    num, den = _GPU_VALUE[rule.signal]
    keys = [k for k in ("host", "gpu") if k in gpu.columns]
    if num not in gpu.columns or not keys or (den is not None and den not in gpu.columns):
        return named
    value = pl.col(num).cast(pl.Float64) / (pl.col(den).cast(pl.Float64) if den else pl.lit(1.0))
    per = (gpu.filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi))
           .group_by(keys).agg(value.mean().alias("v")).drop_nulls("v"))
    if per.height == 0:
        return named
    worst = per.sort("v", descending=rule.comparison in (">", ">=")).row(0, named=True)
    return {k: str(worst[k]) for k in keys}


def explain_episode(rule: Rule, labels: Mapping[str, str], pending_at: datetime, end: datetime,
                    requests: pl.DataFrame | pl.LazyFrame | None, *, reference: pl.DataFrame | None = None,
                    gpu: pl.DataFrame | None = None, numeric: Sequence[str] = (),
                    dimensions: Sequence[str | Binned] | None = None, slo_ms: float | None = None,
                    confidence_threshold: float = 0.8, top: int = 3,
                    feedback: pl.DataFrame | None = None, since: datetime | None = None) -> Explanation:
    """The subject and hints of one episode of ``rule`` (series ``labels``) from ``pending_at`` to ``end``.

    ``dimensions`` default to :func:`~obskit.analyze.segments.auto_dimensions` of the requests
    (``numeric`` features binned at the quartiles of the window before the episode).
    ``since``: when the incident this episode belongs to began (the pending time of the first
    of the rule's episodes on this series that follow each other within :data:`BASELINE`):
    the normal window ends there, so a re-fire is compared with the traffic before the
    incident, not with its own first episodes.
    """
    subject = {k: str(v) for k, v in labels.items() if k in SUBJECT_LABELS and v not in ("", None)}
    lo = pending_at - (rule.window or LOOKBACK)
    hi = min(end, pending_at + LONGEST) if end > pending_at else pending_at + timedelta(minutes=1)
    normal = min(lo, since - (rule.window or LOOKBACK)) if since is not None else lo  # where "before" ends
    if rule.signal in _GPU_VALUE or rule.signal.startswith("gpu_"):
        subject.update({k: v for k, v in _gpu_subject(rule, labels, gpu, lo, hi).items() if k not in subject})
        return Explanation(subject, [], "a GPU signal: no request segments to split")
    if isinstance(requests, pl.LazyFrame):  # at scale: only the rows of the episode and the hours before it
        requests = window_rows(requests, normal - BASELINE, hi, feedback=feedback)
    if requests is None or requests.height == 0 or "timestamp" not in requests.columns:
        return Explanation(subject, [], "no request rows to split (none, or not loaded at this volume)")
    during_all, before_all = _slice(requests, lo, hi), _slice(requests, normal - BASELINE, normal)
    scoped = {k: v for k, v in labels.items() if k in requests.columns and v not in ("", None)}
    if scoped:
        # a series of one version (or client...) is split within it. A signal that compares it
        # with the others now (a canary against stable) is explained against the rest of the
        # traffic at the same time; any other against its own normal window, when it has one
        # (a new version has no "before": then the others at the same time)
        inside = pl.all_horizontal([pl.col(k).cast(pl.String) == v for k, v in scoped.items()])
        own_before = before_all.filter(inside)
        if rule.signal in _VERSUS_OTHERS or own_before.height < _OWN_BEFORE_ROWS:
            before_all = during_all.filter(~inside)
        else:
            before_all = own_before
        during_all = during_all.filter(inside)
    exclude = tuple(scoped)
    if rule.signal in _TRAFFIC:
        dims = dimensions if dimensions is not None else auto_dimensions(
            before_all, numeric=(), exclude=(*exclude, "prediction", "status_code"))
        if not before_all.height:
            return Explanation(subject, [], "no traffic before the episode to compare with")
        ranked = rank_drops(segment_counts(during_all, pl.lit(False), dims),
                            segment_counts(before_all, pl.lit(False), dims),
                            during_s=(hi - lo).total_seconds(), before_s=BASELINE.total_seconds(), top=top)
        return _finish(subject, ranked, "", drop=True)
    spec = _outcome(rule, labels, during_all, before_all, reference, slo_ms, confidence_threshold)
    if spec is None:
        return Explanation(subject, [], "no request outcome behind this signal")
    subject.update({k: v for k, v in spec.what.items() if k not in subject})
    split = _split(during_all, before_all, spec, numeric, exclude, dimensions, top)
    if split is None:
        return Explanation(subject, [], f"no {spec.noun} in the episode's requests")
    if split.is_empty() and not scoped:
        release = _release(during_all, before_all, requests)
        if release is not None:
            subject.setdefault(release["dimension"], str(release["value"]))
            return Explanation(subject, [release], "")
        if rule.signal in _MODEL_OUTPUT:  # the model's own output changed: say which model answered
            subject.update({k: v for k, v in _serving(during_all).items() if k not in subject})
    return _finish(subject, split, spec.noun)


def _split(during_all: pl.DataFrame, before_all: pl.DataFrame, spec: _Outcome, numeric: Sequence[str],
           exclude: Sequence[str], dimensions: Sequence[str | Binned] | None, top: int) -> pl.DataFrame | None:
    """The segments that explain ``spec``'s outcome during the window, ranked (None: no outcome at all)."""
    left_out = (*exclude, *spec.exclude)
    dims = dimensions if dimensions is not None else auto_dimensions(
        during_all, numeric=[c for c in numeric if c not in left_out], exclude=left_out,
        bins_from=before_all if before_all.height else None)
    dims = [d for d in dims if (d.column if isinstance(d, Binned) else d) not in left_out]
    counts = segment_counts(during_all.filter(spec.population), spec.outcome, dims)
    if counts.height == 0 or int(counts["outcomes"].sum()) == 0:
        return None
    return rank_segments(counts, segment_counts(before_all.filter(spec.population), spec.outcome, dims), top=top)


def explain_rows(during: pl.DataFrame, before: pl.DataFrame, outcome: str = "failures", *,
                 numeric: Sequence[str] = (), top: int = 3) -> Explanation:
    """The segments that explain the failures (or ``"slow requests"``) of ``during`` against ``before``.

    What the explorer shows for any selected range; the same ranking as an alert's hints.
    Slow means slower than the 90th percentile of ``before`` (of ``during`` when ``before``
    has under 100 successful requests).
    """
    spec = _failures(during) if outcome == "failures" else _slow(during, before, 0.9)
    if spec is None:
        return Explanation({}, [], "no successful requests in the range")
    ranked = _split(during, before, spec, numeric, (), None, top)
    if ranked is None:
        return Explanation({}, [], f"no {outcome} in the range")
    return _finish(dict(spec.what), ranked, spec.noun)


def _serving(during: pl.DataFrame) -> dict[str, str]:
    """The model and version that served (nearly) every request of the episode, when one did."""
    out: dict[str, str] = {}
    for dim in ("model", "model_version"):
        if dim in during.columns and during.height:
            top = during.get_column(dim).cast(pl.String).drop_nulls().value_counts(sort=True, normalize=True, name="s")
            if top.height and float(top["s"][0]) >= 0.99 and str(top[dim][0]):
                out[dim] = str(top[dim][0])
    return out


def _release(during: pl.DataFrame, before: pl.DataFrame, requests: pl.DataFrame) -> dict[str, Any] | None:
    """A version that took over the traffic just before the episode: nothing to split, but the likely cause.

    When one model version serves at least 90 % of the episode's requests and served less
    than half of the hours before, the change came with it (a deploy that froze, that
    answers other classes...). None otherwise.
    """
    for dim in ("model_version", "model"):
        if dim not in during.columns or during.height == 0 or before.height == 0:
            continue
        now = during.get_column(dim).cast(pl.String).value_counts(sort=True, normalize=True, name="s")
        value, share = str(now[dim][0]), float(now["s"][0])
        then_mean = (before.get_column(dim).cast(pl.String) == value).mean()
        then = float(then_mean) if isinstance(then_mean, (int, float)) else 0.0
        if share < 0.9 or then >= 0.5:
            continue
        since = requests.filter(pl.col(dim).cast(pl.String) == value).get_column("timestamp").min()
        when = f" since {since:%H:%M} UTC" if isinstance(since, datetime) else ""
        return {"dimension": dim, "value": value, "support": round(share, 4), "effect": None, "effect_low": None,
                "effect_high": None, "rows": int(during.height),
                "text": f"{dim}={value}: serves {share:.0%} of the requests{when} ({then:.0%} in the 3 hours "
                        "before): the change came with it"}
    return None


def _finish(subject: dict[str, str], ranked: pl.DataFrame, noun: str, *, drop: bool = False) -> Explanation:
    hints = []
    for row in ranked.iter_rows(named=True):
        hints.append({
            "dimension": row["dimension"], "value": row["value"], "support": round(float(row["support"]), 4),
            "effect": round(float(row["effect"]), 4), "effect_low": round(float(row["effect_low"]), 4),
            "effect_high": round(float(row["effect_high"]), 4), "rows": int(row["rows"]),
            "text": segment_text(row, noun, drop=drop),
        })
    if hints and hints[0]["dimension"] not in subject:
        subject[hints[0]["dimension"]] = str(hints[0]["value"])
    return Explanation(subject, hints, "" if hints else NONE_EXPLAINS)


def _augment(summary: str, subject: Mapping[str, str]) -> str:
    missing = {k: v for k, v in subject.items() if str(v) not in summary}
    return f"{summary} [{subject_text(missing)}]" if missing else summary


def explain_run(run: AlertRun, requests: pl.DataFrame | pl.LazyFrame | None, *, reference: pl.DataFrame | None = None,
                gpu: pl.DataFrame | None = None, numeric: Sequence[str] = (), slo_ms: float | None = None,
                confidence_threshold: float = 0.8, top: int = 3, feedback: pl.DataFrame | None = None) -> AlertRun:
    """``run`` with every fired episode's ``subject``, ``hints`` and ``explained`` filled in.

    ``subject`` and ``hints`` are JSON text (an object, a list); the summary names the
    subject when its template did not. Pending-only episodes keep their labels as subject.
    ``requests`` may be a lazy scan (a report at scale): each episode then reads only its
    own window's rows (:func:`window_rows`), ``feedback`` joined to them.
    """
    rules = {r.name: r for r in run.rules}
    end = run.timeline["t"].max() if run.timeline.height else None
    began = incident_starts(run.episodes)
    subjects, hints, explained, summaries = [], [], [], []
    for i, row in enumerate(run.episodes.iter_rows(named=True)):
        labels = json.loads(row["labels"])
        rule = rules.get(row["rule"])
        if rule is None or row["firing_at"] is None:
            subjects.append(json.dumps({k: v for k, v in labels.items() if k in SUBJECT_LABELS}))
            hints.append("[]")
            explained.append("")
            summaries.append(row["summary"])
            continue
        stop = row["resolved_at"] or (end if isinstance(end, datetime) else row["firing_at"])
        ex = explain_episode(rule, labels, row["pending_at"], stop, requests, reference=reference, gpu=gpu,
                             numeric=numeric, slo_ms=slo_ms, confidence_threshold=confidence_threshold, top=top,
                             feedback=feedback, since=began[i])
        subjects.append(json.dumps(ex.subject, ensure_ascii=False))
        hints.append(json.dumps(ex.hints, ensure_ascii=False))
        explained.append(ex.explained)
        summaries.append(_augment(row["summary"], ex.subject))
    episodes = run.episodes.with_columns(
        pl.Series("subject", subjects, pl.String), pl.Series("hints", hints, pl.String),
        pl.Series("explained", explained, pl.String), pl.Series("summary", summaries, pl.String))
    return replace(run, episodes=episodes)


def incident_starts(episodes: pl.DataFrame) -> list[datetime | None]:
    """Per episode (in the frame's order): the pending time of the first episode of its incident.

    Episodes of one rule on one series (``labels``) belong to one incident while each starts
    within :data:`BASELINE` of the previous one's end (resolved, else firing, else pending time).

    Examples
    --------
    >>> from datetime import UTC
    >>> t = [datetime(2026, 3, 10, h, m, tzinfo=UTC) for h, m in ((14, 0), (14, 10), (14, 20), (19, 0))]
    >>> eps = pl.DataFrame({"rule": ["p99"] * 4, "labels": ["{}"] * 4, "pending_at": t,
    ...                     "firing_at": t, "resolved_at": [t[0] + timedelta(minutes=5), t[1] + timedelta(minutes=5),
    ...                                                     t[2] + timedelta(minutes=5), None]})
    >>> [s.strftime("%H:%M") for s in incident_starts(eps)]
    ['14:00', '14:00', '14:00', '19:00']
    """
    out: list[datetime | None] = [None] * episodes.height
    last: dict[tuple[str, str], tuple[datetime, datetime]] = {}  # series -> (incident start, latest end)
    rows = list(enumerate(episodes.select("rule", "labels", "pending_at", "firing_at", "resolved_at").iter_rows()))
    for i, (rule, labels, pending, firing, resolved) in sorted(
            (r for r in rows if isinstance(r[1][2], datetime)), key=lambda r: r[1][2]):
        key = (str(rule), str(labels))
        ended = resolved or firing or pending
        prev = last.get(key)
        if prev is not None and pending - prev[1] <= BASELINE:  # the same incident goes on
            start, ended = prev[0], max(ended, prev[1])
        else:
            start = pending
        out[i] = start
        last[key] = (start, ended)
    return out
