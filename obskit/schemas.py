"""Canonical frames: the one data model every loader produces and every analysis reads.

Five frames, each a :class:`FrameSchema` (an ordered list of :class:`Column` specs with
dtype, unit and meaning):

``requests``
    One row per inference request (from request logs or OpenTelemetry spans).
``metrics``
    Long-format time series: one row per (timestamp, metric, label set) sample, one
    ``String`` column per label.
``gpu``
    One row per GPU per sample (nvidia-smi, DCGM, NVML).
``gpu_processes``
    One row per process per GPU per sample (``--query-compute-apps``, pmon, NVML).
``kernels``
    Profiler events (PyTorch/Kineto traces): CPU ops, CUDA runtime calls, kernels, copies.
``reference``
    The training set: feature columns (and optionally ``label``/``prediction``).

Times are ``Datetime("us", "UTC")``; durations carry their unit in the column name
(``latency_ms``, ``duration_us``). Extra columns are allowed everywhere (request features,
metric labels); required columns must be present with the canonical dtype.

Examples
--------
>>> import polars as pl
>>> from obskit.schemas import validate
>>> df = pl.DataFrame({"latency_ms": [-1.0]})
>>> [str(v) for v in validate(df, "requests")][:2]
['timestamp: missing required column', 'request_id: missing required column']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from obskit.errors import SchemaError, Violation

__all__ = [
    "FRAMES",
    "TIMESTAMP",
    "Column",
    "FrameSchema",
    "check",
    "empty",
    "validate",
]

TIMESTAMP = pl.Datetime("us", "UTC")
STATUS = pl.Enum(["ok", "error"])

Check = Callable[[pl.Series], str | None]


def _between(lo: float | None, hi: float | None) -> Check:
    def check(s: pl.Series) -> str | None:
        bad = 0
        if lo is not None:
            bad += int((s < lo).sum())
        if hi is not None:
            bad += int((s > hi).sum())
        if bad:
            lo_s = "-inf" if lo is None else f"{lo:g}"
            hi_s = "inf" if hi is None else f"{hi:g}"
            return f"{bad} values outside [{lo_s}, {hi_s}]"
        return None

    return check


def _unique(s: pl.Series) -> str | None:
    dup = s.len() - s.n_unique()
    return f"{dup} duplicate values" if dup else None


@dataclass(frozen=True)
class Column:
    """One column of a canonical frame."""

    name: str
    dtype: pl.DataType
    description: str
    unit: str = ""
    required: bool = True
    nullable: bool = False
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class FrameSchema:
    """A canonical frame: its columns and whether extra columns are allowed."""

    name: str
    description: str
    columns: tuple[Column, ...]
    extra_columns: str = "allowed"
    min_rows: int = 0
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        """The spec of column ``name`` (KeyError if it is not canonical)."""
        return self._by_name[name]

    @property
    def required(self) -> list[str]:
        """Names of the required columns, in canonical order."""
        return [c.name for c in self.columns if c.required]

    @property
    def polars_schema(self) -> pl.Schema:
        """The canonical columns as a :class:`polars.Schema`."""
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def describe(self) -> str:
        """A Markdown table of the columns, for docs and ``obskit schema``."""
        rows = ["| column | dtype | unit | required | meaning |", "|---|---|---|---|---|"]
        for c in self.columns:
            req = "yes" if c.required else "no"
            rows.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {req} | {c.description} |")
        return "\n".join(rows)


REQUESTS = FrameSchema(
    "requests",
    "One row per inference request. Extra columns are model input features.",
    (
        Column("timestamp", TIMESTAMP, "When the request arrived (UTC)."),
        Column("request_id", pl.String(), "Unique id of the request.", checks=(_unique,)),
        Column("model", pl.String(), "Model name as served."),
        Column("model_version", pl.String(), "Model version that served the request."),
        Column(
            "latency_ms",
            pl.Float64(),
            "End-to-end server latency.",
            unit="ms",
            checks=(_between(0, None),),
        ),
        Column("status", STATUS, "'ok' or 'error'."),
        Column("status_code", pl.Int32(), "Original HTTP/gRPC code.", required=False, nullable=True),
        Column("error", pl.String(), "Error message of a failed request.", required=False, nullable=True),
        Column("prediction", pl.String(), "Predicted class (null on error).", required=False, nullable=True),
        Column(
            "confidence",
            pl.Float64(),
            "Probability of the predicted class.",
            unit="0..1",
            required=False,
            nullable=True,
            checks=(_between(0, 1),),
        ),
        Column("label", pl.String(), "Ground truth, where known.", required=False, nullable=True),
        Column(
            "corrected_label",
            pl.String(),
            "Class a user corrected the prediction to (null: not corrected).",
            required=False,
            nullable=True,
        ),
        Column("corrected_at", TIMESTAMP, "When the correction arrived.", required=False, nullable=True),
    ),
)

METRICS = FrameSchema(
    "metrics",
    "Long-format time series; one String column per label (null where a series lacks it).",
    (
        Column("timestamp", TIMESTAMP, "Sample time (UTC)."),
        Column("metric", pl.String(), "Metric name, e.g. nv_inference_request_success."),
        Column("value", pl.Float64(), "Sample value; NaN and +-Inf are kept; null = blank (DCGM).", nullable=True),
    ),
)

GPU = FrameSchema(
    "gpu",
    "One row per GPU per sample.",
    (
        Column("timestamp", TIMESTAMP, "Sample time (UTC)."),
        Column("gpu", pl.Int32(), "GPU index on the host."),
        Column("uuid", pl.String(), "GPU UUID.", required=False, nullable=True),
        Column("name", pl.String(), "Product name.", required=False, nullable=True),
        Column(
            "utilization_pct",
            pl.Float64(),
            "Share of time a kernel was running.",
            unit="%",
            nullable=True,
            checks=(_between(0, 100),),
        ),
        Column(
            "memory_utilization_pct",
            pl.Float64(),
            "Share of time device memory was read or written.",
            unit="%",
            required=False,
            nullable=True,
            checks=(_between(0, 100),),
        ),
        Column("memory_used_mib", pl.Float64(), "Device memory used.", unit="MiB", nullable=True),
        Column("memory_total_mib", pl.Float64(), "Device memory total.", unit="MiB", nullable=True),
        Column("power_w", pl.Float64(), "Power draw.", unit="W", required=False, nullable=True),
        Column("power_limit_w", pl.Float64(), "Power limit.", unit="W", required=False, nullable=True),
        Column(
            "temperature_c", pl.Float64(), "GPU core temperature.", unit="°C", required=False, nullable=True
        ),
        Column("sm_clock_mhz", pl.Float64(), "SM clock.", unit="MHz", required=False, nullable=True),
        Column("mem_clock_mhz", pl.Float64(), "Memory clock.", unit="MHz", required=False, nullable=True),
    ),
)

GPU_PROCESSES = FrameSchema(
    "gpu_processes",
    "One row per process per GPU per sample.",
    (
        Column("timestamp", TIMESTAMP, "Sample time (UTC).", nullable=True),
        Column("gpu", pl.Int32(), "GPU index.", nullable=True),
        Column("uuid", pl.String(), "GPU UUID.", required=False, nullable=True),
        Column("pid", pl.Int64(), "Process id."),
        Column("process_name", pl.String(), "Command or process name.", required=False, nullable=True),
        Column("used_memory_mib", pl.Float64(), "Device memory used.", unit="MiB", required=False, nullable=True),
        Column("sm_pct", pl.Float64(), "SM utilization.", unit="%", required=False, nullable=True),
        Column("mem_pct", pl.Float64(), "Memory utilization.", unit="%", required=False, nullable=True),
    ),
)

KERNELS = FrameSchema(
    "kernels",
    "Profiler events from PyTorch/Kineto Chrome traces.",
    (
        Column("name", pl.String(), "Event name (op, runtime call or kernel)."),
        Column(
            "category",
            pl.String(),
            "cpu_op, cuda_runtime, kernel, gpu_memcpy, gpu_memset, python_function, user_annotation, ...",
        ),
        Column("start_us", pl.Float64(), "Start on the trace clock.", unit="us"),
        Column("duration_us", pl.Float64(), "Duration.", unit="us", checks=(_between(0, None),)),
        Column("pid", pl.String(), "Process (or device) id as in the trace.", nullable=True),
        Column("tid", pl.String(), "Thread (or stream) id as in the trace.", nullable=True),
        Column("device", pl.Int32(), "GPU index for device events.", required=False, nullable=True),
        Column("stream", pl.Int32(), "CUDA stream for device events.", required=False, nullable=True),
        Column("correlation", pl.Int64(), "Runtime-to-kernel correlation id.", required=False, nullable=True),
        Column("trace", pl.String(), "File the event came from.", required=False, nullable=True),
    ),
)

REFERENCE = FrameSchema(
    "reference",
    "The training set: feature columns, optionally label/prediction. Must not be empty.",
    (
        Column("label", pl.String(), "Training label.", required=False, nullable=True),
        Column("prediction", pl.String(), "Model prediction on the row.", required=False, nullable=True),
    ),
    min_rows=1,
)

FRAMES: dict[str, FrameSchema] = {
    s.name: s for s in (REQUESTS, METRICS, GPU, GPU_PROCESSES, KERNELS, REFERENCE)
}


def _schema(kind: str | FrameSchema) -> FrameSchema:
    if isinstance(kind, FrameSchema):
        return kind
    try:
        return FRAMES[kind]
    except KeyError:
        raise SchemaError(kind, [Violation("*", f"unknown frame kind; known: {sorted(FRAMES)}")]) from None


def _dtype_ok(actual: pl.DataType, expected: pl.DataType) -> bool:
    if isinstance(expected, pl.Enum):
        return isinstance(actual, pl.Enum) and list(actual.categories) == list(expected.categories)
    return bool(actual == expected)


def validate(frame: pl.DataFrame, kind: str | FrameSchema) -> list[Violation]:
    """Check ``frame`` against a canonical schema and return *every* violation.

    Parameters
    ----------
    frame
        The frame to check.
    kind
        ``"requests"``, ``"metrics"``, ``"gpu"``, ``"gpu_processes"``, ``"kernels"``,
        ``"reference"`` or a :class:`FrameSchema`.

    Returns
    -------
    list of Violation
        Empty when the frame conforms.

    Examples
    --------
    >>> import polars as pl
    >>> from obskit.schemas import TIMESTAMP, validate
    >>> df = pl.DataFrame({"timestamp": [None], "metric": ["up"], "value": [1.0]},
    ...                   schema={"timestamp": TIMESTAMP, "metric": pl.String, "value": pl.Float64})
    >>> [str(v) for v in validate(df, "metrics")]
    ['timestamp: 1 null values in a non-nullable column']
    """
    schema = _schema(kind)
    out: list[Violation] = []
    if frame.height < schema.min_rows:
        out.append(Violation("*", f"frame has {frame.height} rows, needs at least {schema.min_rows}"))
    for col in schema.columns:
        if col.name not in frame.columns:
            if col.required:
                out.append(Violation(col.name, "missing required column"))
            continue
        s = frame.get_column(col.name)
        if not _dtype_ok(s.dtype, col.dtype):
            out.append(Violation(col.name, f"dtype {s.dtype}, expected {col.dtype}"))
            continue
        nulls = s.null_count()
        if nulls and not col.nullable:
            out.append(Violation(col.name, f"{nulls} null values in a non-nullable column"))
        for chk in col.checks:
            msg = chk(s.drop_nulls())
            if msg:
                out.append(Violation(col.name, msg))
    return out


def check(frame: pl.DataFrame, kind: str | FrameSchema, *, path: str | None = None) -> pl.DataFrame:
    """Return ``frame`` unchanged if it conforms, else raise :class:`SchemaError` listing all violations.

    >>> import polars as pl
    >>> check(pl.DataFrame({"x": [1.0]}), "reference").height
    1
    """
    violations = validate(frame, kind)
    if violations:
        raise SchemaError(_schema(kind).name, violations, path=path)
    return frame


def empty(kind: str | FrameSchema) -> pl.DataFrame:
    """An empty frame with the canonical columns of ``kind``.

    >>> empty("metrics").columns
    ['timestamp', 'metric', 'value']
    """
    return pl.DataFrame(schema=_schema(kind).polars_schema)
