"""The exception tree and the canonical frames."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from obskit import errors
from obskit.schemas import FRAMES, STATUS, TIMESTAMP, check, empty, validate


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.ObskitError), name


@pytest.mark.parametrize(
    ("err", "text"),
    [
        (errors.ParseError("bad float", path="a.prom", line=3, column=7), "a.prom:3 [column 7]: bad float"),
        (errors.SourceError("file not found", path="x.csv"), "x.csv: file not found"),
        (errors.ConfigError("boom"), "boom"),
        (errors.AlertRuleError("bad comparator '=>'", rule="r1"), "alert rule 'r1': bad comparator '=>'"),
    ],
)
def test_errors_carry_fields_and_format_one_line(err: errors.ObskitError, text: str) -> None:
    assert str(err) == text
    assert "\n" not in str(err)


def test_remote_error_keeps_status_and_url() -> None:
    e = errors.RemoteError("HTTP 500", url="http://127.0.0.1:1/api", status=500)
    assert (e.status, e.url, e.path) == (500, "http://127.0.0.1:1/api", "http://127.0.0.1:1/api")


def _requests(**over: object) -> pl.DataFrame:
    base: dict[str, object] = {
        "timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2,
        "request_id": ["a", "b"],
        "model": ["m", "m"],
        "model_version": ["1", "1"],
        "latency_ms": [1.0, 2.0],
        "status": ["ok", "error"],
        "confidence": [0.5, 0.9],
    }
    base.update(over)
    return pl.DataFrame(base).with_columns(pl.col("status").cast(STATUS), pl.col("timestamp").cast(TIMESTAMP))


def test_valid_requests_frame_passes() -> None:
    assert validate(_requests(), "requests") == []
    assert check(_requests(), "requests").height == 2


def test_validate_reports_every_violation_at_once() -> None:
    df = _requests(request_id=["a", "a"], latency_ms=[-1.0, 2.0], confidence=[1.5, None]).drop("model")
    found = {(v.column, v.reason) for v in validate(df, "requests")}
    assert ("model", "missing required column") in found
    assert ("request_id", "1 duplicate values") in found
    assert ("latency_ms", "1 values outside [0, inf]") in found
    assert ("confidence", "1 values outside [0, 1]") in found
    with pytest.raises(errors.SchemaError) as exc:
        check(df, "requests")
    assert len(exc.value.violations) == 4


def test_wrong_dtype_is_reported() -> None:
    df = _requests().with_columns(pl.col("latency_ms").cast(pl.String))
    assert [str(v) for v in validate(df, "requests")] == ["latency_ms: dtype String, expected Float64"]


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_empty_frames_have_the_canonical_columns(kind: str) -> None:
    df = empty(kind)
    assert df.height == 0
    assert list(df.schema) == [c.name for c in FRAMES[kind].columns]


def test_reference_must_not_be_empty() -> None:
    assert [str(v) for v in validate(pl.DataFrame({"x": []}), "reference")] == [
        "*: frame has 0 rows, needs at least 1"
    ]


# ----------------------------------------------------------------------------- every error round-trips pickle

def _every_error() -> list[Exception]:
    from obskit import errors as e

    return [
        e.ObskitError("plain"), e.ObskitError("where", path="a.jsonl", line=3, column="latency_ms"),
        e.ConfigError("unknown key 'sorces'", path="obskit.toml"), e.SourceError("file not found", path="/x"),
        e.RemoteError("HTTP 503", url="http://127.0.0.1:9/api", status=503),
        e.ParseError("expected a number", path="m.prom", line=12, column=5),
        e.SchemaError("requests", [e.Violation("latency_ms", "missing column")], path="a.csv"),
        e.AnalysisError("empty window"), e.InvalidArgument("every: expected a duration, got '5x'"),
        e.AlertRuleError("unknown signal 'eror_rate'", rule="high-errors", path="obskit.toml"),
        e.ReportError("cell 3 failed", path="health.ipynb", cell=3),
        e.MissingDependencyError("NVML not found"),
    ]


@pytest.mark.parametrize("err", _every_error(), ids=lambda err: type(err).__name__)
def test_every_error_round_trips_pickle_with_the_same_message_and_fields(err: Exception) -> None:
    import pickle

    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.__dict__ == err.__dict__


def test_invalid_argument_is_also_a_value_error() -> None:
    from obskit.errors import InvalidArgument, ObskitError

    with pytest.raises(ValueError, match="5x"):
        raise InvalidArgument("every: got '5x'")
    assert issubclass(InvalidArgument, ObskitError)
