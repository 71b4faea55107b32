"""obskit.limits: the one home of bounds; each check refuses with one line naming the key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obskit.errors import ConfigError, InvalidArgument
from obskit.limits import (
    LONGEST_PERIOD,
    MOST_WINDOWS,
    SHORTEST_WINDOW,
    check_period,
    check_windows,
    plausible_time,
    too_deep,
)
from obskit.timeutil import bounded_duration, parse_duration, parse_time

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab[]{}"\\\n\t '),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(alphabet='k[]{}"\\', max_size=3), kids,
                                                              max_size=3),
    max_leaves=30,
)


def _depth(obj: object) -> int:
    if isinstance(obj, list):
        return 1 + max((_depth(x) for x in obj), default=0)
    if isinstance(obj, dict):
        return 1 + max((_depth(x) for x in obj.values()), default=0)
    return 0


@given(_json, st.integers(min_value=0, max_value=6))
def test_too_deep_agrees_with_the_parsed_depth(obj: object, limit: int) -> None:
    text = json.dumps(obj)
    assert too_deep(text, limit=limit) == (_depth(obj) > limit)
    assert too_deep(text.encode(), limit=limit) == (_depth(obj) > limit)


def test_a_hostile_line_is_too_deep_without_recursing() -> None:
    assert too_deep('{"a":' * 100_000)
    assert too_deep("[" * 1_000_000)


@pytest.mark.parametrize(("value", "shortest", "message"), [
    ("99999999999d", None, "longer than the longest period, 400d"),
    ("1e400d", None, "invalid duration"),
    ("100000w", None, "longer than the longest period"),
    ("401d", None, "longer than the longest period"),
    ("1ms", SHORTEST_WINDOW, "shorter than the shortest window, 1s"),
    ("0.5s", SHORTEST_WINDOW, "shorter than the shortest window"),
    ("5x", None, "invalid duration '5x'"),
])
def test_durations_out_of_bounds_name_the_key(value: str, shortest: timedelta | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        bounded_duration("alerts[0].window", value, shortest=shortest)
    assert str(info.value).startswith("alerts[0].window: ")


def test_durations_within_bounds_pass() -> None:
    assert bounded_duration("w", "1s", shortest=SHORTEST_WINDOW) == timedelta(seconds=1)
    assert bounded_duration("w", "400d") == LONGEST_PERIOD


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "yesterday", "9999-12-31T23:59:59-05:00"])
def test_times_out_of_range_are_invalid_arguments(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid time"):
        parse_time(text)


def test_parse_duration_refuses_what_overflows() -> None:
    with pytest.raises(InvalidArgument, match="longer than the longest period"):
        parse_duration("99999999999d")


def test_periods_and_windows() -> None:
    t = datetime(2026, 11, 22, tzinfo=UTC)
    check_period(t - timedelta(days=30), t)
    with pytest.raises(ConfigError, match="outside the years 1990–2200"):
        check_period(datetime(1, 1, 1, tzinfo=UTC), t)
    with pytest.raises(ConfigError, match="longer than the longest period"):
        check_period(t - timedelta(days=500), t)
    assert check_windows(timedelta(days=1), timedelta(minutes=5)) == 289
    with pytest.raises(ConfigError, match=f"more than the {MOST_WINDOWS:,} allowed"):
        check_windows(timedelta(days=30), timedelta(seconds=1))
    assert plausible_time(datetime(2026, 1, 1))  # naive: UTC
    assert not plausible_time(datetime(9999, 1, 1, tzinfo=UTC))
