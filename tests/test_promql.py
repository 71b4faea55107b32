"""obskit.analyze.promql: histogram_quantile and rate/increase/delta, unit cases and
an exact comparison with a real Prometheus server."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from obskit.analyze.promql import delta, histogram_quantile, increase, rate
from obskit.errors import AnalysisError
from obskit.load.prometheus_api import PrometheusClient
from obskit.schemas import validate
from tests.prometheus_server import PrometheusServer, running_prometheus

T0 = datetime(2024, 1, 1, tzinfo=UTC)
INF = math.inf
NAN = math.nan


def _same(a: float, b: float, rel: float = 0.0) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or rel == 0.0:
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def buckets_frame(les: list[str], counts: list[float], **labels: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "timestamp": [T0] * len(les),
            "metric": "lat_bucket",
            "value": counts,
            "le": les,
            **{k: [v] * len(les) for k, v in labels.items()},
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))


# (id, q, le strings, cumulative counts, expected) — expected values follow
# Prometheus 2.x bucketQuantile; each case is also checked against the real server below.
CASES: list[tuple[str, float, list[str], list[float], float]] = [
    ("interpolate", 0.5, ["0.1", "0.2", "0.4", "+Inf"], [1, 3, 4, 4], 0.1 + (0.2 - 0.1) * (1 / 2)),
    (
        "unsorted-input",
        0.5,
        ["+Inf", "0.4", "0.1", "0.2"],
        [4, 4, 1, 3],
        0.1 + (0.2 - 0.1) * (1 / 2),
    ),
    ("first-bucket-from-zero", 0.25, ["1", "2", "+Inf"], [4, 6, 8], 1 * (2 / 4)),
    ("first-bucket-upper-le-zero", 0.1, ["-1", "0", "1", "+Inf"], [4, 5, 6, 8], -1.0),
    ("first-bucket-upper-zero", 0.1, ["0", "1", "+Inf"], [4, 6, 8], 0.0),
    ("rank-in-inf-bucket", 0.9, ["0.1", "0.2", "0.4", "+Inf"], [1, 2, 2, 10], 0.4),
    ("q-one", 1.0, ["0.1", "0.2", "+Inf"], [1, 2, 2], 0.2),
    ("q-zero", 0.0, ["1", "2", "+Inf"], [1, 2, 4], 0.0),
    ("q-zero-empty-first-bucket", 0.0, ["1", "2", "+Inf"], [0, 2, 4], NAN),
    ("no-inf-bucket", 0.5, ["0.1", "0.2", "0.4"], [1, 2, 4], NAN),
    ("only-inf-bucket", 0.5, ["+Inf"], [4], NAN),
    ("zero-observations", 0.5, ["0.1", "0.2", "+Inf"], [0, 0, 0], NAN),
    ("q-negative", -0.1, ["0.1", "+Inf"], [1, 2], -INF),
    ("q-above-one", 1.1, ["0.1", "+Inf"], [1, 2], INF),
    ("q-above-one-no-inf-bucket", 1.1, ["0.1"], [1], INF),
    ("q-nan", NAN, ["0.1", "+Inf"], [1, 2], NAN),
    (
        "non-monotonic",
        0.75,
        ["1", "2", "3", "4", "+Inf"],
        [1, 4, 2, 6, 6],
        3 + 1 * ((4.5 - 4) / (6 - 4)),
    ),
    ("non-monotonic-inf", 0.5, ["1", "2", "+Inf"], [2, 6, 4], 1 + 1 * ((3 - 2) / (6 - 2))),
    (
        "equal-bounds-merged",
        0.5,
        ["1", "1.0", "2", "+Inf"],
        [1, 1, 3, 4],
        1 + 1 * ((2 - 2) / (3 - 2)),
    ),
    ("inf-spelling", 0.5, ["1", "2", "Inf"], [1, 3, 4], 1 + 1 * ((2 - 1) / (3 - 1))),
    (
        "fractional-rates",
        0.9,
        ["0.005", "0.05", "0.5", "+Inf"],
        [0.2, 1.7, 2.9, 3.0],
        0.05 + (0.5 - 0.05) * ((0.9 * 3.0 - 1.7) / (2.9 - 1.7)),
    ),
    (
        "fractional-rates-inf-bucket",
        0.99,
        ["0.005", "0.05", "0.5", "+Inf"],
        [0.2, 1.7, 2.9, 3.0],
        0.5,
    ),
]


@pytest.mark.parametrize(("q", "les", "counts", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_histogram_quantile_cases(q: float, les: list[str], counts: list[float], expected: float) -> None:
    out = histogram_quantile(q, buckets_frame(les, [float(c) for c in counts]))
    assert out.height == 1
    assert _same(out["value"][0], expected), (out["value"][0], expected)
    assert out.columns == ["timestamp", "metric", "value", "quantile"]
    assert out["metric"][0] == "lat"
    assert validate(out, "metrics") == []


def test_histogram_quantile_vectorized_over_groups_and_times() -> None:
    frames, want = [], {}
    for i, (_, q, les, counts, _) in enumerate(c for c in CASES if c[1] == 0.5):
        f = buckets_frame(les, [float(c) for c in counts], model=f"m{i % 3}")
        f = f.with_columns(pl.col("timestamp") + timedelta(seconds=15 * i))
        frames.append(f)
        want[(T0 + timedelta(seconds=15 * i), f"m{i % 3}")] = histogram_quantile(q, f)["value"][0]
    out = histogram_quantile(0.5, pl.concat(frames))
    assert out.height == len(want)
    for ts, model, value in out.select("timestamp", "model", "value").iter_rows():
        assert _same(value, want[(ts, model)])


def test_histogram_quantile_by_sums_buckets_first() -> None:
    a = buckets_frame(["1", "2", "+Inf"], [1.0, 2.0, 2.0], model="x", pod="p1")
    b = buckets_frame(["1", "2", "+Inf"], [0.0, 3.0, 4.0], model="x", pod="p2")
    out = histogram_quantile(0.5, pl.concat([a, b]), by=["model"])
    assert out.columns == ["timestamp", "metric", "value", "model", "quantile"]
    # summed: [1, 5, 6]; rank 3 -> bucket 2: 1 + (3 - 1) / (5 - 1)
    assert out.rows() == [(T0, "lat", 1.5, "x", "0.5")]
    per_pod = histogram_quantile(0.5, pl.concat([a, b]))
    assert per_pod["pod"].to_list() == ["p1", "p2"]


def test_histogram_quantile_ignores_bad_le_and_needs_columns() -> None:
    f = buckets_frame(["1", "oops", "+Inf"], [1.0, 5.0, 2.0])
    assert histogram_quantile(0.5, f)["value"][0] == 1.0
    with pytest.raises(AnalysisError, match="le"):
        histogram_quantile(0.5, f.drop("le"))


def _counter(values: list[float], seconds: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(seconds=s) for s in seconds],
            "metric": "req_total",
            "value": values,
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))


def test_rate_unit_semantics() -> None:
    # The drop 10 -> 2 at t=45 is a reset: increase = (5 - 0) + 10 = 15.
    f = _counter([0.0, 5.0, 10.0, 2.0, 5.0], [0, 15, 30, 45, 60])
    inc = increase(f, "1m", "1m", start=T0 + timedelta(seconds=60), end=T0 + timedelta(seconds=60))
    # samples at 0 and 60 sit on the window edges: no extrapolation.
    assert _same(inc["value"][0], 15.0)
    r = rate(f, "1m", "1m", start=T0 + timedelta(seconds=60), end=T0 + timedelta(seconds=60))
    assert _same(r["value"][0], 15.0 / 60)
    # delta does not treat a decrease as a reset.
    d = delta(f, "1m", "1m", start=T0 + timedelta(seconds=60), end=T0 + timedelta(seconds=60))
    assert _same(d["value"][0], 5.0)
    # fewer than two samples in a window: no row
    one = rate(f, "10s", "15s", start=T0, end=T0 + timedelta(seconds=60))
    assert one.height == 0
    assert validate(r, "metrics") == []


def test_rate_extrapolation_rules() -> None:
    # Samples at 20, 30, 40 in a window 0..60: 20 s from either edge is more than
    # 1.1 * 10 s, so extrapolate half an interval each side: (20 + 5 + 5) / 20 * increase.
    f = _counter([100.0, 110.0, 120.0], [20, 30, 40])
    inc = increase(f, "1m", "1m", start=T0 + timedelta(seconds=60), end=T0 + timedelta(seconds=60))
    assert _same(inc["value"][0], 20.0 * (30 / 20))
    # Starting near zero: extrapolation to the start stops at the zero point.
    g = _counter([1.0, 11.0, 21.0], [5, 15, 25])
    inc = increase(g, "30s", "30s", start=T0 + timedelta(seconds=30), end=T0 + timedelta(seconds=30))
    # to_start = 5, to_zero = 20 * 1/20 = 1 -> interval = 20 + 1 + 5
    assert _same(inc["value"][0], 20.0 * (26 / 20))


def test_rate_by_sums_series() -> None:
    a = _counter([0.0, 10.0, 20.0], [0, 30, 60]).with_columns(pl.lit("a").alias("model"))
    b = _counter([0.0, 30.0, 60.0], [0, 30, 60]).with_columns(pl.lit("b").alias("model"))
    t = T0 + timedelta(seconds=60)
    per = rate(pl.concat([a, b]), "1m", "1m", start=t, end=t)
    assert per.select("model", "value").rows() == [("a", 20 / 60), ("b", 1.0)]
    total = rate(pl.concat([a, b]), "1m", "1m", start=t, end=t, by=[])
    assert total.columns == ["timestamp", "metric", "value"]
    assert _same(total["value"][0], 20 / 60 + 1.0)


# --------------------------------------------------------------------------- real server


@pytest.fixture(scope="module")
def prom() -> Iterator[PrometheusServer]:
    with running_prometheus() as server:
        yield server


def _vector_expr(les: list[str], counts: list[float]) -> str:
    parts = [f'label_replace(vector({c!r}), "le", "{le}", "", "")' for le, c in zip(les, counts, strict=True)]
    return " or ".join(parts)


@pytest.mark.prometheus
@pytest.mark.parametrize(("q", "les", "counts", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_histogram_quantile_cases_match_server(
    prom: PrometheusServer, q: float, les: list[str], counts: list[float], expected: float
) -> None:
    q_text = "NaN" if math.isnan(q) else repr(q)
    expr = f"histogram_quantile({q_text}, {_vector_expr(les, [float(c) for c in counts])})"
    server = PrometheusClient(prom.url).query(expr, time=prom.base_s)
    assert server.height == 1
    assert _same(server["value"][0], expected), (server["value"][0], expected)


def _compare(ours: pl.DataFrame, theirs: pl.DataFrame, keys: list[str], rel: float) -> int:
    a = {tuple(r[:-1]): r[-1] for r in ours.select(*keys, "value").iter_rows()}
    b = {tuple(r[:-1]): r[-1] for r in theirs.select(*keys, "value").iter_rows()}
    assert a.keys() == b.keys(), (sorted(a.keys() - b.keys())[:3], sorted(b.keys() - a.keys())[:3])
    bad = [(k, a[k], b[k]) for k in a if not _same(a[k], b[k], rel)]
    assert not bad, bad[:5]
    return len(a)


GROUPINGS = [["model"], ["model", "route"]]


@pytest.mark.prometheus
@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("group", GROUPINGS, ids=["+".join(g) for g in GROUPINGS])
def test_histogram_quantile_matches_server(prom: PrometheusServer, q: float, group: list[str]) -> None:
    client = PrometheusClient(prom.url)
    start, end, step = prom.base_s + 30, prom.base_s + 1800, "10s"
    by = ", ".join(group)
    inner = f"sum by (le, {by}) (rate(obskit_latency_seconds_bucket[1m]))"
    buckets = client.query_range(inner, start, end, step)
    theirs = client.query_range(f"histogram_quantile({q}, {inner})", start, end, step)
    ours = histogram_quantile(q, buckets, by=group)
    n = _compare(ours, theirs, ["timestamp", *group], rel=0.0)  # bit-identical
    assert n == theirs.height > 100
    if "route" in group:  # idle /health windows: zero rate -> NaN
        assert theirs["value"].is_nan().sum() > 0
    assert validate(ours, "metrics") == []


@pytest.mark.prometheus
@pytest.mark.parametrize("group", GROUPINGS, ids=["+".join(g) for g in GROUPINGS])
def test_rate_then_quantile_from_raw_buckets_matches_server(prom: PrometheusServer, group: list[str]) -> None:
    client = PrometheusClient(prom.url)
    start, end = prom.base_s + 60, prom.base_s + 1800
    raw = client.query(f"obskit_latency_seconds_bucket[{end - start + 60}s]", time=end)
    rates = rate(raw, "1m", "15s", start=start, end=end, by=["le", *group])
    by = ", ".join(group)
    for q in (0.5, 0.9, 0.99):
        theirs = client.query_range(
            f"histogram_quantile({q}, sum by (le, {by}) (rate(obskit_latency_seconds_bucket[1m])))",
            start,
            end,
            "15s",
        )
        _compare(histogram_quantile(q, rates, by=group), theirs, ["timestamp", *group], rel=1e-9)


RATE_CASES = [
    ("rate", "obskit_requests_total", "1m", "15s"),
    ("rate", "obskit_requests_total", "30s", "10s"),
    ("rate", "obskit_requests_total", "2m", "7s"),
    ("increase", "obskit_requests_total", "1m", "15s"),
    ("increase", "obskit_requests_total", "90s", "20s"),
    ("delta", "obskit_queue_depth", "1m", "15s"),
    ("rate", "obskit_latency_seconds_bucket", "1m", "30s"),
]
FUNCS = {"rate": rate, "increase": increase, "delta": delta}


@pytest.mark.prometheus
@pytest.mark.parametrize(
    ("fn", "metric", "window", "step"),
    RATE_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in RATE_CASES],
)
def test_rate_matches_server(prom: PrometheusServer, fn: str, metric: str, window: str, step: str) -> None:
    client = PrometheusClient(prom.url)
    start, end = prom.base_s + 12.345, prom.base_s + 1800
    raw = client.query(f"{metric}[1900s]", time=end)
    theirs = client.query_range(f"{fn}({metric}[{window}])", start, end, step)
    ours = FUNCS[fn](raw, window, step, start=start, end=end)
    labels = [c for c in ours.columns if c not in ("timestamp", "metric", "value")]
    n = _compare(ours, theirs, ["timestamp", *labels], rel=1e-9)
    assert n == theirs.height > 50
    assert validate(ours, "metrics") == []


@pytest.mark.prometheus
def test_rate_on_written_samples_and_sum_match_server(prom: PrometheusServer) -> None:
    """obskit on the exact samples written to the block (two resets, a gap) == server."""
    written = [s for s in prom.series if s.name == "obskit_requests_total"]
    frame = pl.DataFrame(
        {
            "timestamp": [ms for s in written for ms in s.times_ms],
            "metric": "obskit_requests_total",
            "value": [v for s in written for v in s.values],
            "model": [dict(s.labels)["model"] for s in written for _ in s.times_ms],
        }
    ).with_columns(pl.from_epoch("timestamp", time_unit="ms").dt.replace_time_zone("UTC"))
    client = PrometheusClient(prom.url)
    start, end = prom.base_s, prom.base_s + 1800
    for fn, expr in (
        ("rate", "rate(obskit_requests_total[1m])"),
        ("increase", "increase(obskit_requests_total[1m])"),
    ):
        theirs = client.query_range(expr, start, end, "5s")
        ours = FUNCS[fn](frame, "1m", "5s", start=start, end=end)
        _compare(ours, theirs, ["timestamp", "model"], rel=1e-9)
    theirs = client.query_range("sum(rate(obskit_requests_total[1m]))", start, end, "5s")
    ours = rate(frame, "1m", "5s", start=start, end=end, by=[])
    _compare(ours, theirs, ["timestamp"], rel=1e-9)
    # the reset windows really are there: the raw increase drops
    assert any(b < a for s in written for a, b in zip(s.values, s.values[1:], strict=False))
