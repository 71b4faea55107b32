"""OpenTelemetry OTLP JSON spans as a request source."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from obskit.errors import ParseError
from obskit.load import Quarantine
from obskit.load.otel import load_otlp_spans
from obskit.schemas import validate


def test_root_server_spans_become_requests(data_dir: Path) -> None:
    df = load_otlp_spans(data_dir / "otel" / "spans.jsonl", strict=True)
    assert validate(df, "requests") == []
    assert df["request_id"].to_list() == ["eee19b7ec3c1b174", "eee19b7ec3c1b176", "eee19b7ec3c1b177",
                                          "aaa19b7ec3c1b178"]
    assert df["latency_ms"].to_list() == [12.0, 40.0, 25.0, 15.0]
    assert df["status"].to_list() == ["ok", "error", "error", "ok"]
    assert df["error"].to_list() == [None, "model instance unavailable", "CUDA out of memory", None]
    assert df["status_code"].to_list() == [200, 503, 500, 200]
    assert set(df["model"]) == {"resnet50"} and set(df["model_version"]) == {"v1.4.0"}
    assert df["image_brightness"].to_list() == [117.5] * 4


def test_all_server_spans_when_not_root_only(data_dir: Path) -> None:
    df = load_otlp_spans(data_dir / "otel" / "spans.jsonl", root_only=False)
    assert "eee19b7ec3c1b175" not in df["request_id"].to_list()  # an internal span (kind 1)
    assert df.height == 4


def test_bad_lines_and_spans(data_dir: Path) -> None:
    path = data_dir / "otel" / "spans_bad.jsonl"
    with pytest.raises(ParseError) as exc:
        load_otlp_spans(path, strict=True)
    assert exc.value.line == 2 and "invalid JSON" in exc.value.reason
    q = Quarantine()
    df = load_otlp_spans(path, quarantine=q)
    assert df.height == 4 and q.count == 2
    assert q.frame()["line"].to_list() == [2, 4]
    assert "endTimeUnixNano is before" in q.frame()["reason"][1]


def _span_line(i: int, parent: str | None, brightness: object) -> str:
    import json

    attr = {"key": "image_brightness",
            "value": {"boolValue": brightness} if isinstance(brightness, bool) else {"doubleValue": brightness}}
    span = {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "infer", "kind": 2,
            "startTimeUnixNano": str(1_773_100_800_000_000_000 + i * 10**9),
            "endTimeUnixNano": str(1_773_100_800_000_000_000 + i * 10**9 + 20_000_000),
            "attributes": [attr], "status": {}}
    if parent:
        span["parentSpanId"] = parent
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]})


def test_spans_behind_a_gateway_say_which_option_keeps_them(tmp_path: Path) -> None:
    """Every server span has a remote parent: not an empty frame, but the reason and the option."""
    from obskit.errors import SourceError

    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(_span_line(i, "a" * 16, 1.0) for i in range(5)) + "\n")
    with pytest.raises(SourceError) as exc:
        load_otlp_spans(path)
    assert "5 have a parent span" in exc.value.reason and "root_only = false" in exc.value.reason
    assert load_otlp_spans(path, root_only=False).height == 5


def test_an_attribute_that_is_sometimes_a_bool_is_text_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(_span_line(i, None, v) for i, v in enumerate([2.5, True, 7.0, False])) + "\n")
    df = load_otlp_spans(path)
    assert df.schema["image_brightness"] == pl.String
    assert df["image_brightness"].to_list() == ["2.5", "true", "7.0", "false"]
