"""Output: aligned tables for people, one JSON document for scripts."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Sequence

import click
from google.protobuf.message import Message

from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import enum_name, message_dict


def to_dict(message: Message) -> dict:
    """The same JSON the HTTP API returns for ``message``."""
    return message_dict(message)


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


def partition_status(value: int) -> str:
    return enum_name(pb.PartitionStatus.DESCRIPTOR, value)


def build_status(value: int) -> str:
    return enum_name(pb.BuildStatus.DESCRIPTOR, value)


def want_status(value: int) -> str:
    return enum_name(pb.WantStatus.DESCRIPTOR, value)


def job_run_status(value: int) -> str:
    return enum_name(pb.JobRunStatus.DESCRIPTOR, value)


def timestamp(ts) -> str:
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


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
        from databuild.state import TERMINAL_BUILD_STATUSES

        final = p.status in TERMINAL_BUILD_STATUSES
        if final or time.monotonic() - self.printed_at >= self.interval:
            self.printed_at = time.monotonic()
            click.echo(line, err=True)

    def close(self) -> None:
        if self.tty and self.last is not None:
            click.echo("", err=True)
