"""The dashboard's forms read into the service's request messages.

The want form takes what ``want create`` takes (docs/cli.md), in the same grammar:
durations by ``databuild.timespec.parse_positive_duration`` (``90s``, ``6h``, ``1h30m``,
``2d``; a TTL or SLA must be longer than zero, empty means the default / none),
timestamps by ``parse_timestamp`` (ISO 8601), refs by ``databuild.refs``. Every field is
checked, so the form shows each bad value at once, by its field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

from databuild.errors import InvalidArgumentError
from databuild.proto import databuild_pb2 as pb
from databuild.refs import validate_ref
from databuild.timespec import parse_positive_duration, parse_timestamp

#: The fields of the want form, in the order the form shows them.
WANT_FIELDS = ("partitions", "ttl", "sla", "data_timestamp", "external_dependencies", "comment")
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass
class WantForm:
    """What the user typed (shown back on error) and, per field, what is wrong with it."""

    values: dict[str, str] = field(default_factory=lambda: dict.fromkeys(WANT_FIELDS, ""))
    errors: dict[str, str] = field(default_factory=dict)


def _refs(text: str) -> list[str]:
    """Refs separated by whitespace, newlines or commas (refs hold none of these)."""
    return [validate_ref(r) for r in _SEPARATORS.split(text.strip()) if r]


def read_want_form(form: Mapping[str, str], source_name: str) -> tuple[WantForm, pb.CreateWantRequest | None]:
    """The form as typed and the want it asks for, or None with ``errors`` set by field."""
    typed = WantForm({name: str(form.get(name, "")) for name in WANT_FIELDS})
    want = pb.CreateWantRequest(source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_DASHBOARD, name=source_name),
                                comment=typed.values["comment"].strip())

    def read(name: str, parse: Callable[[str], None]) -> None:
        text = typed.values[name].strip()
        try:
            parse(text)
        except InvalidArgumentError as e:
            typed.errors[name] = str(e)

    def partitions(text: str) -> None:
        refs = _refs(text)
        if not refs:
            raise InvalidArgumentError("name at least one partition ref, e.g. report/2025-01-01")
        want.partitions.extend(refs)

    def ttl(text: str) -> None:
        if text:
            want.ttl_seconds = parse_positive_duration(text)

    def sla(text: str) -> None:
        if text:
            want.sla_seconds = parse_positive_duration(text)

    def data_timestamp(text: str) -> None:
        if text:
            want.data_timestamp.FromDatetime(parse_timestamp(text))

    def external_dependencies(text: str) -> None:
        want.external_dependencies.extend(_refs(text))

    for name, parse in (("partitions", partitions), ("ttl", ttl), ("sla", sla), ("data_timestamp", data_timestamp),
                        ("external_dependencies", external_dependencies)):
        read(name, parse)
    return typed, (None if typed.errors else want)
