"""What a trigger may say (cron expressions, template fields, time zones) and how a template is filled in.

The Starlark copies (rules/private/cron.bzl, fields.bzl) are compared with these by
//tests/rules:cron_parity_test and fields_parity_test.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from databuild.errors import InvalidArgumentError
from databuild.triggers.cron import check_cron
from databuild.triggers.fields import (
    TICK_FIELDS, Field, check_fields, check_partitions_template, check_timezone, common_captures, on_template_captures,
    parse_template, render,
)


@pytest.mark.parametrize("expr", [
    "0 2 * * *", "*/15 9-17 * * MON-FRI", "30 0 2 * * *", "*/10 * * * * *", "@daily", "@HOURLY", "0 0 L * *",
    "0 0 * * mon#2", "0 0 * * L5", "0 0 15W * *", "0 0 1 jan,JUL ?", "0 0 29 2 *", "0 22 * * fri-mon",
])
def test_check_cron_accepts_croniters_expressions(expr):
    check_cron(expr, "Europe/Amsterdam")


@pytest.mark.parametrize("expr, message", [
    ("0 25 * * *", "invalid cron '0 25 * * *': [0 25 * * *] is not acceptable, out of range"),
    ("0 2 * *", "invalid cron '0 2 * *': has 4 fields; write 5 (minute hour day-of-month month day-of-week) or 6"),
    ("0 0 2 * * * 2030", "invalid cron '0 0 2 * * * 2030': has 7 fields"),
    ("H 2 * * *", "invalid cron 'H 2 * * *': field 'h': hashed (H) and random (R) values are not supported"),
    ("0 2 * * MONDAY", "invalid cron '0 2 * * MONDAY': "),
    ("0 2 31 4,6 *", "Day(s) [31] can never occur in month(s) [4, 6]"),
    ("*/0 * * * *", "step '0' in field 0 is not acceptable"),
    ("@reboot", "invalid cron '@reboot': "),
])
def test_check_cron_refuses_naming_the_expression(expr, message):
    with pytest.raises(InvalidArgumentError) as info:
        check_cron(expr, "UTC")
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["Europe/Nowhere", "utc", "", "../UTC", "/etc/localtime", "x" * 300, "a\x00b"])
def test_an_unknown_timezone_is_refused_by_name(name):
    with pytest.raises(InvalidArgumentError, match="is not an IANA time zone name such as UTC or Europe/Amsterdam"):
        check_timezone(name)
    with pytest.raises(InvalidArgumentError, match="is not an IANA time zone name"):
        check_cron("0 2 * * *", name)


def test_a_template_is_literal_text_and_fields_with_signed_offsets():
    assert parse_template("reports/{date-1d}/{hour}{datetime+1h30m}") == [
        "reports/", Field("date", -86400, True), "/", Field("hour"), Field("datetime", 5400, True)]
    assert parse_template("plain/ref") == ["plain/ref"]
    assert TICK_FIELDS == ("date", "hour", "minute", "datetime")


@pytest.mark.parametrize("template, message", [
    ("a/{date", "'{' at position 2 is not part of a {field}"),
    ("a/date}", "'}' at position 6 is not part of a {field}"),
    ("a/{{date}}", "'{' at position 2 is not part of a {field}"),
    ("a/{}", "{} is not a field"),
    ("a/{date-}", "{date-} is not a field"),
    ("a/{dätum}", "{dätum} is not a field"),
    ("a/{date-1x}", "offset of {date-1x}: invalid duration '1x'"),
])
def test_a_malformed_template_is_refused_naming_it(template, message):
    with pytest.raises(InvalidArgumentError) as info:
        parse_template(template, "partitions template")
    assert str(info.value).startswith(f"partitions template {template!r}: ") and message in str(info.value)


def test_captured_fields_hide_tick_fields_and_take_no_offsets():
    captures = on_template_captures("raw/{date}/{color}/*")
    assert captures == {"date", "color"}
    check_partitions_template("report/{date}/{color}/{hour}", captures)
    with pytest.raises(InvalidArgumentError, match="field 'date' has an offset, .* \\(it is a captured field here\\)"):
        check_fields("report/{date-1d}", captures, "partitions template")
    with pytest.raises(InvalidArgumentError, match="field 'size' is neither a tick field .* nor captured by every "
                                                   "on template \\(color, date\\)"):
        check_fields("report/{size}", captures, "partitions template")


@pytest.mark.parametrize("template, message", [
    ("raw/{date-1d}", "field 'date' has an offset; an on template captures fields as they are"),
    ("raw/{d}/{d}", "names a field twice"),
    ("raw votes/{d}", "contains whitespace"),
])
def test_a_bad_on_template_is_refused(template, message):
    with pytest.raises(InvalidArgumentError, match=message):
        on_template_captures(template)


WALL = datetime(2026, 3, 1, 0, 30)


def test_tick_fields_and_offsets_are_filled_in_on_the_wall_clock():
    parts = check_fields("r/{date}/{hour}{minute}/{datetime}/{date-1d}/{date+2d}/{datetime-6h}/{hour-90m}", (), "t")
    assert render(parts, WALL) == "r/2026-03-01/0030/2026-03-01T00:30:00/2026-02-28/2026-03-03/2026-02-28T18:30:00/23"


def test_offsets_are_calendar_arithmetic_across_a_dst_switch():
    # The day after the spring switch in Amsterdam has no 24 h before its 00:30: {date-1d} is still the 29th.
    assert render(check_fields("r/{date-1d}", (), "t"), datetime(2026, 3, 30, 0, 30)) == "r/2026-03-29"


def test_captures_fill_their_fields_and_hide_tick_fields_of_their_name():
    captures = common_captures(["w/{date}/{color}"])
    parts = check_fields("w/{date}/{color}/{hour}", captures, "t")
    assert render(parts, WALL, {"date": "2025-12-31", "color": "red"}) == "w/2025-12-31/red/00"


def test_the_fields_templates_may_use_are_those_every_on_template_captures():
    assert common_captures(["a/{date}/{x}", "b/{x}/{date}/{y}"]) == {"date", "x"}
    assert common_captures([]) == frozenset()
    with pytest.raises(InvalidArgumentError, match="field 'y' is neither a tick field"):
        check_fields("r/{y}", common_captures(["a/{date}/{x}", "b/{x}/{date}/{y}"]), "partitions template")
