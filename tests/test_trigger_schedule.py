"""Cron schedules in a timezone: next tick, ticks in a window, newest ticks; DST in both directions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from databuild.errors import InvalidArgumentError
from databuild.triggers.schedule import Schedule, us_of, utc_of

AMS = "Europe/Amsterdam"


def at(*args: int) -> int:
    """UTC microseconds of a UTC wall time."""
    return us_of(datetime(*args, tzinfo=timezone.utc))


def iso(us: int) -> str:
    return utc_of(us).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_utc_daily_next_tick_is_strictly_after():
    s = Schedule("0 2 * * *")
    assert iso(s.next_after(at(2026, 1, 1, 1, 59, 59))) == "2026-01-01T02:00:00Z"
    assert iso(s.next_after(at(2026, 1, 1, 2))) == "2026-01-02T02:00:00Z"
    assert iso(s.next_after(at(2026, 1, 1, 2) - 1)) == "2026-01-01T02:00:00Z"


def test_six_fields_have_seconds_first():
    s = Schedule("*/15 * * * * *")
    assert [iso(t) for t in s.ticks(at(2026, 1, 1), at(2026, 1, 1, 0, 0, 45), 10)] == [
        "2026-01-01T00:00:15Z", "2026-01-01T00:00:30Z", "2026-01-01T00:00:45Z"]


def test_names_of_days_and_months():
    s = Schedule("0 9 * JAN MON")
    assert [iso(t) for t in s.ticks(at(2026, 1, 1), at(2026, 2, 1), 10)] == [
        "2026-01-05T09:00:00Z", "2026-01-12T09:00:00Z", "2026-01-19T09:00:00Z", "2026-01-26T09:00:00Z"]


def test_the_timezone_moves_the_ticks():
    # 02:00 in Amsterdam is 01:00 UTC in winter and 00:00 UTC in summer.
    s = Schedule("0 2 * * *", AMS)
    assert iso(s.next_after(at(2026, 1, 10))) == "2026-01-10T01:00:00Z"
    assert iso(s.next_after(at(2026, 7, 9, 23))) == "2026-07-10T00:00:00Z"


def test_march_a_time_the_clock_jumps_over_fires_when_it_jumps():
    # 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist that day.
    s = Schedule("30 2 * * *", AMS)
    assert [iso(t) for t in s.ticks(at(2026, 3, 27), at(2026, 3, 31), 10)] == [
        "2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]


def test_march_hourly_has_one_tick_at_the_jump():
    s = Schedule("0 * * * *", AMS)
    assert [iso(t) for t in s.ticks(at(2026, 3, 28, 23), at(2026, 3, 29, 3), 10)] == [
        "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z", "2026-03-29T03:00:00Z"]


def test_october_a_time_that_happens_twice_fires_once_the_first_time():
    # 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:30 happens at 00:30 and 01:30 UTC.
    s = Schedule("30 2 * * *", AMS)
    assert [iso(t) for t in s.ticks(at(2026, 10, 24), at(2026, 10, 27), 10)] == [
        "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    # Asked during the repeated hour (after its first 02:30), the next tick is the next day's.
    assert iso(s.next_after(at(2026, 10, 25, 1, 10))) == "2026-10-26T01:30:00Z"
    assert [iso(t) for t in s.newest(0, at(2026, 10, 25, 1, 40), 1)] == ["2026-10-25T00:30:00Z"]


def test_october_hourly_skips_the_repeated_hour():
    s = Schedule("0 * * * *", AMS)
    assert [iso(t) for t in s.ticks(at(2026, 10, 24, 23), at(2026, 10, 25, 3), 10)] == [
        "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"]


def test_newest_returns_the_last_ticks_oldest_first():
    s = Schedule("0 2 * * *")
    assert [iso(t) for t in s.newest(at(2026, 1, 1), at(2026, 1, 10, 2), 3)] == [
        "2026-01-08T02:00:00Z", "2026-01-09T02:00:00Z", "2026-01-10T02:00:00Z"]
    assert s.newest(at(2026, 1, 1, 2), at(2026, 1, 2, 1), 3) == []  # none in the window
    assert s.newest(at(2026, 1, 1), at(2026, 1, 10), 0) == []


@settings(max_examples=150, deadline=None)
@given(expr=st.sampled_from(["0 * * * *", "30 2 * * *", "*/20 1-3 * * *", "15 0,2,3 * * SUN", "0 */10 2 * * *"]),
       zone=st.sampled_from(["UTC", AMS, "America/New_York", "Australia/Lord_Howe"]),
       start=st.integers(0, 60 * 24 * 5), length=st.integers(0, 60 * 30), count=st.integers(1, 6),
       day=st.sampled_from([datetime(2026, 3, 27), datetime(2026, 10, 23), datetime(2026, 11, 30),
                            datetime(2026, 4, 3)]))
def test_newest_agrees_with_walking_forward(expr, zone, start, length, count, day):
    """Around DST switches too, in zones with 1 h and 30 min shifts, both searches give the same ticks."""
    s = Schedule(expr, zone)
    after = us_of(day.replace(tzinfo=timezone.utc) + timedelta(minutes=start))
    until = after + length * 60_000_000
    forward = s.ticks(after, until, 10_000)
    assert s.newest(after, until, count) == forward[-count:]
    assert forward == sorted(set(forward))  # strictly increasing: no tick twice


def test_a_schedule_takes_what_check_cron_accepts_and_refuses_the_rest():
    assert Schedule("@daily").next_after(at(2026, 1, 1, 0, 0, 1)) == at(2026, 1, 2)
    for expr, zone, fragment in [("0 2 * *", "UTC", "has 4 fields"), ("H 2 * * *", "UTC", "hashed (H)"),
                                 ("0 2 * * *", "Mars/Olympus", "'Mars/Olympus' is not an IANA time zone")]:
        with pytest.raises(InvalidArgumentError) as info:
            Schedule(expr, zone)
        assert fragment in str(info.value)
