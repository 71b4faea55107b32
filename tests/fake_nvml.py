"""A fake of the ``pynvml`` module for tests: same function names, constants and errors.

Build one with :class:`FakeGpu` specs and pass it as ``nvml=`` to the NVML sampler. Values
use NVML's units (bytes, mW, MHz, °C); a reading set to ``NOT_SUPPORTED`` raises
``NVMLError_NotSupported`` like a device that lacks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2

NOT_SUPPORTED = object()


class NVMLError(Exception):
    """Base of NVML errors; ``value`` is the nvmlReturn_t code, as in pynvml."""

    value = 999

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.value})"


class NVMLError_Uninitialized(NVMLError):
    value = 1


class NVMLError_NotSupported(NVMLError):
    value = 3


class NVMLError_NoPermission(NVMLError):
    value = 4


class NVMLError_NotFound(NVMLError):
    value = 6


class NVMLError_DriverNotLoaded(NVMLError):
    value = 9


class NVMLError_LibraryNotFound(NVMLError):
    value = 12


class NVMLError_GpuIsLost(NVMLError):
    value = 15


class NVMLError_NoData(NVMLError):
    value = 24


@dataclass
class FakeGpu:
    """One fake device; every reading may be ``NOT_SUPPORTED``."""

    name: Any = b"NVIDIA H100 80GB HBM3"
    uuid: Any = "GPU-11111111-2222-3333-4444-555555555555"
    util_gpu: Any = 38
    util_mem: Any = 12
    mem_used: Any = 575 * 1024 * 1024
    mem_total: Any = 81559 * 1024 * 1024
    power_mw: Any = 70120
    power_limit_mw: Any = 700000
    temperature: Any = 41
    sm_clock: Any = 1980
    mem_clock: Any = 2619
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes)
    lost_after: int | None = None  # raise NVMLError_GpuIsLost after this many samples


class FakeNvml:
    """Stand-in for the ``pynvml`` module (pass an instance as ``nvml=``)."""

    NVMLError = NVMLError
    NVMLError_Uninitialized = NVMLError_Uninitialized
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_NoPermission = NVMLError_NoPermission
    NVMLError_NotFound = NVMLError_NotFound
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_GpuIsLost = NVMLError_GpuIsLost
    NVMLError_NoData = NVMLError_NoData
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    NVML_CLOCK_GRAPHICS = NVML_CLOCK_GRAPHICS
    NVML_CLOCK_SM = NVML_CLOCK_SM
    NVML_CLOCK_MEM = NVML_CLOCK_MEM

    def __init__(
        self, gpus: list[FakeGpu] | None = None, init_error: type[Exception] | None = None
    ):
        self.gpus = gpus if gpus is not None else [FakeGpu()]
        self.init_error = init_error
        self.initialized = 0
        self.reads = 0

    # -- library ----------------------------------------------------------------------
    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise self.init_error()
        self.initialized += 1

    def nvmlShutdown(self) -> None:
        self._check()
        self.initialized -= 1

    def _check(self) -> None:
        if self.initialized <= 0:
            raise NVMLError_Uninitialized()

    def nvmlDeviceGetCount(self) -> int:
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        self._check()
        return self.gpus[index]

    # -- readings ---------------------------------------------------------------------
    def _value(self, gpu: FakeGpu, *values: Any) -> Any:
        self._check()
        if any(v is NOT_SUPPORTED for v in values):
            raise NVMLError_NotSupported()
        return values[0] if len(values) == 1 else values

    def nvmlDeviceGetName(self, h: FakeGpu) -> Any:
        return self._value(h, h.name)

    def nvmlDeviceGetUUID(self, h: FakeGpu) -> Any:
        return self._value(h, h.uuid)

    def nvmlDeviceGetUtilizationRates(self, h: FakeGpu) -> SimpleNamespace:
        if h.lost_after is not None and self.reads >= h.lost_after:
            raise NVMLError_GpuIsLost()
        self.reads += 1  # utilization is read once per sample: count samples here
        gpu, mem = self._value(h, h.util_gpu, h.util_mem)
        return SimpleNamespace(gpu=gpu, memory=mem)

    def nvmlDeviceGetMemoryInfo(self, h: FakeGpu) -> SimpleNamespace:
        used, total = self._value(h, h.mem_used, h.mem_total)
        return SimpleNamespace(used=used, total=total, free=total - used)

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        return int(self._value(h, h.power_mw))

    def nvmlDeviceGetEnforcedPowerLimit(self, h: FakeGpu) -> int:
        return int(self._value(h, h.power_limit_mw))

    def nvmlDeviceGetTemperature(self, h: FakeGpu, sensor: int) -> int:
        assert sensor == NVML_TEMPERATURE_GPU
        return int(self._value(h, h.temperature))

    def nvmlDeviceGetClockInfo(self, h: FakeGpu, clock: int) -> int:
        if clock == NVML_CLOCK_SM:
            return int(self._value(h, h.sm_clock))
        if clock == NVML_CLOCK_MEM:
            return int(self._value(h, h.mem_clock))
        raise NVMLError_NotSupported()

    def nvmlDeviceGetComputeRunningProcesses(self, h: FakeGpu) -> list[SimpleNamespace]:
        self._check()
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in h.processes]

    def nvmlSystemGetProcessName(self, pid: int) -> bytes:
        self._check()
        if pid < 0:
            raise NVMLError_NotFound()
        return f"python-{pid}".encode()
