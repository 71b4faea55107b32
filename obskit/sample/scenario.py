"""The sample scenario: what a day of the demo service looks like, and what goes wrong.

The service is a ResNet-50 product-image classifier ("resnet50") served by Triton on one
NVIDIA A10G behind a small HTTP front end. The stable version is ``v1.4.0``. Everything
about the day is a parameter here so that tests and docs can refer to the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["CLASSES", "DAY", "Incident", "Scenario", "default_scenario"]

DAY = datetime(2026, 11, 22, tzinfo=UTC)

CLASSES: tuple[str, ...] = (
    "sneaker", "handbag", "watch", "sunglasses", "backpack", "t-shirt",
    "dress", "jacket", "boots", "hat", "wallet", "scarf",
)
CLASS_PRIOR: tuple[float, ...] = (0.16, 0.12, 0.08, 0.06, 0.09, 0.11, 0.08, 0.09, 0.07, 0.05, 0.05, 0.04)
# Classes that dark images get mistaken for (the feature shift moves predictions there).
DARK_CLASSES: tuple[str, ...] = ("boots", "jacket", "wallet")

RESOLUTIONS: tuple[tuple[int, int], ...] = ((224, 224), (640, 480), (1280, 720), (1920, 1080), (3024, 4032))
RESOLUTION_P: tuple[float, ...] = (0.10, 0.25, 0.30, 0.25, 0.10)
#: Classes a model trained on another label set answers (never in the reference).
EXTRA_CLASSES: tuple[str, ...] = ("fedora", "beret")
CLIENTS: tuple[str, ...] = ("ios", "android", "web")
CLIENT_P: tuple[float, ...] = (0.45, 0.40, 0.15)
REGIONS: tuple[str, ...] = ("us-east", "eu-west", "ap-south")
REGION_P: tuple[float, ...] = (0.45, 0.40, 0.15)


def at(hour: int, minute: int = 0, day: datetime = DAY) -> datetime:
    """A time of the sample day (UTC)."""
    return day + timedelta(hours=hour, minutes=minute)


@dataclass(frozen=True)
class Incident:
    """One injected incident: the ground truth written to ``incidents.json``."""

    id: str
    kind: str
    start: datetime
    end: datetime
    summary: str
    signals: tuple[str, ...]
    params: dict[str, float | str] = field(default_factory=dict)
    #: ``"alert"``: detection must raise an alert; ``"silent"``: it must not page (a blip).
    expect: str = "alert"
    #: ``"operational"`` (errors, latency, traffic, GPU) or ``"distribution"`` (data, model output, labels).
    category: str = "operational"
    #: What its alerts should name (``{"model_version": "v1.5.0", "class": "fedora"}``); scored by
    #: ``benchmarks.detection``'s "subject named".
    subject: dict[str, str] = field(default_factory=dict)
    #: The segment that explains it (``{"client": "ios"}``); ``{}``: spread over the traffic; None:
    #: not a request incident (a GPU gauge). Scored as "top hint right".
    where: dict[str, str] | None = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict (ISO 8601 UTC times)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "summary": self.summary,
            "signals": list(self.signals),
            "params": dict(self.params),
            **({"expect": self.expect} if self.expect != "alert" else {}),
            **({"category": self.category} if self.category != "operational" else {}),
            "subject": dict(self.subject),
            "where": None if self.where is None else dict(self.where),
        }


@dataclass(frozen=True)
class Scenario:
    """Every knob of the sample day."""

    day: datetime = DAY
    model: str = "resnet50"
    stable_version: str = "v1.4.0"
    canary_version: str = "v1.5.0"
    gpu_name: str = "NVIDIA A10G"
    gpu_uuid: str = "GPU-3f1c2a9e-7d41-4b8e-9a57-0c6e2f1d8b34"
    gpu_memory_total_mib: float = 23028.0
    gpu_power_limit_w: float = 300.0
    base_error_rate: float = 0.0008
    confidence_threshold: float = 0.8
    slo_latency_ms: float = 120.0
    slo_quantile: float = 0.99
    slo_availability: float = 0.99
    incidents: tuple[Incident, ...] = ()
    #: Daily load shape (see :data:`obskit.sample.effects.LOAD_SHAPES`).
    load_shape: str = "weekday"
    #: A deploy that changes nothing but the version label, from this time on.
    deploy_at: datetime | None = None
    deploy_version: str = "v1.4.1"

    def incident(self, kind: str) -> Incident | None:
        """The incident of ``kind``, if this day has one."""
        return next((i for i in self.incidents if i.kind == kind), None)


def default_scenario(clean: bool = False, day: datetime = DAY) -> Scenario:
    """The sample day; ``clean=True`` gives the same day without any incident; ``day`` moves it."""
    if clean:
        return Scenario(day=day)
    incidents = (
        Incident(
            "error-burst", "error_burst", at(8, 20, day=day), at(8, 32, day=day),
            "Triton model instance restarts: 503s for 12 minutes (about 7% of requests).",
            ("error_rate",), {"error_rate": 0.07, "status_code": 503}, subject={"status_code": "503"},
        ),
        Incident(
            "canary-slow", "canary_slower", at(10, 0, day=day), at(14, 0, day=day),
            "Canary v1.5.0 takes 10% of traffic and is about 35% slower; rolled back at 14:00.",
            ("latency_by_version", "versions"),
            {"version": "v1.5.0", "traffic_share": 0.10, "latency_factor": 1.35},
            subject={"model_version": "v1.5.0"}, where={"model_version": "v1.5.0"},
        ),
        Incident(
            "brightness-shift", "feature_shift", at(15, 0, day=day), at(24, 0, day=day),
            "An upstream mobile-client release darkens images (rolled out over 30 minutes): mobile brightness "
            "drops from ~118 to ~74, overall from ~118 to ~84; predictions move to dark classes and "
            "confidence falls.",
            ("drift:brightness", "prediction_drift", "confidence"),
            {"feature": "brightness", "from_mean": 118.0, "to_mean": 84.0, "mobile_to_mean": 74.0},
            category="distribution", subject={"feature": "brightness"}, where=None,  # mobile: two clients
        ),
        Incident(
            "corrections-up", "correction_rate", at(15, 0, day=day), at(24, 0, day=day),
            "Users correct more confident predictions (above 1%), a consequence of the brightness shift.",
            ("correction_rate",), {"threshold": 0.01}, category="distribution", where=None,
        ),
        Incident(
            "gpu-memory-pressure", "latency_regression", at(19, 10, day=day), at(19, 55, day=day),
            "GPU memory fills to ~98% (allocator fragmentation); p99 latency breaks the 120 ms SLO; "
            "Triton is restarted at 19:55 (counters reset).",
            ("latency_p99", "gpu_memory", "slo_burn_rate"),
            {"memory_peak_pct": 98.0, "slo_latency_ms": 120.0}, subject={"gpu": "0"}, where=None,
        ),
    )
    return Scenario(day=day, incidents=incidents)
