"""`bel export|import|verify`: move a log between backends and check it (docs/cli.md).

Offline commands: they open the event log named by --bel (or the state directory's)
in this process, never through a daemon or --service.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import BinaryIO, Iterator

import click

from databuild.cli.context import CliContext
from databuild.cli.render import emit_json
from databuild.errors import ConflictError, InvalidArgumentError

pass_ctx = click.make_pass_decorator(CliContext)


def register(cli: click.Group) -> None:
    """Attach the ``bel`` group to the top-level group."""
    cli.add_command(bel)


@click.group()
def bel() -> None:
    """The event log itself: export it, import an export into an empty log, verify it."""


@bel.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (replaced once the export is whole) instead of stdout.")
@pass_ctx
def bel_export(c: CliContext, output: str | None) -> None:
    """Write the event log as NDJSON: a header line, then each event in index order."""
    from databuild.events.log import system_clock
    from databuild.events.portable import export_log

    log = c.store.log
    if output is None:
        count = export_log(log, sys.stdout, system_clock())
        sys.stdout.flush()
    else:
        with _replaced(output) as out:
            count = export_log(log, out, system_clock())
    click.echo(f"exported {count} events of log {log.log_id} from {c.bel_uri}", err=True)


@contextlib.contextmanager
def _replaced(path: str) -> Iterator:
    """A text file written beside ``path`` and renamed onto it once complete: a failed export
    leaves no partial file that could be imported as a (short) log. Owner-only (0600), as
    the log it copies is."""
    tmp = f"{path}.partial-{os.getpid()}"
    try:
        out = os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8")
    except OSError as e:
        raise InvalidArgumentError(f"cannot write the export to {path}: {e.strerror}") from None
    try:
        with out:
            yield out
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@bel.command("import")
@click.argument("file")
@pass_ctx
def bel_import(c: CliContext, file: str) -> None:
    """Load the export FILE ("-" for stdin) into the event log, which must be empty.

    Indices, event ids, timestamps, schema versions and the log id are kept. One
    transaction: on bad input (exit 2, naming the line) nothing is imported.
    """
    from databuild.events.portable import import_log

    from databuild.service.leadership import LEADER_LEASE

    if c.bel_option is None:
        _refuse_if_served(c)
    log = c.store.log
    # Held through the import: a service of this log leads with it, so none runs meanwhile
    # (and none that started before, with the log's old id in memory, is left serving).
    lease = log.lease(LEADER_LEASE)
    if not lease.try_acquire():
        raise ConflictError(f"a service runs on event log {c.bel_uri} (it holds the log's leader lease): "
                            "stop every service of this log, then import")
    try:
        with _opened(file) as lines:
            header = import_log(log, lines)
    finally:
        lease.release()
    if c.as_json:
        emit_json({"imported": header.head, "log_id": header.log_id, "bel": c.bel_uri})
    else:
        click.echo(f"imported {header.head} events of log {header.log_id} into {c.bel_uri}")


def _refuse_if_served(c: CliContext) -> None:
    """A service of the state directory has the log open and keeps its log id in memory:
    importing under it would leave it serving the old id."""
    from databuild.procs import process_alive
    from databuild.service.daemon import read_info

    info = read_info(c.state_dir)
    if info is not None and process_alive(info.pid):
        raise ConflictError(f"the service of {c.state_dir} (pid {info.pid}, {info.url}) has this event log open: "
                            "stop it first (daemon stop, or end the foreground serve), then import")


@contextlib.contextmanager
def _opened(file: str) -> Iterator[BinaryIO]:
    """The export's lines as bytes (a line that is not UTF-8 is then bad JSON, named by number)."""
    if file == "-":
        yield sys.stdin.buffer
        return
    try:
        found = open(file, "rb")
    except OSError as e:
        raise InvalidArgumentError(f"cannot read the export {file}: {e.strerror}") from None
    with found:
        yield found


@bel.command("verify")
@click.option("--max-differences", default=20, show_default=True, type=click.IntRange(min=1),
              help="Describe at most this many differences (the rest are counted).")
@pass_ctx
def bel_verify(c: CliContext, max_differences: int) -> None:
    """Replay the log and compare with its read models; check its indices and event ids.

    Exit 0 when consistent, 1 naming what differs.
    """
    from databuild.events.portable import verify_log
    from databuild.state.reducers import STATE_TYPES

    def decode(kind: str, body: bytes):
        from google.protobuf.message import DecodeError

        try:
            return STATE_TYPES[kind].FromString(body)
        except DecodeError as e:
            raise InvalidArgumentError(f"not a {STATE_TYPES[kind].DESCRIPTOR.name}: {e}") from None

    log = c.store.log
    report = verify_log(log, max_differences, decode)
    if c.as_json:
        emit_json({"consistent": report.consistent, "events": report.events, "rows": report.rows,
                   "differences": report.differences, "more_differences": report.more,
                   "appended_meanwhile": report.moved_to is not None})
    else:
        for line in report.differences:
            click.echo(line)
        if report.more:
            click.echo(f"... and {report.more} more difference(s)")
        if report.moved_to is not None:
            click.echo(f"note: events were appended while verifying (head {report.events} -> {report.moved_to}): "
                       "differences may be those appends; stop the writers and verify again", err=True)
        verdict = "consistent" if report.consistent else "NOT consistent"
        click.echo(f"{c.bel_uri}: {verdict}: {report.events} events, {report.rows} read-model rows checked")
    if not report.consistent:
        sys.exit(1)
