"""OpenTelemetry OTLP JSON spans as a request source."""

from __future__ import annotations

from pathlib import Path

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
