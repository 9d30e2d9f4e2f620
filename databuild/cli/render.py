"""Output: aligned tables for people, one JSON document for scripts.

Read commands render the JSON contract's documents (docs/json.md) as the service sent
them; the others render messages. Protobuf is imported only by what renders messages.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from types import ModuleType
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

import click

if TYPE_CHECKING:
    from google.protobuf.message import Message

def lazy_module(name: str) -> ModuleType:
    """``name``, imported when one of its attributes is first read (``importlib.util.LazyLoader``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:  # as an import would: ``import a.b`` then ``a.b.X`` works
        setattr(sys.modules[parent], child, module)
    spec.loader.exec_module(module)
    return module


#: The generated messages, loaded by the first command that builds or reads one.
pb = lazy_module("databuild.proto.databuild_pb2")

#: The fields every event document has besides its one payload (proto ``Event``).
EVENT_FIELDS = frozenset({"index", "event_id", "timestamp", "schema_version"})


def to_dict(message: Message) -> dict:
    """The same JSON the HTTP API returns for ``message``."""
    from databuild.proto.jsonmap import message_dict

    return message_dict(message)


def payload_name(event: dict) -> str:
    """The payload an event document carries, e.g. ``want_created``."""
    return next((k for k in event if k not in EVENT_FIELDS), "")


def emit_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=None, sort_keys=False))


def show(as_json: bool, message: Message, line: str) -> None:
    """A command's result: ``message`` as one JSON document for scripts, or ``line`` for people."""
    if as_json:
        emit_json(to_dict(message))
    else:
        click.echo(line)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under headers, columns padded to their widest cell."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def _enum_name(enum: str, value: int) -> str:
    from databuild.proto.jsonmap import enum_name

    return enum_name(getattr(pb, enum).DESCRIPTOR, value)


def build_status(value: int) -> str:
    return _enum_name("BuildStatus", value)


def want_status(value: int) -> str:
    return _enum_name("WantStatus", value)


def job_run_status(value: int) -> str:
    return _enum_name("JobRunStatus", value)


def timestamp(ts) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) of a Timestamp message or a document's RFC 3339 text; "" if unset."""
    if ts is None or isinstance(ts, str):
        return datetime.fromisoformat(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


class EnumChoice(click.Choice):
    """``click.Choice`` of a proto enum's short names (docs/json.md), read from the schema
    only when an option of this type is used or its help shown, not when the CLI loads."""

    def __init__(self, enum: str) -> None:  # no super().__init__: it would read the choices now
        self.enum, self.case_sensitive, self._choices = enum, True, None

    @property
    def choices(self) -> tuple[str, ...]:
        if self._choices is None:
            from databuild.proto.jsonmap import enum_choices

            self._choices = tuple(enum_choices(getattr(pb, self.enum).DESCRIPTOR))
        return self._choices


class ProgressLine:
    """Live build progress on stderr: rewritten in place on a terminal, else one line per change."""

    def __init__(self, interval: float = 1.0) -> None:
        self.tty = sys.stderr.isatty()
        self.interval = interval
        self.last: tuple | None = None
        self.printed_at = 0.0

    def __call__(self, p) -> None:
        key = (p.total, p.pending, p.running, p.succeeded, p.failed, p.skipped, p.status)
        if key == self.last or p.total == 0:  # nothing to run: the result line says it all
            return
        self.last = key
        done = p.succeeded + p.skipped
        line = (f"build {p.build_id[:8]}: {done}/{p.total} done, {p.running} running, "
                f"{p.pending} pending" + (f", {p.failed} failed" if p.failed else ""))
        if self.tty:
            click.echo("\r\x1b[2K" + line, err=True, nl=False)
            return
        from databuild.statuses import TERMINAL_BUILD_STATUSES

        final = p.status in TERMINAL_BUILD_STATUSES
        if final or time.monotonic() - self.printed_at >= self.interval:
            self.printed_at = time.monotonic()
            click.echo(line, err=True)

    def close(self) -> None:
        if self.tty and self.last is not None:
            click.echo("", err=True)
