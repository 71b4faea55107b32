"""NVML sampler: a fake NVML module for the logic, real pynvml for the no-driver error."""

from __future__ import annotations

import time

import polars as pl
import pytest

from obskit.errors import MissingDependencyError
from obskit.load.nvml import NvmlSampler, sample_nvml
from obskit.schemas import check
from tests.fake_nvml import (
    NOT_SUPPORTED,
    FakeGpu,
    FakeNvml,
    NVMLError_DriverNotLoaded,
    NVMLError_GpuIsLost,
    NVMLError_LibraryNotFound,
)


def _real_gpu_present() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return False
    try:
        return pynvml.nvmlDeviceGetCount() > 0
    finally:
        pynvml.nvmlShutdown()


HAS_GPU = _real_gpu_present()


def test_values_and_units() -> None:
    nvml = FakeNvml()
    df = check(sample_nvml(duration=0.01, interval=1.0, nvml=nvml), "gpu")
    assert df.height == 1
    row = df.row(0, named=True)
    assert row["gpu"] == 0
    assert row["name"] == "NVIDIA H100 80GB HBM3"  # bytes decoded
    assert row["uuid"] == "GPU-11111111-2222-3333-4444-555555555555"
    assert row["utilization_pct"] == 38.0
    assert row["memory_utilization_pct"] == 12.0
    assert row["memory_used_mib"] == 575.0  # bytes -> MiB
    assert row["memory_total_mib"] == 81559.0
    assert row["power_w"] == pytest.approx(70.12)  # mW -> W
    assert row["power_limit_w"] == 700.0
    assert row["temperature_c"] == 41.0
    assert row["sm_clock_mhz"] == 1980.0
    assert row["mem_clock_mhz"] == 2619.0
    assert row["timestamp"].tzinfo is not None
    assert nvml.initialized == 0  # nvmlShutdown called


def test_not_supported_fields_are_null() -> None:
    mig = FakeGpu(util_gpu=NOT_SUPPORTED, power_mw=NOT_SUPPORTED, temperature=NOT_SUPPORTED)
    df = check(sample_nvml(duration=0.01, nvml=FakeNvml([mig])), "gpu")
    row = df.row(0, named=True)
    assert row["utilization_pct"] is None
    assert row["memory_utilization_pct"] is None
    assert row["power_w"] is None
    assert row["temperature_c"] is None
    assert row["memory_used_mib"] == 575.0
    assert row["power_limit_w"] == 700.0


def test_several_devices_and_device_selection() -> None:
    nvml = FakeNvml([FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b"), FakeGpu(uuid="GPU-c")])
    df = sample_nvml(duration=0.03, interval=0.01, nvml=nvml)
    assert df.height == 9  # 3 samples x 3 GPUs
    assert df["gpu"].to_list() == [0, 1, 2] * 3
    only = sample_nvml(duration=0.01, nvml=nvml, devices=[2])
    assert only["uuid"].to_list() == ["GPU-c"]
    with pytest.raises(ValueError, match="no GPU with index 5"):
        sample_nvml(duration=0.01, nvml=nvml, devices=[5])
    assert nvml.initialized == 0


def test_background_sampler_collects_and_joins() -> None:
    gpu = FakeGpu(processes=[(4242, 1542 * 1024 * 1024), (4243, None)])
    nvml = FakeNvml([gpu])
    sampler = NvmlSampler(interval=0.01, nvml=nvml).start()
    assert sampler.running
    deadline = time.monotonic() + 5
    while sampler.frame().height < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    df = sampler.stop()
    assert not sampler.running
    assert nvml.initialized == 0
    assert df.height >= 5
    check(df, "gpu")
    assert df["timestamp"].is_sorted()
    procs = check(sampler.processes(), "gpu_processes")
    assert procs.height == 2 * df.height
    first = procs.filter(pl.col("pid") == 4242).row(0, named=True)
    assert first["used_memory_mib"] == 1542.0
    assert first["process_name"] == "python-4242"
    assert first["uuid"] == gpu.uuid
    assert procs.filter(pl.col("pid") == 4243)["used_memory_mib"].null_count() > 0


def test_context_manager_and_lost_gpu_error() -> None:
    with NvmlSampler(interval=0.01, nvml=FakeNvml()) as sampler:
        time.sleep(0.05)
    assert sampler.frame().height >= 1
    assert not sampler.running

    lost = FakeNvml([FakeGpu(lost_after=2)])
    sampler = NvmlSampler(interval=0.01, nvml=lost).start()
    time.sleep(0.1)
    with pytest.raises(NVMLError_GpuIsLost):
        sampler.stop()
    assert sampler.frame().height == 2


def test_bad_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        NvmlSampler(interval=0)


@pytest.mark.parametrize(
    ("error", "words"),
    [(NVMLError_LibraryNotFound, "no NVIDIA driver"), (NVMLError_DriverNotLoaded, "not loaded")],
)
def test_fake_no_driver(error: type[Exception], words: str) -> None:
    with pytest.raises(MissingDependencyError, match=words):
        sample_nvml(duration=0.01, nvml=FakeNvml(init_error=error))
    with pytest.raises(MissingDependencyError, match=words):
        NvmlSampler(nvml=FakeNvml(init_error=error)).start()


@pytest.mark.skipif(HAS_GPU, reason="an NVIDIA GPU is present")
def test_real_pynvml_without_driver() -> None:
    with pytest.raises(MissingDependencyError) as info:
        sample_nvml(duration=0.1)
    message = str(info.value)
    assert "\n" not in message
    assert "NVIDIA driver" in message


@pytest.mark.skipif(not HAS_GPU, reason="no NVIDIA GPU on this machine")
def test_real_gpu_two_seconds() -> None:
    df = check(sample_nvml(duration=2.0, interval=0.5), "gpu")
    assert df.height >= 4
    assert df["memory_total_mib"].min() > 0  # type: ignore[operator]
    with NvmlSampler(interval=0.2) as sampler:
        time.sleep(0.5)
    check(sampler.frame(), "gpu")
    check(sampler.processes(), "gpu_processes")
