"""Trigger templates: the fields they may name, how a field is written, how one is filled in.

A template is text with fields in braces: ``reports/daily/{date-1d}``. A field is a
name of ASCII letters, digits and ``_``, optionally followed by an offset, ``+`` or
``-`` and a duration (the grammar of ``databuild.timespec.parse_duration``):
``{date}``, ``{date-1d}``, ``{datetime+6h}``. Braces stand only for fields: a ``{`` or
``}`` outside one is an error.

The tick fields (``TICK_FIELDS``) are the tick time (a schedule's tick, or when the
partition that fired a reactive trigger became available) in the trigger's timezone,
moved by the offset: ``date`` ``2025-01-31``, ``hour`` ``02``, ``minute`` ``00``,
``datetime`` ``2025-01-31T02:00:00``. The offset moves the wall-clock time (calendar
arithmetic), so ``{date-1d}`` is the previous calendar date whatever daylight saving
time does that night. A reactive trigger's ``on`` templates
(``databuild.refs.RefTemplate``: ``raw/{date}/*``) capture fields of the partition
that landed; its other templates may name the fields every ``on`` template captures,
without an offset. A captured field hides the tick field of that name.

The checks here are what the graph manifest, and the runner through it, accept;
``rules/private/fields.bzl`` is their Starlark copy, run at ``bazel build``; ``//tests/rules:fields_parity_test`` keeps both equal.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from databuild.errors import InvalidArgumentError
from databuild.refs import RefTemplate, validate_ref
from databuild.timespec import parse_duration

#: The fields every tick provides, in the trigger's timezone.
TICK_FIELDS: tuple[str, ...] = ("date", "hour", "minute", "datetime")
#: How each tick field is written (strftime).
TICK_FORMATS: dict[str, str] = {"date": "%Y-%m-%d", "hour": "%H", "minute": "%M", "datetime": "%Y-%m-%dT%H:%M:%S"}

# A value as long as each tick field's, to check that a filled template is a valid ref;
# a captured field is at least one character.
_SAMPLES = {"date": "2025-01-01", "hour": "00", "minute": "00", "datetime": "2025-01-01T00:00:00"}
_CAPTURE_SAMPLE = "x"

_BRACES = re.compile(r"\{([^{}]*)\}|[{}]")
_FIELD = re.compile(r"([A-Za-z0-9_]+)(?:([+-])(.+))?", re.ASCII | re.DOTALL)


@dataclass(frozen=True)
class Field:
    """One ``{...}`` of a template: its name and offset (signed seconds, 0 when none)."""

    name: str
    offset_seconds: int = 0
    has_offset: bool = False


def _error(what: str, template: str, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{what} {template!r}: {problem}")


def parse_template(template: str, what: str = "template") -> list[str | Field]:
    """The literal text and fields of ``template``, in order.

    Raises InvalidArgumentError naming ``what`` and the template for a brace outside a
    field, a field that is not a name, or an offset that is not a duration.
    """
    if not isinstance(template, str):
        raise InvalidArgumentError(f"{what} must be a string, got {template!r}")
    parts: list[str | Field] = []
    at = 0
    for match in _BRACES.finditer(template):
        if match.group(1) is None:
            raise _error(what, template, f"{match.group()!r} at position {match.start()} is not part of a "
                                         "{field}; braces only enclose fields")
        parts.append(template[at:match.start()])
        parts.append(_parse_field(match.group(1), what, template))
        at = match.end()
    parts.append(template[at:])
    return [p for p in parts if p != ""]


def _parse_field(text: str, what: str, template: str) -> Field:
    match = _FIELD.fullmatch(text)
    if match is None:
        raise _error(what, template, f"{{{text}}} is not a field: write a name of letters, digits and _, "
                                     "optionally with an offset such as {date-1d}")
    name, sign, duration = match.groups()
    if sign is None:
        return Field(name)
    try:
        seconds = parse_duration(duration)
    except InvalidArgumentError as e:
        raise _error(what, template, f"offset of {{{text}}}: {e}") from None
    return Field(name, seconds if sign == "+" else -seconds, True)


def check_fields(template: str, captures: Collection[str], what: str) -> list[str | Field]:
    """``parse_template``, and each field is a tick field or one of ``captures`` (offsets: tick fields only)."""
    parts = parse_template(template, what)
    for field in parts:
        if not isinstance(field, Field):
            continue
        if field.has_offset and (field.name not in TICK_FIELDS or field.name in captures):
            captured = " (it is a captured field here)" if field.name in captures else ""
            raise _error(what, template, f"field {field.name!r} has an offset, which only the tick fields "
                                         f"{', '.join(TICK_FIELDS)} may have{captured}")
        if field.name not in TICK_FIELDS and field.name not in captures:
            captured = f"captured by every on template ({', '.join(sorted(captures))})" if captures else \
                "captured by an on template"
            raise _error(what, template, f"field {field.name!r} is neither a tick field "
                                         f"({', '.join(TICK_FIELDS)}) nor {captured}")
    return parts


def check_partitions_template(template: str, captures: Collection[str]) -> None:
    """``check_fields``, and the template filled in is a valid partition ref."""
    what = "partitions template"
    parts = check_fields(template, captures, what)
    filled = "".join(p if isinstance(p, str) else _CAPTURE_SAMPLE if p.name in captures else _SAMPLES[p.name]
                     for p in parts)
    try:
        validate_ref(filled, "once filled in it")
    except InvalidArgumentError as e:
        raise _error(what, template, str(e)) from None


def common_captures(on: Sequence[str]) -> frozenset[str]:
    """The fields every ``on`` template captures (those the other templates may name); each checked."""
    captures = [on_template_captures(t) for t in on]
    return frozenset.intersection(*captures) if captures else frozenset()


def on_template_captures(template: str) -> frozenset[str]:
    """The names an ``on`` template captures; InvalidArgumentError if it is not a ref template without offsets."""
    what = "on template"
    parts = parse_template(template, what)
    offsets = [p.name for p in parts if isinstance(p, Field) and p.has_offset]
    if offsets:
        raise _error(what, template, f"field {offsets[0]!r} has an offset; an on template captures fields as they are")
    try:
        RefTemplate(template)
    except InvalidArgumentError as e:
        raise _error(what, template, str(e)) from None
    return frozenset(p.name for p in parts if isinstance(p, Field))


def render(parts: Sequence[str | Field], wall: datetime, captures: Mapping[str, str] = {}) -> str:
    """A template checked by ``check_fields``, filled in for a tick at the naive wall-clock
    time ``wall`` and the fields an ``on`` template captured."""
    return "".join(
        p if isinstance(p, str) else captures[p.name] if p.name in captures else
        (wall + timedelta(seconds=p.offset_seconds)).strftime(TICK_FORMATS[p.name]) for p in parts)


def check_timezone(name: str) -> None:
    """Raise InvalidArgumentError naming ``name`` unless it is an IANA time zone ``zoneinfo`` knows."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"timezone must be a string, got {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown; not a relative key; too long
        raise InvalidArgumentError(f"timezone {name!r} is not an IANA time zone name such as UTC or "
                                   "Europe/Amsterdam") from None
