"""Score the default alert rules on the scenario library: detected, delay, false alerts.

``python -m benchmarks.detection [--requests N] [--only NAME ...] [--keep DIR]`` generates
every day of :mod:`obskit.sample.library` (incident days and clean days), backtests the
default rules over it exactly as a report does (loaders, :func:`signal_frames`,
:func:`evaluate`), and prints per day:

- ``detected``: an alert whose data was complete between 30 minutes before the incident's
  start (precursors, such as memory climbing before the failure) and 30 minutes after its end;
- ``delay``: from the incident's start to the first matching alert's *data-complete* time
  (what a live system would have known; never the window's start), 0 when it came earlier;
- ``false``: fired alerts matching no incident, plus *page* alerts on an incident that must
  stay silent (a short error blip);
- ``subject``: the matching alerts name what the incident is about (its ``subject`` in
  ``incidents.json``: the version, class, feature, error message or GPU);
- ``hint``: the first matching alert localises it (its series or its top segment hint is the
  incident's ``where``, e.g. ``client=ios``), or says that no single segment explains an
  incident spread over the traffic.

It ends with the medians: operational incidents (errors, latency, traffic, GPU) should be
detected within 5 minutes, distribution incidents (data, model output, labels) within 30,
and the clean days should have no alert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

LEAD = timedelta(minutes=30)
GRACE = timedelta(minutes=30)


@dataclass
class DayScore:
    """The score of one library day."""

    name: str
    kind: str
    category: str
    expect: str
    detected: bool | None
    delay_min: float | None
    false_alerts: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    subject_named: bool | None = None
    hint_right: bool | None = None
    hint: str = ""


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def backtest(folder: Path) -> Any:
    """The default rules over a generated day, as the report computes them."""
    from obskit.alerts import default_rules, evaluate
    from obskit.alerts.explain import explain_run
    from obskit.alerts.inputs import signal_frames
    from obskit.config import load_config
    from obskit.load.gpu import load_nvidia_smi
    from obskit.load.logs import attach_feedback, load_feedback, load_reference, load_requests

    cfg = load_config(folder / "obskit.toml")
    assert cfg.requests is not None
    df = load_requests(cfg.requests.path, columns=cfg.requests.columns)
    if cfg.feedback is not None:
        df = attach_feedback(df, load_feedback(cfg.feedback.path, columns=cfg.feedback.columns))
    gpu_src = cfg.source("gpu")
    gpu = load_nvidia_smi(gpu_src.path) if gpu_src is not None and gpu_src.path is not None else None
    day = _t(json.loads((folder / "incidents.json").read_text())["day"] + "T00:00:00Z")
    reference = load_reference(cfg.reference.path) if cfg.reference else None
    frames = signal_frames(df, reference=reference, gpu=gpu,
                           features=cfg.features.all, confidence_threshold=cfg.business.confidence_threshold,
                           slo_ms=cfg.slo.latency_ms, start=day, end=day + timedelta(days=1))
    run = evaluate(default_rules(), frames, start=day, end=day + timedelta(days=1) - timedelta(minutes=1))
    return explain_run(run, df, reference=reference, gpu=gpu, numeric=cfg.features.numeric,
                       slo_ms=cfg.slo.latency_ms, confidence_threshold=cfg.business.confidence_threshold)


def backtest_at_scale(folder: Path) -> Any:
    """The default rules over a generated day through the engine at scale: the log staged, no row loaded.

    The day's JSONL log is staged to parquet and read as a report at scale reads a day too
    large for memory (``[report] max_rows = 0``): counts, kept rows and sketches streamed from
    the files (:mod:`obskit.alerts.scale_inputs`); each fired episode is explained on the rows
    of its own window.
    """
    import re

    from obskit.alerts import default_rules, evaluate
    from obskit.alerts.explain import explain_run
    from obskit.report.section import open_report

    text = (folder / "obskit.toml").read_text()
    text = text.replace("[sources.requests]\n", f'[sources.requests]\nstage = "{folder / "stage"}"\n', 1)
    text = re.sub(r"^\[report\]\n", "[report]\nmax_rows = 0\n", text, count=1, flags=re.M)
    cfg = folder / "obskit-scale.toml"
    cfg.write_text(text)
    day = _t(json.loads((folder / "incidents.json").read_text())["day"] + "T00:00:00Z")
    rep = open_report(str(cfg), start=day.isoformat(), end=(day + timedelta(days=1)).isoformat())
    if rep.scale is None:
        raise RuntimeError(f"{folder}: the day was not read at scale")
    run = evaluate(default_rules(), rep.session.signal_frames(), start=day,
                   end=day + timedelta(days=1) - timedelta(minutes=1))
    s = rep.session
    return explain_run(run, s.request_scan(), reference=s.reference, gpu=s.gpu, numeric=s.config.features.numeric,
                       slo_ms=s.config.slo.latency_ms, confidence_threshold=s.config.business.confidence_threshold)


def score_day(name: str, run: Any, truth: dict[str, Any]) -> list[DayScore]:
    """Match the run's fired alerts with the day's incidents (one row per incident; one for a clean day)."""
    fired = run.fired.sort("complete_at", nulls_last=True)
    rows = [(r["rule"], r["severity"], r["complete_at"], r["labels"]) for r in fired.iter_rows(named=True)]
    explained = [(json.loads(r.get("subject") or "{}"), json.loads(r.get("hints") or "[]"), r.get("explained") or "")
                 for r in fired.iter_rows(named=True)]
    incidents = truth["incidents"]
    used: set[int] = set()
    out = []
    for inc in incidents:
        start, end = _t(inc["start"]), _t(inc["end"])
        match = [i for i, (_, _, c, _) in enumerate(rows) if c is not None and start - LEAD <= c <= end + GRACE]
        expect = inc.get("expect", "alert")
        score = DayScore(name, inc["kind"], inc.get("category", "operational"), expect, None, None)
        if expect == "silent":
            score.false_alerts = [rows[i][0] for i in match if rows[i][1] == "page"]
            used.update(i for i in match if rows[i][1] != "page")
            score.detected = None
        else:
            used.update(match)
            score.detected = bool(match)
            if match:
                first = min(rows[i][2] for i in match)
                score.delay_min = max(0.0, (first - start).total_seconds() / 60)
                score.rules = sorted({rows[i][0] for i in match})
                _score_subject(score, inc, [(json.loads(rows[i][3]), *explained[i]) for i in match])
        out.append(score)
    stray = [f"{r}@{c:%H:%M}" for i, (r, _, c, _) in enumerate(rows) if i not in used and c is not None]
    if not incidents:
        out.append(DayScore(name, "clean", "-", "none", None, None, stray))
    else:
        out[0].false_alerts = out[0].false_alerts + stray
    return out


def _names(expected: dict[str, str], found: dict[str, str]) -> bool:
    return all(v.lower() in str(found.get(k, "")).lower() for k, v in expected.items())


def _score_subject(score: DayScore, inc: dict[str, Any],
                   alerts: list[tuple[dict[str, str], dict[str, str], list[dict[str, Any]], str]]) -> None:
    """Whether the matching alerts name the incident's subject, and the first one's top hint is right.

    "Subject named": every expected ``name=value`` appears in one matching alert's subject.
    "Top hint right": the first matching alert whose requests were split (not a GPU gauge)
    localises the incident: its series labels or its top hint hold the expected segment, or,
    for an incident spread over the traffic, it says no single segment explains it.
    """
    expected = inc.get("subject") or {}
    if expected:
        score.subject_named = any(_names(expected, subject) for _, subject, _, _ in alerts)
    where = inc.get("where", {})
    split = [a for a in alerts if not a[3].startswith("a GPU signal")]
    if where is None or not split:
        return
    labels, _, hints, said = split[0]
    top = {hints[0]["dimension"]: str(hints[0]["value"])} if hints else {}
    score.hint = hints[0]["text"] if hints else (said or "-")
    score.hint_right = not hints if not where else _names(where, {**labels, **top})


def run(names: list[str], requests: int, folder: Path, seed_offset: int = 0, engine: str = "memory"
        ) -> list[DayScore]:
    from dataclasses import replace

    from obskit.sample import generate
    from obskit.sample.library import CLEAN_DAYS, INCIDENT_DAYS

    if seed_offset:  # the same kinds of day with other random draws: detection must not depend on the seeds
        for table in (INCIDENT_DAYS, CLEAN_DAYS):
            for key, spec in table.items():
                table[key] = replace(spec, seed=spec.seed + seed_offset)

    scores: list[DayScore] = []
    for name in names or [*INCIDENT_DAYS, *CLEAN_DAYS]:
        out = folder / name
        t0 = time.perf_counter()
        generate(out, scenario=name, requests=requests, reference_rows=20_000)
        truth = json.loads((out / "incidents.json").read_text())
        day_scores = score_day(name, backtest_at_scale(out) if engine == "scale" else backtest(out), truth)
        scores.extend(day_scores)
        for s in day_scores:
            print(_line(s) + f"  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return scores


def _line(s: DayScore) -> str:
    det = "-" if s.detected is None else ("yes" if s.detected else "NO")
    delay = "-" if s.delay_min is None else f"{s.delay_min:.0f} min"
    false = ", ".join(s.false_alerts) or "0"
    subject = "-" if s.subject_named is None else ("yes" if s.subject_named else "NO")
    hint = "-" if s.hint_right is None else ("yes" if s.hint_right else "NO")
    return (f"{s.name:<22} {s.kind:<22} {s.category:<13} {det:<9} {delay:>8}  {subject:<8} {hint:<6} false: {false}"
            f"  {' '.join(s.rules)}")


def summary(scores: list[DayScore]) -> dict[str, Any]:
    """Totals and medians of a library run."""
    expected = [s for s in scores if s.expect == "alert"]
    ops = [s.delay_min for s in expected if s.category == "operational" and s.delay_min is not None]
    dist = [s.delay_min for s in expected if s.category == "distribution" and s.delay_min is not None]
    clean_false = sum(len(s.false_alerts) for s in scores if s.kind == "clean")
    return {
        "incidents": len(expected),
        "detected": sum(1 for s in expected if s.detected),
        "median_delay_operational_min": statistics.median(ops) if ops else None,
        "median_delay_distribution_min": statistics.median(dist) if dist else None,
        "false_alerts_clean_days": clean_false,
        "false_alerts_incident_days": sum(len(s.false_alerts) for s in scores if s.kind != "clean"),
        "subject_named": sum(1 for s in expected if s.subject_named),
        "subject_expected": sum(1 for s in expected if s.subject_named is not None),
        "hint_right": sum(1 for s in expected if s.hint_right),
        "hint_expected": sum(1 for s in expected if s.hint_right is not None),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.detection", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=100_000, help="requests of an ordinary day (default 100000)")
    p.add_argument("--only", action="append", default=[], help="one library day (repeatable)")
    p.add_argument("--keep", type=Path, default=None, help="keep the generated days in this folder")
    p.add_argument("--json", type=Path, default=None, help="also write the scores as JSON")
    p.add_argument("--seed-offset", type=int, default=0, help="shift every day's seed (other draws of the same days)")
    p.add_argument("--engine", choices=("memory", "scale"), default="memory",
                   help="backtest in memory, or through the engine at scale (log staged, no row loaded)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="obskit-detection-") as tmp:
        scores = run(args.only, args.requests, args.keep or Path(tmp), args.seed_offset, args.engine)
    head = (f"{'day':<22} {'incident':<22} {'category':<13} {'detected':<9} {'delay':>8}  {'subject':<8} {'hint':<6} "
            "false alerts, rules")
    print(head)
    print("-" * len(head))
    for s in scores:
        print(_line(s))
    total = summary(scores)
    print("-" * len(head))
    print(f"detected {total['detected']}/{total['incidents']} incidents; median delay operational "
          f"{total['median_delay_operational_min']} min, distribution {total['median_delay_distribution_min']} min; "
          f"false alerts: clean days {total['false_alerts_clean_days']}, incident days "
          f"{total['false_alerts_incident_days']}; subject named {total['subject_named']}/{total['subject_expected']}, "
          f"top hint right {total['hint_right']}/{total['hint_expected']}")
    for s in scores:
        if s.hint_right is False:
            print(f"  {s.name}: top hint was {s.hint!r}")
    if args.json:
        args.json.write_text(json.dumps({"summary": total, "days": [s.__dict__ for s in scores]}, indent=2,
                                        default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["DayScore", "backtest", "backtest_at_scale", "main", "run", "score_day", "summary"]
