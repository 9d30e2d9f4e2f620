"""Durations and timestamps as users type them on the command line and in configs.

A duration is a whole number of seconds written with units ``s``, ``m``, ``h``, ``d``
and ``w`` (``90s``, ``15m``, ``6h``, ``2d``, ``1w``), compound from the largest unit
down (``1h30m``, ``2d12h``), or a bare integer of seconds (``3600``).
``rules/private/durations.bzl`` ports this grammar to Starlark for ``databuild_graph``
(``default_ttl``, ``default_sla``); ``//tests/rules:durations_parity_test`` checks
that both accept the same inputs with the same values. A timestamp is
an ISO 8601 date or datetime; naive values are taken as UTC (or in a timezone the
caller gives) and every result is a timezone-aware UTC datetime.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone, tzinfo

from databuild.errors import InvalidArgumentError

__all__ = [
    "MAX_DURATION_SECONDS",
    "format_duration",
    "parse_duration",
    "parse_positive_duration",
    "parse_timestamp",
]

_UNIT_SECONDS: dict[str, int] = {
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
}

#: Longest duration accepted by :func:`parse_duration`: 100 years of 365.25 days.
MAX_DURATION_SECONDS = 36525 * 86400
# More significant digits than this exceed MAX_DURATION_SECONDS in any unit.
_MAX_DIGITS = len(str(MAX_DURATION_SECONDS))

# One optional ``<digits><unit>`` group per unit, largest first, so each unit appears
# at most once and in descending order. ASCII digits only (``\d`` would admit other
# scripts' digits).
_DURATION_RE = re.compile(
    r"(?:(?P<w>[0-9]+)w)?(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?"
    r"(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?"
)
_BARE_SECONDS_RE = re.compile(r"[0-9]+")
# Stripped around a duration: ASCII whitespace only, a set Starlark can spell too.
_SPACE = " \t\n\r\x0b\x0c"

# Units used by format_duration, largest first. Weeks are left out on purpose:
# "10d" reads more easily than "1w3d".
_FORMAT_UNITS: tuple[tuple[str, int], ...] = (
    ("d", 86400),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
)


def _shown(text: object) -> str:
    """``repr(text)``, cut short so a pasted blob does not swamp the message."""
    if isinstance(text, str) and len(text) > 80:
        return f"{text[:80]!r}... ({len(text)} characters)"
    return repr(text)


def _duration_error(text: object, reason: str = "") -> InvalidArgumentError:
    detail = f" ({reason})" if reason else ""
    return InvalidArgumentError(
        f"invalid duration {_shown(text)}{detail}: use a number with a unit s, m, h, d or w, "
        "e.g. 90s, 15m, 6h, 2d"
    )


def parse_duration(text: str) -> int:
    """Return the number of seconds in the duration ``text``.

    Accepts ``90s``, ``15m``, ``6h``, ``2d``, ``1w``, compounds with units in
    descending order and each at most once (``1h30m``, ``2d12h``, ``1w2d3h4m5s``),
    and a bare non-negative integer meaning seconds (``"3600"``). Surrounding
    ASCII whitespace is ignored; zero is allowed (see
    :func:`parse_positive_duration` for a TTL or an SLA).

    Raises InvalidArgumentError, naming ``text``, for anything else: empty text,
    negative or fractional numbers, unknown units, a unit without a number, inner
    whitespace, or a total longer than 100 years (:data:`MAX_DURATION_SECONDS`).
    """
    if not isinstance(text, str):
        raise _duration_error(text, "not a string")
    stripped = text.strip(_SPACE)
    if not stripped:
        raise _duration_error(text, "empty")

    if _BARE_SECONDS_RE.fullmatch(stripped):
        numbers = [(stripped, 1)]
    else:
        match = _DURATION_RE.fullmatch(stripped)
        # The pattern also matches the empty string, but stripped is non-empty.
        if match is None:
            raise _duration_error(text)
        numbers = [
            (value, _UNIT_SECONDS[unit])
            for unit, value in match.groupdict().items()
            if value is not None
        ]
    # Only significant digits reach int(): it refuses strings of more than
    # sys.get_int_max_str_digits() digits, leading zeros included.
    significant = [(value.lstrip("0") or "0", size) for value, size in numbers]
    if any(len(value) > _MAX_DIGITS for value, _ in significant):
        raise _duration_error(text, "longer than 100 years")
    total = sum(int(value) * size for value, size in significant)
    if total > MAX_DURATION_SECONDS:
        raise _duration_error(text, "longer than 100 years")
    return total


def parse_positive_duration(text: str) -> int:
    """:func:`parse_duration`, refusing zero too: what a TTL or an SLA must be.

    A want's TTL or SLA of 0 would be read as "not given" and replaced by a default,
    so ``0s`` is an error naming the value rather than silently meaning something else.
    """
    seconds = parse_duration(text)
    if seconds == 0:
        raise InvalidArgumentError(f"invalid duration {_shown(text)}: must be longer than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """Return ``seconds`` in compact human form using its two largest non-zero units.

    Fractions are truncated toward zero and negative values get a leading ``-``:
    ``0 -> "0s"``, ``59 -> "59s"``, ``90 -> "1m30s"``, ``3600 -> "1h"``,
    ``93784 -> "1d2h"``, ``86700 -> "1d5m"``, ``-90 -> "-1m30s"``. Units are ``d``,
    ``h``, ``m`` and ``s`` (no weeks). The result is accepted by
    :func:`parse_duration` (for non-negative values up to its limit), and parses back
    to the same number exactly when that number has at most two non-zero units.

    Raises InvalidArgumentError for NaN and infinities.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidArgumentError(f"invalid duration {seconds!r}: expected a number of seconds")
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise InvalidArgumentError(f"invalid duration {seconds!r}: expected a finite number of seconds")

    whole = math.trunc(seconds)
    if whole == 0:
        return "0s"
    sign = "-" if whole < 0 else ""
    remaining = abs(whole)

    parts: list[str] = []
    for unit, size in _FORMAT_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
            if len(parts) == 2:
                break
    return sign + "".join(parts)


def parse_timestamp(text: str, local: tzinfo = timezone.utc) -> datetime:
    """Return the ISO 8601 date or datetime ``text`` as a timezone-aware UTC datetime.

    A date (``2026-11-25``) means midnight in ``local`` (UTC unless given); a datetime
    without an offset (``2026-11-25T10:00``) is taken in ``local``; one with an offset (``...Z``,
    ``2026-11-25 10:00:00+02:00``) is converted to UTC. Surrounding whitespace is
    ignored. Raises InvalidArgumentError, naming ``text``, if it is not such a value.
    """
    error = InvalidArgumentError(
        f"invalid timestamp {_shown(text)}: use an ISO 8601 date or datetime, "
        "e.g. 2026-11-25 or 2026-11-25T10:00:00Z"
    )
    if not isinstance(text, str):
        raise error
    stripped = text.strip()
    if not stripped:
        raise error
    # Python 3.11+ accepts a trailing "Z" itself; spelling it out keeps 3.10 working.
    if stripped[-1] in "Zz":
        stripped = stripped[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(stripped)
        if value.tzinfo is None:
            return value.replace(tzinfo=local).astimezone(timezone.utc)
        return value.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        raise error from None
