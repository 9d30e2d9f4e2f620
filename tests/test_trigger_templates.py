"""Want templates of triggers: tick fields, offsets (calendar arithmetic), captures of the on template."""

from __future__ import annotations

from datetime import datetime

import pytest

from databuild.errors import InvalidArgumentError
from databuild.triggers.templates import (
    PLACEHOLDER, TICK_FIELDS, Template, captured_fields, check_templates, on_templates,
)

WALL = datetime(2026, 3, 1, 0, 30)


def test_tick_fields_and_offsets():
    t = Template("r/{date}/{hour}{minute}/{datetime}/{date-1d}/{date+2d}/{datetime-6h}/{hour-90m}")
    assert t.render(WALL) == ("r/2026-03-01/0030/2026-03-01T00:30:00/2026-02-28/2026-03-03/2026-02-28T18:30:00/23")
    assert t.names == ("date", "hour", "minute", "datetime", "date", "date", "datetime", "hour")


def test_offsets_are_calendar_arithmetic_across_a_dst_switch():
    # The day after the spring switch in Amsterdam has no 24 h before its 00:30: {date-1d} is still the 29th.
    assert Template("r/{date-1d}").render(datetime(2026, 3, 30, 0, 30)) == "r/2026-03-29"


def test_captures_fill_their_fields_and_replace_tick_fields_of_their_name():
    t = Template("w/{date}/{color}/{hour}", ("date", "color"))
    assert t.render(WALL, {"date": "2025-12-31", "color": "red"}) == "w/2025-12-31/red/00"


def test_an_offset_of_a_captured_date_applies_to_the_captured_value():
    t = Template("w/{date-7d}", ("date",))
    assert t.render(WALL, {"date": "2026-01-03"}) == "w/2025-12-27"
    with pytest.raises(InvalidArgumentError, match="captured date 'latest' does not read as YYYY-MM-DD"):
        t.render(WALL, {"date": "latest"})


@pytest.mark.parametrize("template, fragment", [
    ("r/{nope}", "names field {nope}, which is neither a tick field nor captured"),
    ("r/{date", "has a brace that is not a placeholder"),
    ("r/{date}}", "has a brace that is not a placeholder"),
    ("r/{date-1x}", "offset of {date-1x}: invalid duration '1x'"),
    ("r/{color-1d}", "the captured field {color} cannot take an offset"),
    ("r /{date}", "does not make a valid ref"),
    ("", "must be a non-empty string"),
])
def test_bad_templates_are_refused_naming_them(template, fragment):
    with pytest.raises(InvalidArgumentError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        check_templates([template], ["raw/{date}/{color}"])


def test_the_fields_a_template_may_use_are_those_every_on_template_captures():
    assert captured_fields(on_templates(["a/{date}/{x}", "b/{x}/{date}/{y}"])) == ("date", "x")
    with pytest.raises(InvalidArgumentError, match=r"names field \{y\}"):
        check_templates(["r/{y}"], ["a/{date}/{x}", "b/{x}/{date}/{y}"])


def test_on_templates_take_no_offsets():
    with pytest.raises(InvalidArgumentError, match="on templates capture fields and take no offsets"):
        on_templates(["raw/{date-1d}"])


def test_data_timestamp_templates_are_checked_too():
    check_templates(["r/{date}"], data_timestamp="{date-1d}")
    with pytest.raises(InvalidArgumentError, match="data_timestamp template"):
        check_templates(["r/{date}"], data_timestamp="{when}")


def test_the_placeholder_grammar_is_what_the_rules_mirror():
    assert list(TICK_FIELDS) == ["date", "hour", "minute", "datetime"]
    assert PLACEHOLDER.fullmatch("{date-1d}")["offset"] == "1d"
    assert PLACEHOLDER.fullmatch("{date}")["sign"] is None
