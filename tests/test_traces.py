"""PyTorch profiler (Kineto) Chrome traces -> kernels frame, and top_kernels."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest

from obskit.analyze.kernels import top_kernels
from obskit.errors import AnalysisError, ParseError
from obskit.load._quarantine import Quarantine, RejectedRecordsWarning
from obskit.load.traces import load_torch_trace
from obskit.schemas import check


@pytest.fixture(scope="module")
def traces(data_dir: Path) -> Path:
    return data_dir / "traces"


def test_new_schema(traces: Path) -> None:
    df = check(load_torch_trace(traces / "new_schema.json"), "kernels")
    assert df.height == 13  # X events only: no M, s, f, i
    cats = set(df["category"])
    assert {"cpu_op", "cuda_runtime", "kernel", "gpu_memcpy", "gpu_memset"} <= cats
    assert {"python_function", "user_annotation", "gpu_user_annotation", "cuda_driver"} <= cats
    assert "trace" in cats  # 'Trace' lower-cased
    k = df.filter(pl.col("correlation") == 77, pl.col("category") == "kernel").row(0, named=True)
    # ts/dur are microseconds whatever displayTimeUnit says; fractions are kept
    assert k["start_us"] == pytest.approx(130.001)
    assert k["duration_us"] == pytest.approx(42.999)
    assert (k["device"], k["stream"], k["pid"], k["tid"]) == (0, 7, "0", "7")
    assert k["external_id"] == 2
    assert k["trace"] == "new_schema.json"
    hip = df.filter(pl.col("name") == "hipMemcpyWithStream").row(0, named=True)
    assert hip["stream"] == 0  # "0x0"
    assert hip["device"] is None
    ann = df.filter(pl.col("category") == "gpu_user_annotation").row(0, named=True)
    assert (ann["device"], ann["stream"]) == (0, 7)  # from pid/tid of a device event
    cpu = df.filter(pl.col("name") == "aten::mm").row(0, named=True)
    assert (cpu["device"], cpu["stream"], cpu["correlation"]) == (None, None, None)


def test_old_schema_categories_are_normalized(traces: Path) -> None:
    df = check(load_torch_trace(traces / "old_schema.json.gz"), "kernels")
    by_name = dict(zip(df["name"], df["category"], strict=True))
    assert by_name == {
        "aten::conv2d": "cpu_op",
        "cudaLaunchKernel": "cuda_runtime",
        "implicit_convolve_sgemm": "kernel",
        "Memcpy HtoD (Pageable -> Device)": "gpu_memcpy",
        "Memset (Device)": "gpu_memset",
        "train.py(10): <module>": "python_function",
    }
    kernel = df.filter(pl.col("category") == "kernel").row(0, named=True)
    assert (kernel["stream"], kernel["correlation"], kernel["tid"]) == (7, 31, "stream 7")


def test_legacy_autograd_export(traces: Path) -> None:
    df = check(load_torch_trace(traces / "legacy_autograd.json"), "kernels")
    assert df.select("name", "category").rows() == [
        ("aten::add", "cpu_op"),
        ("add_kernel", "kernel"),
    ]


def test_bad_events_lenient_and_strict(traces: Path) -> None:
    q = Quarantine()
    df = check(load_torch_trace(traces / "bad_events.json", quarantine=q), "kernels")
    assert df["name"].to_list() == ["good_kernel"]
    reasons = q.frame()["reason"].to_list()
    assert len(reasons) == 4
    assert any("'dur'" in r for r in reasons)
    assert any("negative duration" in r for r in reasons)
    assert any("not an object" in r for r in reasons)
    assert any("'ts' is not a number" in r for r in reasons)
    assert q.stats.rows == 1 and q.stats.rejected == 4
    with pytest.warns(RejectedRecordsWarning, match="4 records rejected"):
        load_torch_trace(traces / "bad_events.json")
    with pytest.raises(ParseError, match=r"traceEvents\[1\]") as info:
        load_torch_trace(traces / "bad_events.json", strict=True)
    assert info.value.path is not None and info.value.path.endswith("bad_events.json")


def test_truncated_file(traces: Path) -> None:
    with pytest.raises(ParseError, match="invalid JSON") as info:
        load_torch_trace(traces / "truncated.json")
    assert info.value.line is not None and info.value.line > 1
    # in a folder, a truncated trace is quarantined and the others load
    q = Quarantine()
    df = load_torch_trace(traces, quarantine=q)
    assert set(df["trace"]) == {
        "new_schema.json",
        "old_schema.json.gz",
        "legacy_autograd.json",
        "bad_events.json",
    }
    assert any("unreadable trace" in r for r in q.frame()["reason"])
    with pytest.raises(ParseError):
        load_torch_trace(traces, strict=True)


def test_not_a_trace_and_empty() -> None:
    with pytest.raises(ParseError, match="traceEvents"):
        load_torch_trace(io.BytesIO(b'{"hello": 1}'))
    with pytest.raises(ParseError, match="empty"):
        load_torch_trace(io.BytesIO(b"   "))
    empty = check(load_torch_trace(io.BytesIO(b'{"traceEvents": []}')), "kernels")
    assert empty.height == 0


def test_top_kernels(traces: Path) -> None:
    df = load_torch_trace(traces / "new_schema.json")
    top = top_kernels(df, n=10)
    assert top.columns == ["name", "calls", "total_us", "mean_us", "share"]
    assert top.row(0) == pytest.approx(
        ("sm90_xmma_gemm_f16f16_f32", 2, 82.999, 41.4995, 82.999 / 99.999)
    )
    assert top["share"].sum() == pytest.approx(1.0)
    assert top_kernels(df, n=1).height == 1
    with_copies = top_kernels(df, categories=("kernel", "gpu_memcpy", "gpu_memset"))
    assert with_copies.height == 4
    assert top_kernels(df.filter(pl.col("category") == "cpu_op")).height == 0
    with pytest.raises(AnalysisError, match="duration_us"):
        top_kernels(df.drop("duration_us"))


def test_json_text_buffer() -> None:
    events = [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2, "pid": 0, "tid": 7}]
    df = load_torch_trace(io.StringIO(json.dumps(events)))
    assert df.select("device", "stream").row(0) == (0, 7)


# --- real captures -------------------------------------------------------------------

REAL_TRACES = {
    "benchmark_result_2869224_1695835535_trace.json.gz": ("ampere_sgemm_32x32_sliced1x4_tn", 79),
    "benchmark_result_924719_1679055439_trace.json.gz": (None, 0),  # kernels as cuda_profiler_range
    "mi250_minitoy_train_ROCm6_2_kineto.json.gz": ("Cijk_Alik_Bljk_SB_Bias_AS_SAV_UserArgs", 14),
    "rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz": ("void cudnn::bn_bw_1C11_kernel_new", 4350),
    "rank-34.Jul_15_10_52_41.1074.pt.trace.json.gz": (None, 0),  # CPU-only (gloo)
    "sampled_rank-0.json.gz": ("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t", 1154),
    "triton_example.json.gz": ("triton_poi_fused_add_cos_sin_0", 1),
}


@pytest.mark.parametrize("name", sorted(REAL_TRACES))
def test_real_traces(real_dir: Path, name: str) -> None:
    q = Quarantine()
    df = check(load_torch_trace(real_dir / "torch-profiler" / name, quarantine=q), "kernels")
    assert q.count == 0
    assert df.height > 0
    assert df["duration_us"].min() >= 0  # type: ignore[operator]
    assert set(df["trace"]) == {name}
    known, n_kernels = REAL_TRACES[name]
    kernels = df.filter(pl.col("category") == "kernel")
    assert kernels.height == n_kernels
    assert kernels["correlation"].null_count() == 0
    top = top_kernels(df, n=5)
    if known is None:
        assert top.height == 0
    else:
        assert any(n.startswith(known) for n in top["name"])
        assert 0 < top["share"].sum() <= 1.0 + 1e-9
        assert kernels["device"].null_count() == 0


def test_real_profiler_range_kernels(real_dir: Path) -> None:
    df = load_torch_trace(
        real_dir / "torch-profiler" / "benchmark_result_924719_1679055439_trace.json.gz"
    )
    ranges = top_kernels(df, n=100, categories=("cuda_profiler_range",))
    assert ranges.height > 0
    assert any("distribution_elementwise_grid_stride_kernel" in n for n in ranges["name"])


def test_real_folder(real_dir: Path) -> None:
    df = check(load_torch_trace(real_dir / "torch-profiler"), "kernels")
    assert df["trace"].n_unique() == len(REAL_TRACES)
