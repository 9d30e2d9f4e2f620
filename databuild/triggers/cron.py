"""Cron expressions of schedule triggers, read by croniter.

``check_cron`` is what ``databuild_trigger(cron = ...)`` and the graph manifest accept:
croniter's expressions with 5 fields (minute hour day-of-month month day-of-week) or
6 (second first), its names (``MON``, ``JAN``), ``L``, ``W``, ``#`` and aliases
(``@daily``), checked strictly (a day no listed month has is refused), without its
hashed and random values (``H``, ``R``: a schedule must not depend on a seed).
``rules/private/cron.bzl`` ports the check to Starlark; ``//tests/rules:cron_parity_test``
keeps both equal.
"""

from __future__ import annotations

import re

from databuild.errors import InvalidArgumentError
from databuild.triggers.fields import check_timezone

_FIELDS = re.compile(r"\S+", re.ASCII)


def check_cron(expr: str, timezone: str) -> None:
    """Raise InvalidArgumentError naming the value unless ``expr`` is a cron DataBuild runs and
    ``timezone`` an IANA time zone (the zone the expression is read in)."""
    check_timezone(timezone)
    if not isinstance(expr, str):
        raise InvalidArgumentError(f"cron must be a string, got {expr!r}")
    fields = _FIELDS.findall(expr.lower())
    # One field is an alias (@daily), which croniter expands or refuses.
    if len(fields) != 1 and len(fields) not in (5, 6):
        raise InvalidArgumentError(
            f"invalid cron {expr!r}: has {len(fields)} fields; write 5 (minute hour day-of-month month "
            "day-of-week) or 6 (second minute hour day-of-month month day-of-week)")
    hashed = [f for f in fields if f[0] in "hr"]
    if hashed:
        raise InvalidArgumentError(
            f"invalid cron {expr!r}: field {hashed[0]!r}: hashed (H) and random (R) values are not supported")
    # Imported here: croniter (with dateutil) adds some 20 ms to every CLI call that loads a
    # graph, which graphs without schedules need not pay.
    from croniter import croniter

    try:
        croniter.expand(expr, second_at_beginning=True, strict=True)
    except ValueError as e:  # croniter's errors are ValueErrors
        raise InvalidArgumentError(f"invalid cron {expr!r}: {e}") from None
