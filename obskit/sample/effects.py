"""What each kind of incident does to a generated day: traffic, requests, labels and the GPU.

The generator (:mod:`obskit.sample.generate`) calls these hooks; each is a no-op when the
day has no incident of its kinds, and draws random numbers only when it acts, so days
without those incidents stay byte-identical. The incident kinds and their parameters are
catalogued in :mod:`obskit.sample.library`.
"""

from __future__ import annotations

import numpy as np

from obskit.sample import scenario as sc

__all__ = ["LOAD_SHAPES", "apply_gpu", "apply_requests", "apply_traffic", "shaped_load", "version_of"]

#: Daily load shapes: (base, amplitude, peak hour, log-noise sd).
LOAD_SHAPES: dict[str, tuple[float, float, float, float]] = {
    "weekday": (0.22, 0.78, 16.0, 0.05),
    "weekend": (0.35, 0.45, 19.0, 0.05),
    "night-peak": (0.22, 0.78, 3.0, 0.05),
    "bursty": (0.22, 0.78, 16.0, 0.11),
}


def shaped_load(h: np.ndarray, shape: str) -> np.ndarray:
    """The smooth daily cycle of ``shape`` at hours ``h`` (peak 1.0 before noise)."""
    base, amp, peak, _ = LOAD_SHAPES[shape]
    return base + amp * (0.5 - 0.5 * np.cos(2 * np.pi * (h - (peak - 12.0)) / 24.0)) ** 1.3


def _window(t_s: np.ndarray, inc: sc.Incident, s: sc.Scenario) -> np.ndarray:
    a = (inc.start - s.day).total_seconds()
    b = (inc.end - s.day).total_seconds()
    return (t_s >= a) & (t_s < b)


def _ramp(t_s: np.ndarray, inc: sc.Incident, s: sc.Scenario, minutes: float) -> np.ndarray:
    """0 before the start, rising linearly to 1 over ``minutes``, 0 after the end."""
    a = (inc.start - s.day).total_seconds()
    return np.clip((t_s - a) / (60.0 * minutes), 0.0, 1.0) * _window(t_s, inc, s)


def apply_traffic(load: np.ndarray, s: sc.Scenario) -> np.ndarray:
    """Per-second load with outages (no requests) and traffic drops (a share of it)."""
    t = np.arange(load.size, dtype=np.float64)
    out = load
    for inc in s.incidents:
        if inc.kind == "outage":
            out = np.where(_window(t, inc, s), 0.0, out)
        elif inc.kind == "traffic_drop":
            out = np.where(_window(t, inc, s), out * float(inc.params.get("factor", 0.3)), out)
    return out


def version_of(t_s: np.ndarray, is_canary: np.ndarray, s: sc.Scenario) -> np.ndarray:
    """Model version of each request: the canary, the deployed version after a deploy, or stable."""
    stable = np.full(t_s.size, s.stable_version, dtype=object)
    if s.deploy_at is not None:
        stable = np.where(t_s >= (s.deploy_at - s.day).total_seconds(), s.deploy_version, stable)
    return np.where(is_canary, s.canary_version, stable)


