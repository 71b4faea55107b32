"""Deterministic generator of the sample day (``obskit sample``).

Same seed and options give byte-identical files. Work is done in hourly chunks, each with
its own child random stream (``numpy.random.SeedSequence.spawn``), so memory stays bounded
for 10M-request days and progress can be reported per hour.

Files written into ``out``::

    requests.jsonl.gz          request log of the HTTP front end (user field names: ts, pred_label, http_status)
    feedback.jsonl             user corrections, arriving minutes to hours after the request
    reference.parquet          training/validation set with the same features, label, prediction, confidence
    prometheus/query_range.json    a saved /api/v1/query_range response (Triton counters and gauges, 30 s step)
    prometheus/scrapes/*.prom      hourly Triton /metrics text scrapes (with summaries)
    gpu/nvidia-smi.csv         nvidia-smi --query-gpu ... --format=csv -l 10 log (restarted once)
    incidents.json             ground truth of the injected incidents
    obskit.toml                config pointing at all of the above
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from obskit.errors import ConfigError
from obskit.sample import scenario as sc

__all__ = ["DEFAULT_REQUESTS", "SampleResult", "generate"]

DEFAULT_REQUESTS = 150_000
DAY_S = 86_400
PROM_STEP_S = 30
GPU_STEP_S = 10
HIST_BUCKETS_S = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)
US = 1_000_000


@dataclass
class SampleResult:
    """What :func:`generate` wrote."""

    out: Path
    files: list[Path] = field(default_factory=list)
    requests: int = 0

    @property
    def bytes(self) -> int:
        """Total size of the written files."""
        return sum(f.stat().st_size for f in self.files)


def _day_us(s: sc.Scenario) -> int:
    return int(s.day.timestamp()) * US


def _sec(s: sc.Scenario, t: object) -> float:
    from datetime import datetime

    assert isinstance(t, datetime)
    return (t - s.day).total_seconds()


# ---------------------------------------------------------------------------------- load
def load_profile(rng: np.random.Generator, shape: str = "weekday") -> np.ndarray:
    """Relative load per second of the day (max 1.0): a daily cycle with AR(1) noise."""
    from obskit.sample.effects import LOAD_SHAPES, shaped_load

    h = np.arange(DAY_S) / 3600.0
    diurnal = shaped_load(h, shape)
    # per-minute multiplicative noise, AR(1) in log space
    eps = rng.normal(0.0, LOAD_SHAPES[shape][3], size=DAY_S // 60)
    x = np.empty_like(eps)
    acc = 0.0
    for i, e in enumerate(eps):
        acc = 0.9 * acc + e
        x[i] = acc
    noise = np.exp(np.repeat(x, 60))
    load = diurnal * noise
    return load / load.max()


def arrivals(n: int, load: np.ndarray, rng: np.random.Generator, day_us: int) -> np.ndarray:
    """Exactly ``n`` sorted arrival times (µs since epoch) following ``load``."""
    counts = rng.multinomial(n, load / load.sum())
    secs = np.repeat(np.arange(DAY_S, dtype=np.int64), counts)
    offs = rng.integers(0, US, size=n, dtype=np.int64)
    ts = day_us + secs * US + offs
    ts.sort(kind="stable")
    return ts


# ------------------------------------------------------------------------------ requests
def _in(t_s: np.ndarray, inc: sc.Incident | None, s: sc.Scenario) -> np.ndarray:
    if inc is None:
        return np.zeros(t_s.shape, dtype=bool)
    return (t_s >= _sec(s, inc.start)) & (t_s < _sec(s, inc.end))


def _features(rng: np.random.Generator, n: int, shift_frac: np.ndarray) -> dict[str, np.ndarray]:
    client = rng.choice(len(sc.CLIENTS), size=n, p=sc.CLIENT_P)
    res = rng.choice(len(sc.RESOLUTIONS), size=n, p=sc.RESOLUTION_P)
    width = np.array([r[0] for r in sc.RESOLUTIONS])[res]
    height = np.array([r[1] for r in sc.RESOLUTIONS])[res]
    mp = width * height / 1e6
    # the shift affects mobile clients that took the new release
    affected = (client < 2) & (rng.random(n) < shift_frac)
    brightness = np.where(affected, rng.normal(74.0, 21.0, n), rng.normal(118.0, 24.0, n))
    return {
        "brightness": np.clip(brightness, 0.0, 255.0),
        "contrast": np.clip(rng.normal(52.0, 10.0, n), 1.0, 128.0),
        "width": width,
        "height": height,
        "file_size_kb": np.exp(rng.normal(np.log(35.0 + 60.0 * mp**0.8), 0.3)),
        "jpeg_quality": rng.choice(np.array([70, 75, 80, 85, 90, 95]), size=n, p=[0.05, 0.2, 0.15, 0.3, 0.2, 0.1]),
        "client": client,
        "region": rng.choice(len(sc.REGIONS), size=n, p=sc.REGION_P),
    }


def _predict(rng: np.random.Generator, brightness: np.ndarray) -> dict[str, np.ndarray]:
    n = brightness.size
    k = len(sc.CLASSES)
    label = rng.choice(k, size=n, p=sc.CLASS_PRIOR)
    dark = np.clip((118.0 - brightness) / 40.0 - 0.3, 0.0, 1.5)
    correct = rng.random(n) < 0.935 - 0.32 * dark
    dark_idx = np.array([sc.CLASSES.index(c) for c in sc.DARK_CLASSES])
    to_dark = rng.random(n) < 0.7 * np.minimum(dark, 1.0)
    other = (label + rng.integers(1, k, size=n)) % k
    wrong_pred = np.where(to_dark, dark_idx[rng.integers(0, dark_idx.size, size=n)], other)
    wrong_pred = np.where(wrong_pred == label, other, wrong_pred)
    pred = np.where(correct, label, wrong_pred)
    # out-of-distribution (dark) images are mistaken *confidently* for dark classes
    confused = ~correct & to_dark
    conf = np.where(correct, rng.beta(11.0, 1.5, n), rng.beta(2.6, 2.4, n)) * (1.0 - 0.14 * dark)
    conf = np.where(confused, rng.beta(7.0, 1.8, n), conf)
    return {"label": label, "pred": pred, "correct": correct, "confidence": np.clip(conf, 0.01, 0.9999)}


def requests_chunk(
    rng: np.random.Generator, ts_us: np.ndarray, load: np.ndarray, s: sc.Scenario
) -> dict[str, np.ndarray]:
    """All columns of the requests arriving at ``ts_us`` (numpy arrays, codes for categories)."""
    n = ts_us.size
    t_s = (ts_us - _day_us(s)) / US
    shift = s.incident("feature_shift")
    if shift is not None:
        ramp = np.clip((t_s - _sec(s, shift.start)) / 1800.0, 0.0, 1.0) * _in(t_s, shift, s)
    else:
        ramp = np.zeros(n)
    out = _features(rng, n, 0.9 * ramp)
    out.update(_predict(rng, out["brightness"]))

    canary = next((i for i in s.incidents if i.kind in CANARY_KINDS), None)
    is_canary = _in(t_s, canary, s) & (rng.random(n) < 0.10)
    out["canary"] = is_canary
    canary_factor = float(canary.params.get("latency_factor", 1.0)) if canary is not None else 1.0

    # latency = preprocessing + queue + compute + overhead (+ rare tail)
    sec_idx = np.clip(t_s.astype(np.int64), 0, DAY_S - 1)
    rho = 0.85 * load[sec_idx]
    mp = out["width"] * out["height"] / 1e6
    pre = 1.2 + 0.9 * mp * rng.lognormal(0.0, 0.15, n)
    queue = rng.exponential(1.5 * rho / (1.0 - 0.9 * rho))
    compute = rng.lognormal(np.log(9.0), 0.18, n) * np.where(is_canary, canary_factor, 1.0)
    overhead = 0.8 + rng.exponential(0.5, n)
    tail = np.where(rng.random(n) < 0.004, rng.lognormal(np.log(35.0), 0.45, n), 0.0)
    pressure = _in(t_s, s.incident("latency_regression"), s)
    compute = np.where(pressure, compute * 1.5, compute)
    tail = np.where(pressure & (rng.random(n) < 0.12), rng.lognormal(np.log(210.0), 0.35, n), tail)
    latency = pre + queue + compute + overhead + tail

    # errors: base rate, the burst, OOMs under memory pressure
    code = np.full(n, 200, dtype=np.int64)
    u = rng.random(n)
    base_err = u < s.base_error_rate
    timeout = base_err & (rng.random(n) < 0.3)
    code = np.where(base_err, np.where(timeout, 504, 500), code)
    burst = _in(t_s, s.incident("error_burst"), s) & (rng.random(n) < 0.07)
    code = np.where(burst, 503, code)
    oom = pressure & (rng.random(n) < 0.003)
    code = np.where(oom & (code == 200), 500, code)
    latency = np.where(code == 503, rng.uniform(0.8, 3.0, n), latency)
    latency = np.where(code == 504, 1000.0 + rng.exponential(20.0, n), latency)
    err_kind = np.zeros(n, dtype=np.int64)  # 0 none, 1 internal, 2 timeout, 3 unavailable, 4 oom
    err_kind = np.where(code == 500, 1, err_kind)
    err_kind = np.where(oom & (code == 500), 4, err_kind)
    err_kind = np.where(code == 504, 2, err_kind)
    err_kind = np.where(code == 503, 3, err_kind)
    out.update(latency=latency, code=code, err_kind=err_kind)

    # user corrections, mostly of confident mistakes
    ok = code == 200
    confident = out["confidence"] >= s.confidence_threshold
    p_fix = np.where(out["correct"], 0.0005, np.where(confident, 0.16, 0.08))
    fixed = ok & (rng.random(n) < p_fix)
    fix_to = np.where(out["correct"], (out["label"] + rng.integers(1, len(sc.CLASSES), n)) % len(sc.CLASSES),
                      out["label"])
    delay = np.exp(rng.normal(np.log(900.0), 0.9, n)) * US
    out.update(fixed=fixed, fix_to=fix_to, fixed_at=ts_us + delay.astype(np.int64))
    ids = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(">u8")
    out["request_id"] = ids
    from obskit.sample.effects import apply_requests, version_of

    apply_requests(out, t_s, s, rng)
    out["version"] = version_of(t_s, out["canary"], s)
    return out


#: Incidents that bring a canary version (10% of the traffic during the incident).
CANARY_KINDS = ("canary_slower", "canary_errors", "canary_tail", "unseen_classes", "version_collapse")

_ERR_TEXT = [None, "internal server error", "inference timed out after 1000 ms",
             "model instance unavailable (restarting)", "CUDA out of memory"]


def requests_frame(cols: dict[str, np.ndarray], ts_us: np.ndarray, s: sc.Scenario) -> pl.DataFrame:
    """The request log rows as a user's front end would write them (its own field names)."""
    n = ts_us.size
    ok = cols["code"] == 200
    classes = pl.Series(sc.CLASSES + sc.EXTRA_CLASSES)
    ts = pl.Series("ts", ts_us // 1000 * 1000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    rid = pl.Series(cols["request_id"].view("S8").tolist(), dtype=pl.Binary).bin.encode("hex")
    version = cols["version"]
    err = pl.Series([_ERR_TEXT[k] for k in range(5)], dtype=pl.String).gather(cols["err_kind"])
    pred = classes.gather(cols["pred"])
    df = pl.DataFrame(
        {
            "ts": ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            "request_id": rid,
            "model": pl.Series([s.model] * n, dtype=pl.String),
            "model_version": version,
            "http_status": cols["code"],
            "error": err,
            "latency_ms": np.round(cols["latency"], 3),
            "pred_label": pred,
            "confidence": np.round(cols["confidence"], 4),
            "brightness": np.round(cols["brightness"], 2),
            "contrast": np.round(cols["contrast"], 2),
            "width": cols["width"],
            "height": cols["height"],
            "file_size_kb": np.round(cols["file_size_kb"], 1),
            "jpeg_quality": cols["jpeg_quality"],
            "client": pl.Series(sc.CLIENTS).gather(cols["client"]),
            "region": pl.Series(sc.REGIONS).gather(cols["region"]),
        }
    )
    return df.with_columns(
        pl.when(pl.Series(ok)).then(pl.col("pred_label")).otherwise(None).alias("pred_label"),
        pl.when(pl.Series(ok)).then(pl.col("confidence")).otherwise(None).alias("confidence"),
    )


def feedback_frame(cols: dict[str, np.ndarray], df: pl.DataFrame) -> pl.DataFrame:
    """User corrections of the chunk: request_id, corrected_label, ts."""
    mask = pl.Series(cols["fixed"])
    fixed_at = pl.Series(cols["fixed_at"] // 1000 * 1000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    return pl.DataFrame(
        {
            "request_id": df.get_column("request_id"),
            "corrected_label": pl.Series(sc.CLASSES).gather(cols["fix_to"]),
            "ts": fixed_at.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            "_t": fixed_at,
        }
    ).filter(mask)


# --------------------------------------------------------------------- prometheus state
@dataclass
class PromAccumulator:
    """Per-step (30 s) sums of what Triton and the front end would count."""

    steps: int = DAY_S // PROM_STEP_S
    success: dict[str, np.ndarray] = field(default_factory=dict)
    failure: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    duration_us: dict[str, np.ndarray] = field(default_factory=dict)
    queue_us: dict[str, np.ndarray] = field(default_factory=dict)
    compute_us: dict[str, np.ndarray] = field(default_factory=dict)
    exec_count: dict[str, np.ndarray] = field(default_factory=dict)
    buckets: dict[str, np.ndarray] = field(default_factory=dict)
    hist_sum: dict[str, np.ndarray] = field(default_factory=dict)
    summary_window: dict[int, dict[str, list[np.ndarray]]] = field(default_factory=dict)

    def _arr(self, d: dict[Any, np.ndarray], key: object, shape: tuple[int, ...] | None = None) -> np.ndarray:
        if key not in d:
            d[key] = np.zeros(shape or (self.steps,))
        return d[key]

    def add(self, cols: dict[str, np.ndarray], ts_us: np.ndarray, s: sc.Scenario,
            rng: np.random.Generator) -> None:
        t_s = (ts_us - _day_us(s)) // US
        step = np.clip(t_s // PROM_STEP_S, 0, self.steps - 1)
        versions = cols["version"]
        lat_us = cols["latency"] * 1000.0
        extra = sorted(set(np.unique(versions).tolist()) - {s.stable_version, s.canary_version})
        for v in (s.stable_version, s.canary_version, *extra):
            m = versions == v
            if not m.any():
                continue
            ok = m & (cols["code"] == 200)
            self._arr(self.success, v)[:] += np.bincount(step[ok], minlength=self.steps)
            self._arr(self.duration_us, v)[:] += np.bincount(step[m], weights=lat_us[m], minlength=self.steps)
            q_share = rng.uniform(0.05, 0.2, m.sum())
            self._arr(self.queue_us, v)[:] += np.bincount(step[m], weights=lat_us[m] * q_share, minlength=self.steps)
            self._arr(self.compute_us, v)[:] += np.bincount(
                step[m], weights=lat_us[m] * (0.85 - q_share), minlength=self.steps)
            batch = rng.choice(np.array([1, 2, 4]), size=m.sum(), p=[0.5, 0.3, 0.2])
            self._arr(self.exec_count, v)[:] += np.bincount(step[m], weights=1.0 / batch, minlength=self.steps)
            for reason, codes in (("REJECTED", (503,)), ("BACKEND", (500,)), ("OTHER", (504,))):
                f = m & np.isin(cols["code"], codes)
                self._arr(self.failure, (v, reason))[:] += np.bincount(step[f], minlength=self.steps)
            b = np.searchsorted(np.array(HIST_BUCKETS_S) * 1000.0, cols["latency"][m], side="left")
            arr = self._arr(self.buckets, v, (self.steps, len(HIST_BUCKETS_S) + 1))
            np.add.at(arr, (step[m], b), 1.0)
            self._arr(self.hist_sum, v)[:] += np.bincount(step[m], weights=cols["latency"][m] / 1000.0,
                                                          minlength=self.steps)
            # latencies of the 5 minutes before each hourly scrape, for Triton's summary quantiles
            for hour in np.unique(t_s[m] // 3600):
                edge = (hour + 1) * 3600
                w = m & (t_s >= edge - 300) & (t_s < edge)
                if w.any():
                    self.summary_window.setdefault(int(edge), {}).setdefault(v, []).append(lat_us[w])


def _cumulative(per_step: np.ndarray, reset_step: int | None) -> np.ndarray:
    """Cumulative counter per step, restarting from zero at ``reset_step`` (a Triton restart)."""
    if reset_step is None:
        return np.cumsum(per_step)
    out = np.cumsum(per_step)
    out[reset_step:] = np.cumsum(per_step[reset_step:])
    return out


def _fmt(v: float) -> str:
    if np.isnan(v):
        return "NaN"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(round(float(v), 6))


# --------------------------------------------------------------------------------- gpu
def gpu_series(s: sc.Scenario, load: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """GPU gauges every ``GPU_STEP_S`` seconds, driven by load and the memory incident."""
    t = np.arange(0, DAY_S, GPU_STEP_S)
    ld = load[t]
    util = np.clip(6.0 + 74.0 * ld + rng.normal(0, 3.0, t.size), 0, 100)
    mem = 9830.0 + 420.0 * ld + rng.normal(0, 25.0, t.size)
    inc = s.incident("latency_regression")
    restart = None
    if inc is not None:
        a, b = _sec(s, inc.start), _sec(s, inc.end)
        climb_from = a - 1800.0
        frac = np.clip((t - climb_from) / (a - climb_from), 0.0, 1.0)
        peak = s.gpu_memory_total_mib * 0.98
        target = mem + frac * (peak - mem)
        mem = np.where((t >= climb_from) & (t < b), np.minimum(target + rng.normal(0, 40.0, t.size), peak + 60), mem)
        util = np.where((t >= a) & (t < b), np.clip(util + 12.0, 0, 99), util)
        restart = b
    mem = np.clip(mem, 0, s.gpu_memory_total_mib)
    power = np.clip(62.0 + 2.2 * util + rng.normal(0, 4.0, t.size), 20, s.gpu_power_limit_w)
    temp = np.round(34.0 + 0.38 * util + rng.normal(0, 0.8, t.size))
    sm_clock = np.where(util > 3, 1695.0, 210.0)
    g = {"t": t, "util": np.round(util), "mem_util": np.round(util * 0.55), "mem": np.round(mem),
         "power": power, "temp": temp, "sm": sm_clock, "restart": np.array([restart or -1.0])}
    from obskit.sample.effects import apply_gpu

    apply_gpu(g, s, rng)
    return g


def write_nvidia_smi(path: Path, s: sc.Scenario, g: dict[str, np.ndarray]) -> None:
    """Write the GPU trace as ``nvidia-smi --query-gpu=... --format=csv -l 10`` logs it."""
    header = ("timestamp, index, name, uuid, pci.bus_id, utilization.gpu [%], utilization.memory [%], "
              "memory.total [MiB], memory.used [MiB], memory.free [MiB], power.draw [W], power.limit [W], "
              "temperature.gpu, clocks.current.sm [MHz], clocks.current.memory [MHz]")
    restart = float(g["restart"][0])
    lines = [header]
    for i, t in enumerate(g["t"]):
        if restart > 0 and t >= restart and g["t"][i - 1] < restart:
            lines.append(header)  # the logger was restarted with the server: a repeated header
        when = s.day + timedelta(seconds=int(t), milliseconds=int(i * 37 % 1000))
        stamp = when.strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
        mem = g["mem"][i]
        lines.append(
            f"{stamp}, 0, {s.gpu_name}, {s.gpu_uuid}, 00000000:00:1E.0, {int(g['util'][i])} %, "
            f"{int(g['mem_util'][i])} %, {int(s.gpu_memory_total_mib)} MiB, {int(mem)} MiB, "
            f"{int(s.gpu_memory_total_mib - mem)} MiB, {g['power'][i]:.2f} W, {s.gpu_power_limit_w:.2f} W, "
            f"{int(g['temp'][i])}, {int(g['sm'][i])} MHz, 6251 MHz"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------- prometheus out
def _restart_step(s: sc.Scenario) -> int | None:
    inc = s.incident("latency_regression")
    return None if inc is None else int(_sec(s, inc.end)) // PROM_STEP_S


def write_query_range(path: Path, s: sc.Scenario, acc: PromAccumulator, g: dict[str, np.ndarray]) -> None:
    """A saved ``/api/v1/query_range`` response for ``{__name__=~"nv_.*|inference_.*"}``."""
    reset = _restart_step(s)
    t0 = int(s.day.timestamp())
    times = [t0 + (i + 1) * PROM_STEP_S for i in range(acc.steps)]
    base = {"job": "triton", "instance": "triton-0:8002", "model": s.model}
    result: list[dict[str, object]] = []

    def series(name: str, labels: dict[str, str], values: np.ndarray, active: np.ndarray | None = None) -> None:
        vals = [[times[i], _fmt(float(v))] for i, v in enumerate(values) if active is None or active[i]]
        if vals:
            result.append({"metric": {"__name__": name, **base, **labels}, "values": vals})

    for v in sorted(acc.success):
        seen = np.cumsum(acc.success[v] + sum(acc.failure.get((v, r), 0) for r in ("REJECTED", "BACKEND", "OTHER"))) > 0
        # a version's series exist from its first request until the end of the day (or its rollback)
        lab = {"version": v}
        series("nv_inference_request_success", lab, _cumulative(acc.success[v], reset), seen)
        for r in ("REJECTED", "BACKEND", "OTHER"):
            series("nv_inference_request_failure", {**lab, "reason": r}, _cumulative(acc.failure[(v, r)], reset), seen)
        total = acc.success[v] + sum(acc.failure[(v, r)] for r in ("REJECTED", "BACKEND", "OTHER"))
        series("nv_inference_count", lab, _cumulative(total, reset), seen)
        series("nv_inference_exec_count", lab, np.round(_cumulative(acc.exec_count[v], reset)), seen)
        series("nv_inference_request_duration_us", lab, np.round(_cumulative(acc.duration_us[v], reset)), seen)
        series("nv_inference_queue_duration_us", lab, np.round(_cumulative(acc.queue_us[v], reset)), seen)
        series("nv_inference_compute_infer_duration_us", lab,
               np.round(_cumulative(acc.compute_us[v], reset)), seen)
        cum_b = np.cumsum(acc.buckets[v], axis=1)
        for j, le in enumerate([*HIST_BUCKETS_S, float("inf")]):
            le_s = "+Inf" if np.isinf(le) else repr(le)
            series("inference_request_duration_seconds_bucket", {**lab, "le": le_s},
                   _cumulative(cum_b[:, j], reset), seen)
        series("inference_request_duration_seconds_count", lab, _cumulative(cum_b[:, -1], reset), seen)
        series("inference_request_duration_seconds_sum", lab, np.round(_cumulative(acc.hist_sum[v], reset), 6), seen)
    # GPU gauges sampled at the scrape step
    idx = np.clip((np.arange(acc.steps) + 1) * PROM_STEP_S // GPU_STEP_S, 0, g["t"].size - 1)
    gl = {"gpu_uuid": s.gpu_uuid}
    series("nv_gpu_utilization", gl, np.round(g["util"][idx] / 100.0, 4))
    series("nv_gpu_memory_used_bytes", gl, g["mem"][idx] * 1048576.0)
    series("nv_gpu_memory_total_bytes", gl, np.full(idx.size, s.gpu_memory_total_mib * 1048576.0))
    series("nv_gpu_power_usage", gl, np.round(g["power"][idx], 3))
    series("nv_gpu_power_limit", gl, np.full(idx.size, s.gpu_power_limit_w))
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    path.write_text(json.dumps(body, separators=(",", ":")) + "\n", encoding="utf-8")


def write_scrapes(folder: Path, s: sc.Scenario, acc: PromAccumulator, g: dict[str, np.ndarray]) -> list[Path]:
    """Hourly Triton ``/metrics`` scrapes in text format 0.0.4 (no sample timestamps)."""
    folder.mkdir(parents=True, exist_ok=True)
    reset = _restart_step(s)
    written = []
    versions = sorted(acc.success)
    cum: dict[str, dict[str, Any]] = {v: {
        "success": _cumulative(acc.success[v], reset),
        "fail": {r: _cumulative(acc.failure[(v, r)], reset) for r in ("REJECTED", "BACKEND", "OTHER")},
        "exec": np.round(_cumulative(acc.exec_count[v], reset)),
        "dur": np.round(_cumulative(acc.duration_us[v], reset)),
        "queue": np.round(_cumulative(acc.queue_us[v], reset)),
        "compute": np.round(_cumulative(acc.compute_us[v], reset)),
    } for v in versions}
    for hour in range(1, 25):
        edge = hour * 3600
        i = edge // PROM_STEP_S - 1
        gi = min(edge // GPU_STEP_S, g["t"].size - 1)
        out: list[str] = []

        def family(name: str, kind: str, help_: str, rows: list[tuple[dict[str, str], float]],
                   out: list[str] = out) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            for labels, val in rows:
                lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
                out.append(f"{name}{{{lab}}} {_fmt(val)}")

        ml = [(v, {"model": s.model, "version": v}) for v in versions]
        family("nv_inference_request_success", "counter",
               "Number of successful inference requests, all batch sizes",
               [(lab, cum[v]["success"][i]) for v, lab in ml])
        family("nv_inference_request_failure", "counter",
               "Number of failed inference requests, all batch sizes",
               [({**lab, "reason": r}, cum[v]["fail"][r][i])
                for v, lab in ml for r in ("REJECTED", "BACKEND", "OTHER")])
        family("nv_inference_count", "counter", "Number of inferences performed (does not include cached requests)",
               [(lab, cum[v]["success"][i] + sum(cum[v]["fail"][r][i] for r in cum[v]["fail"])) for v, lab in ml])
        family("nv_inference_exec_count", "counter",
               "Number of model executions performed (does not include cached requests)",
               [(lab, cum[v]["exec"][i]) for v, lab in ml])
        family("nv_inference_request_duration_us", "counter",
               "Cumulative inference request duration in microseconds (includes cached requests)",
               [(lab, cum[v]["dur"][i]) for v, lab in ml])
        family("nv_inference_queue_duration_us", "counter",
               "Cumulative inference queuing duration in microseconds (includes cached requests)",
               [(lab, cum[v]["queue"][i]) for v, lab in ml])
        family("nv_inference_compute_infer_duration_us", "counter",
               "Cumulative compute inference duration in microseconds (does not include cached requests)",
               [(lab, cum[v]["compute"][i]) for v, lab in ml])
        out.append("# HELP nv_inference_request_summary_us Summary of inference request duration in microseconds")
        out.append("# TYPE nv_inference_request_summary_us summary")
        for v, lab in ml:
            window = acc.summary_window.get(edge, {}).get(v)
            lat = np.concatenate(window) if window else np.array([])
            labs = ",".join(f'{k}="{x}"' for k, x in lab.items())
            for q in (0.5, 0.9, 0.99):
                qv = float(np.quantile(lat, q)) if lat.size else float("nan")
                out.append(f'nv_inference_request_summary_us{{{labs},quantile="{q}"}} {_fmt(round(qv, 1))}')
            out.append(f"nv_inference_request_summary_us_sum{{{labs}}} {_fmt(round(float(lat.sum()), 1))}")
            out.append(f"nv_inference_request_summary_us_count{{{labs}}} {lat.size}")
        gl = {"gpu_uuid": s.gpu_uuid}
        family("nv_gpu_utilization", "gauge", "GPU utilization rate [0.0 - 1.0)", [(gl, round(g["util"][gi] / 100, 4))])
        family("nv_gpu_memory_total_bytes", "gauge", "GPU total memory, in bytes",
               [(gl, s.gpu_memory_total_mib * 1048576.0)])
        family("nv_gpu_memory_used_bytes", "gauge", "GPU used memory, in bytes", [(gl, g["mem"][gi] * 1048576.0)])
        family("nv_gpu_power_usage", "gauge", "GPU power usage in watts", [(gl, round(float(g["power"][gi]), 3))])
        family("nv_gpu_power_limit", "gauge", "GPU power management limit in watts", [(gl, s.gpu_power_limit_w)])
        stamp = (s.day + timedelta(seconds=edge)).strftime("%Y-%m-%dT%H-%M-%SZ")
        p = folder / f"triton-{stamp}.prom"
        p.write_text("\n".join(out) + "\n", encoding="utf-8")
        written.append(p)
    return written


# ---------------------------------------------------------------------------- reference
def reference_frame(rng: np.random.Generator, n: int, s: sc.Scenario) -> pl.DataFrame:
    """Training/validation rows drawn from the pre-incident distribution."""
    f = _features(rng, n, np.zeros(n))
    p = _predict(rng, f["brightness"])
    classes = pl.Series(sc.CLASSES)
    return pl.DataFrame({
        "brightness": np.round(f["brightness"], 2),
        "contrast": np.round(f["contrast"], 2),
        "width": f["width"],
        "height": f["height"],
        "file_size_kb": np.round(f["file_size_kb"], 1),
        "jpeg_quality": f["jpeg_quality"],
        "client": pl.Series(sc.CLIENTS).gather(f["client"]),
        "region": pl.Series(sc.REGIONS).gather(f["region"]),
        "label": classes.gather(p["label"]),
        "prediction": classes.gather(p["pred"]),
        "confidence": np.round(p["confidence"], 4),
    })


# ------------------------------------------------------------------------------- driver
def _gzip_writer(path: Path) -> gzip.GzipFile:
    raw = open(path, "wb")  # noqa: SIM115 - closed with the GzipFile below
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)


def generate(
    out: str | Path,
    *,
    requests: int = DEFAULT_REQUESTS,
    seed: int = 42,
    clean: bool = False,
    day: str | None = None,
    reference_rows: int = 50_000,
    on_progress: Callable[[int, int], None] | None = None,
    scenario: str | None = None,
) -> SampleResult:
    """Write the sample day into ``out`` (see the module docstring for the files).

    Parameters
    ----------
    out
        Destination folder (created; files in it are overwritten).
    requests
        Number of requests in the day (exact).
    seed
        Random seed; the same seed gives byte-identical files.
    clean
        A day without incidents.
    day
        The date of the day (``YYYY-MM-DD``, UTC); default 2026-11-22. Another date makes the
        same kind of day for another report run (history, trends).
    reference_rows
        Size of the training reference set.
    on_progress
        Called as ``on_progress(done_requests, total)`` after each hour.
    scenario
        A day of the scenario library (:mod:`obskit.sample.library`, e.g. ``"outage"`` or
        ``"clean-weekend"``) instead of the sample day; its volume factor scales
        ``requests`` and its own seed replaces ``seed``.

    Examples
    --------
    >>> import tempfile
    >>> r = generate(tempfile.mkdtemp(), requests=2000, seed=1, reference_rows=500)
    >>> r.requests
    2000
    """
    if requests < 100:
        raise ConfigError(f"--requests must be at least 100, got {requests}")
    from datetime import UTC, datetime

    if day is None:
        start = sc.DAY
    else:
        try:
            start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        except ValueError:
            raise ConfigError(f"--day expects YYYY-MM-DD, got {day!r}") from None
    if scenario is not None:
        from obskit.sample.library import day_spec

        spec = day_spec(scenario)
        s = spec.build(start)
        requests = max(100, round(requests * spec.requests_factor))
        seed = spec.seed or seed
        clean = not s.incidents
    else:
        s = sc.default_scenario(clean=clean, day=start)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("prometheus/scrapes",):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    (out / "prometheus").mkdir(exist_ok=True)
    (out / "gpu").mkdir(exist_ok=True)

    root = np.random.SeedSequence(seed)
    s_load, s_arr, s_gpu, s_ref, s_hours = root.spawn(5)
    from obskit.sample.effects import apply_traffic

    load = load_profile(np.random.default_rng(s_load), s.load_shape)
    ts = arrivals(requests, apply_traffic(load, s), np.random.default_rng(s_arr), _day_us(s))
    hour_seeds = s_hours.spawn(24)
    acc = PromAccumulator()
    feedback: list[pl.DataFrame] = []
    hour_of = (ts - _day_us(s)) // (3600 * US)
    bounds = np.searchsorted(hour_of, np.arange(25))
    req_path = out / "requests.jsonl.gz"
    with _gzip_writer(req_path) as gz:
        for h in range(24):
            chunk = ts[bounds[h]:bounds[h + 1]]
            rng = np.random.default_rng(hour_seeds[h])
            cols = requests_chunk(rng, chunk, load, s)
            df = requests_frame(cols, chunk, s)
            buf = io.BytesIO()
            df.write_ndjson(buf)
            gz.write(buf.getvalue())
            feedback.append(feedback_frame(cols, df))
            acc.add(cols, chunk, s, rng)
            if on_progress is not None:
                on_progress(int(bounds[h + 1]), requests)
    fb = pl.concat(feedback).sort("_t", "request_id").drop("_t")
    fb_path = out / "feedback.jsonl"
    fb.write_ndjson(fb_path)

    g = gpu_series(s, load, np.random.default_rng(s_gpu))
    smi = out / "gpu" / "nvidia-smi.csv"
    write_nvidia_smi(smi, s, g)
    qr = out / "prometheus" / "query_range.json"
    write_query_range(qr, s, acc, g)
    scrapes = write_scrapes(out / "prometheus" / "scrapes", s, acc, g)

    ref_path = out / "reference.parquet"
    reference_frame(np.random.default_rng(s_ref), reference_rows, s).write_parquet(
        ref_path, compression="zstd", statistics=False
    )
    inc_path = out / "incidents.json"
    inc_path.write_text(
        json.dumps({"day": s.day.date().isoformat(), "clean": clean, "seed": seed, "requests": requests,
                    **({"scenario": scenario} if scenario is not None else {}),
                    "incidents": [i.to_json() for i in s.incidents]}, indent=2) + "\n",
        encoding="utf-8",
    )
    from obskit.sample.config_template import write_config

    cfg = write_config(out / "obskit.toml", s)
    files = [req_path, fb_path, ref_path, qr, *scrapes, smi, inc_path, cfg]
    return SampleResult(out, files, requests)
