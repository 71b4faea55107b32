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


def test_no_bare_value_or_type_error_is_raised_in_obskit() -> None:
    """Every bad argument is an InvalidArgument (an ObskitError and a ValueError), never a bare one."""
    import ast
    from pathlib import Path

    root = Path(errors.__file__).parent
    bare = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id in ("ValueError", "TypeError"):
                    bare.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert not bare, bare


@pytest.mark.parametrize(("call", "match"), [
    ("obskit.session:Session.open", "invalid time 'yesterday'"),
    ("obskit.analyze.serving:window_stats", "invalid duration '5x'"),
])
def test_public_functions_raise_invalid_argument(call: str, match: str, samples_dir: object) -> None:
    from pathlib import Path

    import obskit.analyze.serving as serving
    from obskit.session import Session

    with pytest.raises(errors.InvalidArgument, match=match):
        if call.endswith("Session.open"):
            Session.open(Path(str(samples_dir)) / "obskit.toml", start="yesterday")
        else:
            frame = pl.DataFrame({"timestamp": [datetime(2026, 11, 22, tzinfo=UTC)], "latency_ms": [1.0],
                                  "status": ["ok"]})
            serving.window_stats(frame, every="5x")