def apply_requests(out: dict[str, np.ndarray], t_s: np.ndarray, s: sc.Scenario, rng: np.random.Generator) -> None:
    """Latency, errors, predictions, confidence, features and label delays of the incidents."""
    n = t_s.size
    for inc in s.incidents:
        w = _window(t_s, inc, s)
        if not w.any():
            continue
        p = inc.params
        ok = out["code"] == 200
        if inc.kind == "latency_shift":  # the whole distribution slower (a slower build, CPU fallback...)
            out["latency"] = np.where(w & ok, out["latency"] * float(p["factor"]), out["latency"])
        elif inc.kind == "tail_regression":  # a few requests much slower: p99 moves, p50 does not
            hit = w & ok & (rng.random(n) < float(p["share"]))
            out["latency"] = np.where(hit, out["latency"] + rng.lognormal(np.log(float(p["extra_ms"])), 0.2, n),
                                      out["latency"])
        elif inc.kind in ("gpu_throttle", "gpu_saturation"):
            out["latency"] = np.where(w & ok, out["latency"] * float(p["latency_factor"]), out["latency"])
        elif inc.kind in ("error_blip", "low_errors", "canary_errors"):
            scope = w & ok & (out["canary"] if inc.kind == "canary_errors" else True)
            fail = scope & (rng.random(n) < float(p["error_rate"]))
            out["code"] = np.where(fail, 500, out["code"])
            out["err_kind"] = np.where(fail, 1, out["err_kind"])
        elif inc.kind == "oom_errors":  # large batches run the GPU out of memory
            fail = w & ok & (rng.random(n) < float(p["error_rate"]))
            out["code"] = np.where(fail, 500, out["code"])
            out["err_kind"] = np.where(fail, 4, out["err_kind"])
        elif inc.kind == "canary_tail":  # the canary a little slower, and much slower on a share of requests
            scope = w & ok & out["canary"]
            slow = scope & (rng.random(n) < float(p["share"]))
            out["latency"] = np.where(scope, out["latency"] * 1.05, out["latency"])
            out["latency"] = np.where(slow, out["latency"] * float(p["factor"]), out["latency"])
        elif inc.kind in ("unseen_classes", "version_collapse"):  # a canary answering other classes
            hit = w & out["canary"] & (rng.random(n) < float(p["share"]))
            if inc.kind == "unseen_classes":
                cls = len(sc.CLASSES) + rng.integers(0, len(sc.EXTRA_CLASSES), n)
            else:
                cls = np.full(n, sc.CLASSES.index(str(p["class"])))
            out["pred"] = np.where(hit, cls, out["pred"])
            out["confidence"] = np.where(hit, rng.uniform(0.85, 0.99, n), out["confidence"])
            out["correct"] = np.where(hit, False, out["correct"])
        elif inc.kind == "feature_nulls":  # a preprocessing bug drops features
            for feat in str(p["features"]).split(","):
                gone = w & (rng.random(n) < float(p["share"]))
                out[feat] = np.where(gone, np.nan, out[feat].astype(np.float64))
        elif inc.kind == "client_payload":  # one client's release changes what it sends
            scope = w & (out["client"] == sc.CLIENTS.index(str(p["client"])))
            feat = str(p["feature"])
            out[feat] = np.where(scope, out[feat] * float(p["factor"]), out[feat])
        elif inc.kind == "prediction_collapse":  # a broken model answers one class, confidently
            hit = w & (rng.random(n) < float(p["share"]))
            collapsed = sc.CLASSES.index(str(p["class"]))
            out["pred"] = np.where(hit, collapsed, out["pred"])
            out["confidence"] = np.where(hit, rng.uniform(0.94, 0.995, n), out["confidence"])
            out["correct"] = np.where(hit, out["label"] == collapsed, out["correct"])
        elif inc.kind == "confidence_inflation":  # a recalibration bug: everything looks certain
            shrink = float(p["shrink"])
            out["confidence"] = np.where(w, 1.0 - (1.0 - out["confidence"]) * shrink, out["confidence"])
        elif inc.kind == "numeric_drift":  # a feature's mean moves gradually
            feat = str(p["feature"])
            out[feat] = out[feat] + _ramp(t_s, inc, s, float(p["ramp_minutes"])) * float(p["shift"])
        elif inc.kind == "categorical_drift":  # traffic mix moves to one category
            move = w & (rng.random(n) < float(p["share"]))
            out["client"] = np.where(move, sc.CLIENTS.index(str(p["to"])), out["client"])
        elif inc.kind == "late_labels":  # the labelling pipeline lags by hours
            delay = out["fixed_at"] - (t_s * 1e6).astype(np.int64) - int(s.day.timestamp()) * 1_000_000
            out["fixed_at"] = np.where(w, out["fixed_at"] + delay * (float(p["factor"]) - 1.0), out["fixed_at"])


def apply_gpu(g: dict[str, np.ndarray], s: sc.Scenario, rng: np.random.Generator) -> None:
    """GPU gauges of the hardware incidents (memory leak, throttling, saturation)."""
    t = g["t"].astype(np.float64)
    for inc in s.incidents:
        w = _window(t, inc, s)
        if not w.any():
            continue
        p = inc.params
        if inc.kind == "gpu_memory_leak":
            hours = (t - (inc.start - s.day).total_seconds()) / 3600.0
            grow = np.where(w, hours * float(p["mib_per_hour"]), 0.0)
            g["mem"] = np.round(np.minimum(g["mem"] + grow, s.gpu_memory_total_mib - 50.0))
        elif inc.kind == "gpu_throttle":
            ramp = np.clip((t - (inc.start - s.day).total_seconds()) / 300.0, 0.0, 1.0) * w
            g["util"] = np.where(w, np.clip(100.0 - np.abs(rng.normal(0, 0.6, t.size)), 0, 100), g["util"]).round()
            g["temp"] = np.round(g["temp"] + ramp * (float(p["temp_c"]) - g["temp"]))
            g["sm"] = np.where(w, np.round(g["sm"] * (1.0 - ramp * float(p["clock_drop"]))), g["sm"])
            g["power"] = np.where(w, s.gpu_power_limit_w - np.abs(rng.normal(0, 0.8, t.size)), g["power"])
        elif inc.kind == "gpu_saturation":
            g["util"] = np.where(w, np.clip(99.0 + rng.normal(0, 0.5, t.size), 0, 100), g["util"]).round()
            g["power"] = np.where(w, np.minimum(62.0 + 2.2 * g["util"] + rng.normal(0, 4.0, t.size),
                                                s.gpu_power_limit_w), g["power"])
