"""Sample GPUs live through NVML (the library behind nvidia-smi) into canonical frames.

:func:`sample_nvml` samples for a fixed time and returns a ``gpu`` frame;
:class:`NvmlSampler` samples on a background thread between :meth:`~NvmlSampler.start`
and :meth:`~NvmlSampler.stop` (or as a context manager), and also records per-process
GPU memory as a ``gpu_processes`` frame.

NVML is reached through the ``pynvml`` module of ``nvidia-ml-py``. The ``nvml`` parameter
takes any object with the same functions, constants and error classes (tests pass a
fake); by default ``pynvml`` is imported. Readings an NVML device does not support
(``NVMLError_NotSupported``, e.g. utilization on a MIG-enabled GPU) are null. Units are
converted: memory bytes → MiB, power mW → W.

On a machine without an NVIDIA driver, :class:`~obskit.errors.MissingDependencyError`
says so in one line.

Examples
--------
>>> from obskit.load.nvml import sample_nvml
>>> gpu = sample_nvml(duration=2.0, interval=0.5)  # doctest: +SKIP
>>> with NvmlSampler(interval=0.5) as sampler:  # doctest: +SKIP
...     run_inference_benchmark()
>>> sampler.frame(), sampler.processes()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

import polars as pl

from obskit.errors import InvalidArgument, MissingDependencyError
from obskit.schemas import GPU, GPU_PROCESSES

__all__ = ["NvmlSampler", "sample_nvml"]

T = TypeVar("T")
_MIB = 1024 * 1024
# Per-reading errors that mean "this GPU cannot report this value" -> null.
_NULL_ERRORS = ("NVMLError_NotSupported", "NVMLError_NoData", "NVMLError_NoPermission")
_INIT_REASONS = {
    "NVMLError_LibraryNotFound": (
        "NVML library (libnvidia-ml.so / nvml.dll) not found: no NVIDIA driver is installed "
        "on this machine"
    ),
    "NVMLError_DriverNotLoaded": (
        "NVIDIA driver is not loaded (no NVIDIA GPU, or the kernel module is not running)"
    ),
    "NVMLError_NoPermission": "no permission to open the NVIDIA devices (/dev/nvidia*)",
    "NVMLError_LibRmVersionMismatch": (
        "NVML library and NVIDIA kernel driver versions differ (reboot after a driver update)"
    ),
}


class _Never(Exception):
    """Stands in for an error class a fake NVML module does not define."""


def _error(nvml: Any, name: str) -> type[BaseException]:
    cls = getattr(nvml, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else _Never


def _import_nvml(nvml: Any | None) -> Any:
    if nvml is not None:
        return nvml
    try:
        import pynvml
    except ImportError:
        raise MissingDependencyError(
            "pynvml is not importable: install nvidia-ml-py (pip install nvidia-ml-py)"
        ) from None
    return pynvml


def _init(nvml: Any) -> None:
    """nvmlInit, with a clear one-line reason when there is no usable driver."""
    try:
        nvml.nvmlInit()
    except _error(nvml, "NVMLError") as exc:
        for name, reason in _INIT_REASONS.items():
            if isinstance(exc, _error(nvml, name)):
                raise MissingDependencyError(reason) from None
        raise MissingDependencyError(f"NVML failed to initialize: {exc}") from None


def _optional(nvml: Any, read: Callable[[], T]) -> T | None:
    """``read()``, or None where the device does not support the reading."""
    nulls = tuple(_error(nvml, name) for name in _NULL_ERRORS)
    try:
        return read()
    except nulls:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class _Device:
    index: int
    handle: Any
    uuid: str | None
    name: str | None


def _open_devices(nvml: Any, devices: Sequence[int] | None) -> list[_Device]:
    count = int(nvml.nvmlDeviceGetCount())
    wanted = range(count) if devices is None else devices
    out = []
    for i in wanted:
        if not 0 <= i < count:
            raise InvalidArgument(f"no GPU with index {i} (this machine has {count})")
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        uuid = _text(_optional(nvml, partial(nvml.nvmlDeviceGetUUID, handle)))
        name = _text(_optional(nvml, partial(nvml.nvmlDeviceGetName, handle)))
        out.append(_Device(i, handle, uuid, name))
    return out


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else float(value) * factor


def _read_gpu(nvml: Any, dev: _Device, now: datetime) -> dict[str, Any]:
    """One ``gpu`` row for ``dev``."""
    h = dev.handle
    util = _optional(nvml, lambda: nvml.nvmlDeviceGetUtilizationRates(h))
    mem = _optional(nvml, lambda: nvml.nvmlDeviceGetMemoryInfo(h))
    power = _optional(nvml, lambda: nvml.nvmlDeviceGetPowerUsage(h))
    limit = _optional(nvml, lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(h))
    temp = _optional(nvml, lambda: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))
    sm = _optional(nvml, lambda: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM))
    mclk = _optional(nvml, lambda: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_MEM))
    return {
        "timestamp": now,
        "gpu": dev.index,
        "uuid": dev.uuid,
        "name": dev.name,
        "utilization_pct": None if util is None else float(util.gpu),
        "memory_utilization_pct": None if util is None else float(util.memory),
        "memory_used_mib": None if mem is None else mem.used / _MIB,
        "memory_total_mib": None if mem is None else mem.total / _MIB,
        "power_w": _scaled(power, 1e-3),
        "power_limit_w": _scaled(limit, 1e-3),
        "temperature_c": _scaled(temp, 1.0),
        "sm_clock_mhz": _scaled(sm, 1.0),
        "mem_clock_mhz": _scaled(mclk, 1.0),
    }


def _read_processes(nvml: Any, dev: _Device, now: datetime) -> list[dict[str, Any]]:
    """``gpu_processes`` rows for the compute processes on ``dev``."""
    procs = _optional(nvml, lambda: nvml.nvmlDeviceGetComputeRunningProcesses(dev.handle))
    rows = []
    for p in procs or []:
        used = getattr(p, "usedGpuMemory", None)
        name = _optional(nvml, partial(nvml.nvmlSystemGetProcessName, p.pid))
        rows.append(
            {
                "timestamp": now,
                "gpu": dev.index,
                "uuid": dev.uuid,
                "pid": int(p.pid),
                "process_name": _text(name),
                "used_memory_mib": None if used is None else used / _MIB,
                "sm_pct": None,
                "mem_pct": None,
            }
        )
    return rows


def _frame(rows: list[dict[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, orient="row")


class NvmlSampler:
    """Sample GPUs through NVML on a background thread.

    Parameters
    ----------
    interval
        Seconds between samples (the schedule does not drift with read time).
    nvml
        The NVML module; ``pynvml`` when None. Tests pass a fake with the same API.
    devices
        GPU indices to sample; all GPUs when None.
    processes
        Also record per-process GPU memory (see :meth:`processes`).

    Examples
    --------
    >>> with NvmlSampler(interval=0.5) as s:  # doctest: +SKIP
    ...     train_one_epoch()
    >>> s.frame().group_by("gpu").agg(pl.col("utilization_pct").mean())  # doctest: +SKIP
    """

    def __init__(
        self,
        interval: float = 1.0,
        nvml: Any | None = None,
        *,
        devices: Sequence[int] | None = None,
        processes: bool = True,
    ) -> None:
        if interval <= 0:
            raise InvalidArgument(f"interval must be > 0 seconds, got {interval}")
        self.interval = interval
        self._nvml_arg = nvml
        self._devices_arg = devices
        self._with_processes = processes
        self._nvml: Any = None
        self._devices: list[_Device] = []
        self._gpu_rows: list[dict[str, Any]] = []
        self._proc_rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether the background thread is sampling."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> NvmlSampler:
        """Initialize NVML and start sampling; returns ``self``.

        Raises
        ------
        MissingDependencyError
            No NVIDIA driver / NVML on this machine.
        """
        if self._thread is not None:
            raise RuntimeError("NvmlSampler already started")
        self._nvml = _import_nvml(self._nvml_arg)
        _init(self._nvml)
        try:
            self._devices = _open_devices(self._nvml, self._devices_arg)
        except BaseException:
            self._nvml.nvmlShutdown()
            raise
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="obskit-nvml", daemon=True)
        self._thread.start()
        return self

    def sample_once(self) -> None:
        """Take one sample of every device now (the thread calls this each interval)."""
        now = datetime.now(UTC)
        gpu = [_read_gpu(self._nvml, d, now) for d in self._devices]
        procs: list[dict[str, Any]] = []
        if self._with_processes:
            for d in self._devices:
                procs.extend(_read_processes(self._nvml, d, now))
        with self._lock:
            self._gpu_rows.extend(gpu)
            self._proc_rows.extend(procs)

    def _run(self) -> None:
        t0 = time.monotonic()
        k = 0
        try:
            while not self._stop.is_set():
                self.sample_once()
                k += 1
                delay = t0 + k * self.interval - time.monotonic()
                if delay < 0:  # reads took longer than the interval: skip missed slots
                    k += int(-delay // self.interval) + 1
                    delay = t0 + k * self.interval - time.monotonic()
                self._stop.wait(max(delay, 0.0))
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def stop(self) -> pl.DataFrame:
        """Stop sampling, join the thread, shut NVML down; returns :meth:`frame`.

        Raises
        ------
        Exception
            Whatever NVML error ended the sampling thread early (e.g. a lost GPU).
        """
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()
            self._nvml.nvmlShutdown()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self.frame()

    def frame(self) -> pl.DataFrame:
        """The samples so far as a ``gpu`` frame (safe to call while running)."""
        with self._lock:
            rows = list(self._gpu_rows)
        return _frame(rows, GPU.polars_schema)

    def processes(self) -> pl.DataFrame:
        """Per-process GPU memory so far as a ``gpu_processes`` frame.

        ``sm_pct``/``mem_pct`` are null: NVML reports them only as accounting statistics.
        """
        with self._lock:
            rows = list(self._proc_rows)
        return _frame(rows, GPU_PROCESSES.polars_schema)

    def __enter__(self) -> NvmlSampler:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.stop()
            return
        with contextlib.suppress(Exception):  # the body failed: its exception is the one to see
            self.stop()


def sample_nvml(
    duration: float = 5.0,
    interval: float = 1.0,
    *,
    nvml: Any | None = None,
    devices: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Sample GPUs through NVML for ``duration`` seconds, blocking; returns a ``gpu`` frame.

    Parameters
    ----------
    duration
        Seconds to sample. Samples are taken at 0, ``interval``, 2 ``interval``, ...
        before ``duration`` (at least one).
    interval
        Seconds between samples.
    nvml
        The NVML module; ``pynvml`` when None.
    devices
        GPU indices; all when None.

    Returns
    -------
    polars.DataFrame
        A ``gpu`` frame, one row per GPU per sample.

    Raises
    ------
    MissingDependencyError
        No NVIDIA driver / NVML on this machine.

    Examples
    --------
    >>> sample_nvml(duration=2, interval=1).height  # one GPU  # doctest: +SKIP
    2
    """
    if interval <= 0:
        raise InvalidArgument(f"interval must be > 0 seconds, got {interval}")
    mod = _import_nvml(nvml)
    _init(mod)
    rows: list[dict[str, Any]] = []
    try:
        devs = _open_devices(mod, devices)
        n = max(1, int(duration / interval + 0.999999))
        t0 = time.monotonic()
        for k in range(n):
            if k:
                time.sleep(max(0.0, t0 + k * interval - time.monotonic()))
            now = datetime.now(UTC)
            rows.extend(_read_gpu(mod, d, now) for d in devs)
    finally:
        mod.nvmlShutdown()
    return _frame(rows, GPU.polars_schema)
