"""Property: the fixed-layout ISO 8601 parser agrees with polars' parser value for value.

Strings are drawn in every layout the fast path reads (fractions of 0-9 digits, ``Z``,
``+hh:mm``, ``+hhmm``, naive), then some are spoiled (an impossible date, a letter for a
digit, a wrong separator). A value the fast path accepts must equal polars' reading of it;
a value it refuses must come back null, and ``parse_timestamps`` must still read it when
polars can.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.load._iso import parse_fixed_iso
from obskit.load.logs import parse_timestamps

_ZONES = ["Z", "+hh:mm", "+hhmm", ""]
_SPOILS = ["none", "none", "none", "day", "letter", "separator", "hour"]


@st.composite
def _stamp(draw: st.DrawFn) -> tuple[str, str]:
    moment = draw(st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)))
    digits = draw(st.integers(0, 9))
    zone = draw(st.sampled_from(_ZONES))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    if digits:
        text += "." + f"{moment.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    if zone == "Z":
        text += "Z"
    elif zone:
        hours, minutes = draw(st.integers(0, 23)), draw(st.integers(0, 59))
        sign = draw(st.sampled_from("+-"))
        text += f"{sign}{hours:02d}:{minutes:02d}" if zone == "+hh:mm" else f"{sign}{hours:02d}{minutes:02d}"
    spoil = draw(st.sampled_from(_SPOILS))
    if spoil == "day":
        short = text[5:7] in ("02", "04", "06", "09", "11")
        text = text[:8] + ("31" if short else "32") + text[10:]
    elif spoil == "letter":
        at = draw(st.sampled_from([0, 3, 5, 9, 12, 15, 18]))
        text = text[:at] + "x" + text[at + 1:]
    elif spoil == "separator":
        text = text[:10] + " " + text[11:]
    elif spoil == "hour":
        text = text[:11] + "24" + text[13:]
    return text, zone


def _polars(text: str, zone: str) -> dt.datetime | None:
    fmt = "%Y-%m-%dT%H:%M:%S%.f" + {"Z": "Z", "+hh:mm": "%:z", "+hhmm": "%z", "": ""}[zone]
    s = pl.Series([text])
    if zone in ("Z", ""):
        out = s.str.to_datetime(fmt, time_unit="us", strict=False).dt.replace_time_zone("UTC")
    else:
        out = s.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
    return out.item()


@settings(max_examples=60, deadline=None)
@given(st.lists(_stamp(), min_size=1, max_size=40))
def test_fixed_layouts_read_what_polars_reads(stamps: list[tuple[str, str]]) -> None:
    raw = pl.Series("ts", [t for t, _ in stamps])
    fast = parse_fixed_iso(raw)
    general = parse_timestamps(raw)
    for i, (text, zone) in enumerate(stamps):
        expected = _polars(text, zone)
        got = fast.item(i) if fast is not None else None
        assert got is None or got == expected, text
        if expected is not None:  # (the general parser also reads forms polars' strict format does not)
            assert general.item(i) == expected, text


def test_naive_values_are_left_to_the_general_parser_outside_utc() -> None:
    raw = pl.Series("ts", ["2026-03-29T02:30:00", "2026-03-29T05:30:00Z"])
    fixed = parse_fixed_iso(raw, naive=False)
    assert fixed is not None and fixed.to_list()[0] is None
    local = parse_timestamps(raw, timezone="Europe/Berlin")
    assert local.to_list()[0] is None  # skipped by the DST change: no instant
    assert local.to_list()[1] == dt.datetime(2026, 3, 29, 5, 30, tzinfo=dt.UTC)


def test_mixed_lengths_each_get_their_layout() -> None:
    values = ["2026-11-22T10:00:00Z", "2026-11-22T10:00:00.5Z", "2026-11-22T10:00:00.123456+01:00", None, "bad"]
    got = parse_fixed_iso(pl.Series("ts", values))
    assert got is not None
    assert [v.isoformat() if v else None for v in got.to_list()] == [
        "2026-11-22T10:00:00+00:00", "2026-11-22T10:00:00.500000+00:00", "2026-11-22T09:00:00.123456+00:00",
        None, None]


def test_a_decimal_comma_is_an_iso_fraction() -> None:
    """ISO 8601 allows ``14:00:00,5`` for ``14:00:00.5`` (many European loggers write it)."""
    values = ["2026-11-22T10:00:00,5Z", "2026-11-22 10:00:00,125+01:00", "2026-11-22T10:00:00.25Z"]
    got = parse_timestamps(pl.Series("ts", values))
    assert [v.isoformat() for v in got.to_list()] == [
        "2026-11-22T10:00:00.500000+00:00", "2026-11-22T09:00:00.125000+00:00", "2026-11-22T10:00:00.250000+00:00"]
