"""The Jinja2 environment of the dashboard and the filters its templates share.

Templates get the service's answers as the JSON contract's documents (``message_dict``:
short enum names, RFC 3339 times), the documents scripts see, so a page shows what
``GET /api/v1/...`` says. Times are shown absolute (UTC) and relative to ``now_us``,
the service's clock at render time (injected in tests).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
import jinja2

from databuild.timespec import format_duration, parse_timestamp

#: Characters of an id shown in tables (the API accepts a unique prefix of 4 or more).
SHORT_ID = 8


def us_of(text: str) -> int | None:
    """Microseconds since the epoch of an RFC 3339 timestamp of the JSON contract; None if absent."""
    if not text:
        return None
    dt = parse_timestamp(text)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def relative(us: int | None, now_us: int) -> str:
    """``in 2h5m`` / ``3m ago`` / ``now``: ``us`` against the render's clock."""
    if us is None:
        return ""
    seconds = (us - now_us) / 1e6
    if abs(seconds) < 1:
        return "now"
    return f"in {format_duration(seconds)}" if seconds > 0 else f"{format_duration(-seconds)} ago"


def absolute(us: int | None) -> str:
    if us is None:
        return ""
    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def short_id(value: str) -> str:
    return value[:SHORT_ID]


def duration(seconds: int | float | None) -> str:
    return format_duration(seconds) if seconds else ""


def event_summary(event: dict) -> tuple[str, str]:
    """An event of a timeline as (its type, a one-line summary of its payload)."""
    kinds = [k for k in event if k not in ("index", "timestamp", "event_id", "schema_version")]
    kind = kinds[0] if kinds else "event"
    payload = event.get(kind) or {}
    if not isinstance(payload, dict):
        return kind, str(payload)
    if isinstance(payload.get("want"), dict):  # want_created carries the whole spec
        payload = payload["want"]
    parts = []
    for name in ("status", "build_id", "refs", "partitions", "external_dependencies", "reason", "message",
                 "requested_by", "comment"):
        value = payload.get(name)
        if value:
            parts.append(f"{name}: {', '.join(value) if isinstance(value, list) else value}")
    if not parts:
        text = json.dumps(payload, separators=(", ", ": "))
        parts.append(text if len(text) <= 200 else text[:200] + "...")
    return kind, "; ".join(parts)


def make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """The environment every page renders in: autoescaped HTML, undefined names an error
    (a template mistake shows up in the tests, not as an empty cell)."""
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(short_id=short_id, duration=duration, absolute=absolute)
    env.globals.update(us_of=us_of, relative=relative, event_summary=event_summary)
    return env
