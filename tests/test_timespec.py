"""databuild.timespec: durations and timestamps as users type them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from databuild.errors import InvalidArgumentError
from databuild.timespec import (
    MAX_DURATION_SECONDS,
    format_duration,
    parse_duration,
    parse_positive_duration,
    parse_timestamp,
)

UTC = timezone.utc


# --- parse_duration -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 15 * 60),
        ("6h", 6 * 3600),
        ("2d", 2 * 86400),
        ("1w", 7 * 86400),
        ("1h30m", 5400),
        ("2d12h", 2 * 86400 + 12 * 3600),
        ("1w2d3h4m5s", 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("1m30s", 90),
        ("3600", 3600),
        ("0", 0),
        ("0s", 0),
        ("0h0m", 0),
        ("007m", 7 * 60),
        ("  15m  ", 15 * 60),
        ("\t6h\n", 6 * 3600),
        (" 3600 ", 3600),
        ("90m", 90 * 60),  # a unit may exceed the next one up
        ("0" * 5000 + "1s", 1),  # leading zeros do not count towards the limit
    ],
)
def test_parse_duration_valid(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_limit_is_inclusive() -> None:
    assert parse_duration(str(MAX_DURATION_SECONDS)) == MAX_DURATION_SECONDS
    assert parse_duration(f"{MAX_DURATION_SECONDS // 86400}d") == MAX_DURATION_SECONDS


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "-5m",
        "-1",
        "5x",
        "h",
        "1.5h",
        "10 m",
        "1h 30m",
        "+5m",
        "5M",
        "30m1h",  # units out of order
        "1h1h",  # unit repeated
        "1hh",
        "m5",
        "٣s",  # non-ASCII digit
        "5ms",
        str(MAX_DURATION_SECONDS + 1),
        "36526d",  # just over 100 years
        "5300w",
        "999999999999999999999999d",
        "9" * 5000,  # beyond int()'s default digit limit
        "\u00a015m",  # only ASCII whitespace is stripped (as in Starlark)
        "15m\x1c",
    ],
)
def test_parse_duration_invalid_names_value(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_duration(text)
    assert repr(text)[:60] in str(info.value)
    assert "invalid duration" in str(info.value)


def test_parse_duration_message_is_helpful() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_duration("5x")
    assert str(info.value) == (
        "invalid duration '5x': use a number with a unit s, m, h, d or w, e.g. 90s, 15m, 6h, 2d"
    )


def test_parse_duration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_duration("nope")


def test_parse_duration_rejects_non_string() -> None:
    with pytest.raises(InvalidArgumentError):
        parse_duration(90)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["0", "0s", " 0h0m ", "000"])
def test_positive_duration_refuses_zero_naming_it(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_positive_duration(text)
    assert str(info.value) == f"invalid duration {text!r}: must be longer than zero"


def test_positive_duration_is_parse_duration_otherwise() -> None:
    assert parse_positive_duration("1s") == 1 and parse_positive_duration("1h30m") == 5400
    with pytest.raises(InvalidArgumentError, match="invalid duration '2 days'"):
        parse_positive_duration("2 days")


# --- format_duration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m30s"),
        (3599, "59m59s"),
        (3600, "1h"),
        (3661, "1h1m"),  # only the two largest units
        (5400, "1h30m"),
        (86400, "1d"),
        (93784, "1d2h"),
        (86700, "1d5m"),  # the two largest non-zero units
        (86401, "1d1s"),
        (7 * 86400, "7d"),
        (400 * 86400 + 3600, "400d1h"),
        (-90, "-1m30s"),
        (-3600, "-1h"),
        (-93784, "-1d2h"),
        (90.9, "1m30s"),
        (59.999, "59s"),
        (0.5, "0s"),
        (-0.5, "0s"),
        (-90.9, "-1m30s"),
        (-0.0, "0s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_format_duration_rejects_non_finite(value: float) -> None:
    with pytest.raises(InvalidArgumentError):
        format_duration(value)


@pytest.mark.parametrize(
    "seconds",
    [
        0,
        1,
        59,
        60,
        90,
        3600,
        5400,
        3601,
        86400,
        86400 + 12 * 3600,
        86400 + 60,
        86400 + 1,
        2 * 86400 + 3 * 60,
        10 * 86400,
        36525 * 86400,
    ],
)
def test_round_trip_when_two_units_are_exact(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(0, 3599))
def test_round_trip_below_an_hour(seconds: int) -> None:
    """Below an hour every value has at most two units."""
    assert parse_duration(format_duration(seconds)) == seconds


def test_round_trip_is_lossy_beyond_two_units() -> None:
    # 1d2h3m4s keeps only its two largest units.
    assert parse_duration(format_duration(93784)) == 93600


# --- parse_timestamp ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
        ("2026-11-25T10:00", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00Z", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00z", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00+00:00", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-25 10:00:00+02:00", datetime(2026, 11, 25, 8, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00-05:30", datetime(2026, 11, 25, 15, 30, tzinfo=UTC)),
        ("2026-11-25T01:00:00+02:00", datetime(2026, 11, 24, 23, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00.250Z", datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)),
        ("  2026-11-25T10:00Z \n", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_valid(text: str, expected: datetime) -> None:
    result = parse_timestamp(text)
    assert result == expected
    assert result.tzinfo is UTC
    assert result.utcoffset() == timedelta(0)


def test_parse_timestamp_date_is_midnight_utc() -> None:
    result = parse_timestamp("2026-11-25")
    assert (result.hour, result.minute, result.second, result.microsecond) == (0, 0, 0, 0)
    assert result.tzinfo is UTC


def test_parse_timestamp_offset_is_converted_not_dropped() -> None:
    local = parse_timestamp("2026-11-25 10:00:00+02:00")
    naive = parse_timestamp("2026-11-25 10:00:00")
    assert naive - local == timedelta(hours=2)


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "",
        "   ",
        "2026-13-01",
        "2026-11-31",
        "2026-11-25T25:00",
        "25/11/2026",
        "2026-11-25T10:00:00+25:00",
        "Z",
        "0001-01-01T00:00:00+01:00",  # out of range once moved to UTC
    ],
)
def test_parse_timestamp_invalid_names_value(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_timestamp(text)
    assert repr(text) in str(info.value)
    assert "invalid timestamp" in str(info.value)


def test_parse_timestamp_message_is_helpful() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_timestamp("yesterday")
    assert str(info.value) == (
        "invalid timestamp 'yesterday': use an ISO 8601 date or datetime, "
        "e.g. 2026-11-25 or 2026-11-25T10:00:00Z"
    )
