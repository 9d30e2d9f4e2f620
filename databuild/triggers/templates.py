"""Templates of what a trigger's firing wants: partition refs and a data timestamp.

A template is text with placeholders in braces:

- tick fields, the tick time on the trigger timezone's wall clock: ``{date}``
  (``YYYY-MM-DD``), ``{hour}`` (``HH``), ``{minute}`` (``MM``), ``{datetime}``
  (``YYYY-MM-DDTHH:MM:SS``);
- a tick field with an offset, in the durations grammar of ``databuild/timespec.py``:
  ``{date-1d}``, ``{date+2d}``, ``{datetime-6h}``, ``{hour-90m}``. The offset moves the
  wall-clock time (calendar arithmetic), so ``{date-1d}`` is the previous calendar date
  whatever daylight saving time does that night;
- for a reactive trigger, the fields its ``on`` template captures (``{color}`` of
  ``raw/{date}/{color}``). A capture named like a tick field replaces it: ``{date}`` is
  then the partition's date, and an offset applies to the captured value, which must
  read as that field (``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM:SS``; only ``date`` and
  ``datetime`` captures take offsets).

``rules/private/`` checks templates at ``bazel build`` with the same field names and
placeholder syntax (``TICK_FIELDS``, ``PLACEHOLDER``); a parity test keeps them equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from databuild.errors import InvalidArgumentError
from databuild.refs import RefTemplate, validate_ref
from databuild.timespec import parse_duration

#: Tick fields and their formats (strftime), in the order the docs list them.
TICK_FIELDS: dict[str, str] = {"date": "%Y-%m-%d", "hour": "%H", "minute": "%M", "datetime": "%Y-%m-%dT%H:%M:%S"}
#: Captures that may take an offset: read back with their tick field's format.
DATED_FIELDS = ("date", "datetime")
#: One placeholder: a field name and an optional signed duration.
PLACEHOLDER = re.compile(r"\{(?P<name>\w+)(?:(?P<sign>[+-])(?P<offset>[0-9A-Za-z]+))?\}")
_SAMPLE_TICK = datetime(2000, 1, 1, 2, 0, 0)


@dataclass(frozen=True)
class _Field:
    name: str
    offset_s: int
    captured: bool


class Template:
    """One template (see the module docstring), checked when made: every placeholder names
    a tick field or one of ``captures``, offsets parse, no stray braces are left."""

    def __init__(self, text: str, captures: Sequence[str] = (), what: str = "template") -> None:
        if not isinstance(text, str) or not text:
            raise InvalidArgumentError(f"{what} must be a non-empty string, got {text!r}")
        self.text = text
        self._parts: list[str | _Field] = []
        at = 0
        for match in PLACEHOLDER.finditer(text):
            self._literal(text[at:match.start()], what)
            self._parts.append(_field(match, set(captures), text, what))
            at = match.end()
        self._literal(text[at:], what)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    def _literal(self, piece: str, what: str) -> None:
        if "{" in piece or "}" in piece:
            raise InvalidArgumentError(
                f"{what} {self.text!r} has a brace that is not a placeholder; placeholders are {{field}} or "
                f"{{field-1d}} with a field of {', '.join(TICK_FIELDS)} or a capture of the on template")
        if piece:
            self._parts.append(piece)

    @property
    def names(self) -> tuple[str, ...]:
        """The field names the template uses."""
        return tuple(p.name for p in self._parts if isinstance(p, _Field))

    def render(self, wall: datetime, captures: Mapping[str, str] = {}) -> str:
        """The text for a tick at the naive wall-clock time ``wall`` and the on template's ``captures``.

        InvalidArgumentError if a captured value an offset applies to does not read as its field."""
        return "".join(p if isinstance(p, str) else _value(p, wall, captures, self.text) for p in self._parts)


def _field(match: re.Match, captures: set[str], text: str, what: str) -> _Field:
    name, sign, offset = match["name"], match["sign"], match["offset"]
    captured = name in captures
    if not captured and name not in TICK_FIELDS:
        known = [*TICK_FIELDS, *sorted(captures - set(TICK_FIELDS))]
        raise InvalidArgumentError(f"{what} {text!r} names field {{{name}}}, which is neither a tick field nor "
                                   f"captured by the on template; known: {', '.join(known)}")
    seconds = 0
    if sign:
        try:
            seconds = parse_duration(offset) * (-1 if sign == "-" else 1)
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"{what} {text!r}: offset of {{{match[0][1:-1]}}}: {e}") from None
        if captured and name not in DATED_FIELDS:
            raise InvalidArgumentError(f"{what} {text!r}: the captured field {{{name}}} cannot take an offset "
                                       f"(only captured {' and '.join(DATED_FIELDS)} can)")
    return _Field(name, seconds, captured)


def _value(field: _Field, wall: datetime, captures: Mapping[str, str], text: str) -> str:
    if not field.captured:
        return (wall + timedelta(seconds=field.offset_s)).strftime(TICK_FIELDS[field.name])
    value = captures[field.name]
    if not field.offset_s:
        return value
    fmt = TICK_FIELDS[field.name]
    try:
        read = datetime.strptime(value, fmt)
    except ValueError:
        raise InvalidArgumentError(f"template {text!r}: the captured {field.name} {value!r} does not read as "
                                   f"{fmt.replace('%Y', 'YYYY').replace('%m', 'MM').replace('%d', 'DD')} "
                                   "(needed for its offset)") from None
    return (read + timedelta(seconds=field.offset_s)).strftime(fmt)


def on_templates(on: Sequence[str]) -> tuple[RefTemplate, ...]:
    """The ``on`` ref templates, checked (a field is ``{name}``, nothing else in braces)."""
    out = []
    for text in on:
        template = RefTemplate(text)
        if "{" in template.pattern or "}" in template.pattern:
            raise InvalidArgumentError(f"on template {text!r} has a brace that is not a field {{name}}: "
                                       "on templates capture fields and take no offsets")
        out.append(template)
    return tuple(out)


def captured_fields(on: Sequence[RefTemplate]) -> tuple[str, ...]:
    """The fields every ``on`` template captures: those a firing's templates may use."""
    if not on:
        return ()
    common = set(on[0].names).intersection(*(t.names for t in on[1:]))
    return tuple(n for n in on[0].names if n in common)


def partition_templates(partitions: Sequence[str], captures: Sequence[str] = ()) -> tuple[Template, ...]:
    """The ``partitions`` templates, checked: each renders a valid ref (tried on a sample tick)."""
    out = []
    for text in partitions:
        template = Template(text, captures, "partitions template")
        sample = template.render(_SAMPLE_TICK, {
            name: _SAMPLE_TICK.strftime(TICK_FIELDS[name]) if name in TICK_FIELDS else "x" for name in captures})
        try:
            validate_ref(sample, "partition ref")
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"partitions template {text!r} does not make a valid ref: {e}") from None
        out.append(template)
    return tuple(out)


def check_templates(partitions: Sequence[str], on: Sequence[str] = (), data_timestamp: str = "") -> None:
    """Raise InvalidArgumentError, naming the value, unless the templates of one trigger are valid."""
    captures = captured_fields(on_templates(on))
    partition_templates(partitions, captures)
    if data_timestamp:
        Template(data_timestamp, captures, "data_timestamp template")
