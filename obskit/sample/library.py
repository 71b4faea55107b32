"""The scenario library: incident days of many kinds and clean days of many shapes.

``obskit sample --scenario NAME`` writes one of these days; ``obskit sample --list`` prints
the catalogue; ``python -m benchmarks.detection`` runs the default alert rules over all of
them and scores detection (detected or not, delay from the incident's start to the time the
alert's data was complete, false alerts).

Every incident day carries its ground truth in ``incidents.json``: the window, the kind,
whether an alert is expected (``expect = "silent"`` for a blip that must not page) and the
category (``operational``: errors, latency, traffic, GPU; ``distribution``: data, model
output, labels).

Examples
--------
>>> len(INCIDENT_DAYS) >= 15 and len(CLEAN_DAYS) >= 10
True
>>> scenario("outage").incidents[0].kind
'outage'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from obskit.errors import ConfigError
from obskit.sample import scenario as sc

__all__ = ["CLEAN_DAYS", "INCIDENT_DAYS", "LibraryDay", "catalogue", "day_spec", "scenario"]


@dataclass(frozen=True)
class LibraryDay:
    """One day of the library: how to build its scenario and how much traffic it has."""

    name: str
    description: str
    build: Callable[[datetime], sc.Scenario]
    requests_factor: float = 1.0
    seed: int = 0


def _one(kind: str, start: tuple[int, int], end: tuple[int, int], summary: str, params: dict[str, float | str],
         *, category: str = "operational", expect: str = "alert", signals: tuple[str, ...] = (),
         subject: dict[str, str] | None = None, where: dict[str, str] | None = None, gpu: bool = False,
         ) -> Callable[[datetime], sc.Scenario]:
    def build(day: datetime) -> sc.Scenario:
        inc = sc.Incident(kind.replace("_", "-"), kind, sc.at(*start, day=day), sc.at(*end, day=day), summary,
                          signals, params, expect=expect, category=category, subject=dict(subject or {}),
                          where=None if gpu else dict(where or {}))
        return sc.Scenario(day=day, incidents=(inc,))
    return build


def _sample_incident(kind: str) -> Callable[[datetime], sc.Scenario]:
    def build(day: datetime) -> sc.Scenario:
        full = sc.default_scenario(day=day)
        keep = tuple(i for i in full.incidents if i.kind == kind or (kind == "feature_shift" and
                                                                     i.kind == "correction_rate"))
        return replace(full, incidents=keep)
    return build


def _clean(**kw: object) -> Callable[[datetime], sc.Scenario]:
    def build(day: datetime) -> sc.Scenario:
        s = sc.Scenario(day=day)
        if kw.get("deploy"):
            s = replace(s, deploy_at=sc.at(13, 0, day=day))
        if "shape" in kw:
            s = replace(s, load_shape=str(kw["shape"]))
        return s
    return build


_INCIDENTS: tuple[LibraryDay, ...] = (
    LibraryDay("outage", "The front end stops serving for 25 minutes (no requests logged).",
               _one("outage", (13, 40), (14, 5), "25-minute outage: no requests reach the model.", {})),
    LibraryDay("traffic-drop", "A load-balancer change sends 70% of traffic elsewhere for an hour.",
               _one("traffic_drop", (10, 15), (11, 15), "Traffic at 30% of normal for an hour.", {"factor": 0.3})),
    LibraryDay("latency-regression", "A slower build: every request about 3x slower, p99 still below the SLO.",
               _one("latency_shift", (14, 20), (15, 50), "All-traffic latency x3 (p99 ~31 -> ~94 ms, SLO 120 ms).",
                    {"factor": 3.0})),
    LibraryDay("tail-regression", "3% of requests hit a slow path (+70 ms): p99 up, p50 unchanged.",
               _one("tail_regression", (9, 30), (11, 30), "Tail-only regression: p99 ~31 -> ~80 ms.",
                    {"share": 0.03, "extra_ms": 70.0})),
    LibraryDay("prediction-collapse", "43% of answers collapse to one class at 0.94-0.995 confidence.",
               _one("prediction_collapse", (11, 0), (15, 0), "Silent model failure: 'handbag' for 43% of answers.",
                    {"share": 0.43, "class": "handbag"}, category="distribution", subject={"class": "handbag"})),
    LibraryDay("confidence-inflation", "A calibration bug pushes every confidence towards 1.",
               _one("confidence_inflation", (12, 30), (17, 30), "Confidence inflated: 1 - c shrinks 4x.",
                    {"shrink": 0.25}, category="distribution")),
    LibraryDay("numeric-drift", "Image contrast drifts up by 1.8 standard deviations over three hours.",
               _one("numeric_drift", (8, 0), (24, 0), "Gradual drift of 'contrast' (+18 over 3 h).",
                    {"feature": "contrast", "shift": 18.0, "ramp_minutes": 180.0}, category="distribution",
                    subject={"feature": "contrast"})),
    LibraryDay("categorical-drift", "A partner integration moves 40% of traffic to the web client.",
               _one("categorical_drift", (16, 10), (22, 0), "Client mix moves to 'web'.",
                    {"share": 0.4, "to": "web"}, category="distribution", subject={"feature": "client"})),
    LibraryDay("gpu-memory-leak", "A memory leak in the server: +1.6 GiB of GPU memory per hour.",
               _one("gpu_memory_leak", (7, 0), (17, 0), "GPU memory grows ~1600 MiB/h until near full.",
                    {"mib_per_hour": 1600.0}, subject={"gpu": "0"}, gpu=True)),
    LibraryDay("gpu-throttle", "A failed fan: 91 C, SM clock down 27%, power at the limit, p99 +37%.",
               _one("gpu_throttle", (15, 5), (16, 35), "Thermal throttling of the GPU.",
                    {"temp_c": 91.0, "clock_drop": 0.27, "latency_factor": 1.37}, subject={"gpu": "0"}, gpu=True)),
    LibraryDay("gpu-saturation", "A noisy neighbour pins the GPU at 99-100% for an hour; latency +60%.",
               _one("gpu_saturation", (18, 20), (19, 20), "GPU saturated.", {"latency_factor": 1.6},
                    subject={"gpu": "0"}, gpu=True)),
    LibraryDay("error-blip", "Two minutes of 2% errors during a node drain: must not page.",
               _one("error_blip", (11, 48), (11, 50), "A 2-minute error blip.", {"error_rate": 0.02},
                    expect="silent")),
    LibraryDay("low-errors", "A dependency fails 0.5% of requests for two hours.",
               _one("low_errors", (13, 0), (15, 0), "Low sustained errors: 0.5% for 2 h.", {"error_rate": 0.005},
                    subject={"error": "internal server error"})),
    LibraryDay("canary-errors", "A canary with 10% of traffic fails 4% of its requests.",
               _one("canary_errors", (10, 0), (14, 0), "Canary v1.5.0 errs 4%.", {"error_rate": 0.04,
                                                                                  "version": "v1.5.0"},
                    subject={"model_version": "v1.5.0"}, where={"model_version": "v1.5.0"})),
    LibraryDay("late-labels", "The labelling pipeline lags: corrections arrive 12x later than usual.",
               _one("late_labels", (9, 0), (24, 0), "Labels arrive hours late.", {"factor": 12.0},
                    category="distribution")),
    LibraryDay("feature-nulls", "A preprocessing bug drops two features from 45% of requests for 90 minutes.",
               _one("feature_nulls", (12, 0), (13, 30), "brightness and contrast missing on 45% of requests.",
                    {"features": "brightness,contrast", "share": 0.45}, category="distribution",
                    subject={"feature": "brightness"})),
    LibraryDay("new-classes", "A canary built on another label set: 18% of its answers are classes never trained.",
               _one("unseen_classes", (10, 0), (14, 0), "Canary v1.5.0 answers 'fedora'/'beret' on 18%.",
                    {"share": 0.18, "version": "v1.5.0"}, category="distribution",
                    subject={"model_version": "v1.5.0", "class": "fedora"}, where={"model_version": "v1.5.0"})),
    LibraryDay("canary-tail", "A canary slower only in its tail: p95 +40%, p50 +5%.",
               _one("canary_tail", (10, 0), (14, 0), "Canary v1.5.0: p95 +40%, p50 +5%.",
                    {"share": 0.12, "factor": 2.3, "version": "v1.5.0"},
                    subject={"model_version": "v1.5.0"}, where={"model_version": "v1.5.0"})),
    LibraryDay("version-collapse", "A canary that froze: 60% of its answers are 'hat'.",
               _one("version_collapse", (10, 0), (14, 0), "Canary v1.5.0 answers 'hat' on 60% of requests.",
                    {"share": 0.6, "class": "hat", "version": "v1.5.0"}, category="distribution",
                    subject={"model_version": "v1.5.0", "class": "hat"}, where={"model_version": "v1.5.0"})),
    LibraryDay("client-payload", "An iOS release uploads 3x larger images; other clients unchanged.",
               _one("client_payload", (13, 0), (20, 0), "iOS file sizes x3.",
                    {"client": "ios", "feature": "file_size_kb", "factor": 3.0}, category="distribution",
                    subject={"feature": "file_size_kb"}, where={"client": "ios"})),
    LibraryDay("oom-errors", "The GPU runs out of memory on large batches: 4% CUDA OOM errors for 30 minutes.",
               _one("oom_errors", (16, 0), (16, 30), "4% of requests fail with 'CUDA out of memory'.",
                    {"error_rate": 0.04}, subject={"error": "CUDA out of memory"})),
    LibraryDay("error-burst", "Triton instance restarts: 7% 503s for 12 minutes.", _sample_incident("error_burst")),
    LibraryDay("canary-slow", "A canary 35% slower than stable.", _sample_incident("canary_slower")),
    LibraryDay("brightness-shift", "Darker images from a client release; corrections rise.",
               _sample_incident("feature_shift")),
    LibraryDay("gpu-memory-pressure", "GPU memory fills, p99 breaks the SLO, Triton restarts.",
               _sample_incident("latency_regression")),
)

_CLEAN: tuple[LibraryDay, ...] = (
    LibraryDay("clean-weekday", "An ordinary weekday.", _clean(), seed=101),
    LibraryDay("clean-weekday-2", "Another ordinary weekday (other seed).", _clean(), seed=102),
    LibraryDay("clean-weekday-3", "A third ordinary weekday.", _clean(), seed=103),
    LibraryDay("clean-weekend", "A weekend: flatter, later peak.", _clean(shape="weekend"), seed=104),
    LibraryDay("clean-night-peak", "Traffic from the other side of the world: the peak at 03:00 UTC.",
               _clean(shape="night-peak"), seed=105),
    LibraryDay("clean-bursty", "Bursty traffic (twice the minute-to-minute noise).", _clean(shape="bursty"),
               seed=106),
    LibraryDay("clean-10x", "Ten times the volume.", _clean(), requests_factor=10.0, seed=107),
    LibraryDay("clean-low-volume", "Very low volume: a few requests a minute at night.", _clean(),
               requests_factor=0.05, seed=108),
    LibraryDay("clean-deploy", "A deploy at 13:00 that changes nothing but the version.", _clean(deploy=True),
               seed=109),
    LibraryDay("clean-weekend-low", "A quiet weekend at a tenth of the volume.", _clean(shape="weekend"),
               requests_factor=0.1, seed=110),
)

# every incident day has its own seed, so no background noise is shared between days
_INCIDENTS = tuple(replace(d, seed=d.seed or 201 + i) for i, d in enumerate(_INCIDENTS))

#: Incident days by name.
INCIDENT_DAYS: dict[str, LibraryDay] = {d.name: d for d in _INCIDENTS}
#: Clean days by name.
CLEAN_DAYS: dict[str, LibraryDay] = {d.name: d for d in _CLEAN}


def day_spec(name: str) -> LibraryDay:
    """The library day called ``name`` (a clear error listing the names otherwise)."""
    found = INCIDENT_DAYS.get(name) or CLEAN_DAYS.get(name)
    if found is None:
        raise ConfigError(f"unknown scenario {name!r}; known: {', '.join([*INCIDENT_DAYS, *CLEAN_DAYS])}")
    return found


def scenario(name: str, day: datetime = sc.DAY) -> sc.Scenario:
    """The :class:`~obskit.sample.scenario.Scenario` of a library day."""
    return day_spec(name).build(day)


def catalogue() -> str:
    """The library as text: one line per day, incidents first."""
    lines = ["incident days:"]
    for d in _INCIDENTS:
        inc = d.build(sc.DAY).incidents
        when = ", ".join(f"{i.kind} {i.start:%H:%M}-{i.end:%H:%M} ({i.category}"
                         f"{', must not page' if i.expect == 'silent' else ''})" for i in inc)
        lines.append(f"  {d.name:<22} {d.description}  [{when}]")
    lines.append("clean days:")
    for d in _CLEAN:
        lines.append(f"  {d.name:<22} {d.description}")
    return "\n".join(lines)
