"""`events` (the event feed) and `upstreams status` (cross-graph sync), docs/cli.md."""

from __future__ import annotations

import click

from databuild.cli.context import CliContext, pattern_option
from databuild.cli.render import emit_json, pb, table, timestamp, to_dict

pass_ctx = click.make_pass_decorator(CliContext)


def register(cli: click.Group) -> None:
    """Attach the commands of this module to the top-level group."""
    cli.add_command(events)
    cli.add_command(upstreams)


@click.command()
@click.option("--since", default=0, show_default=True, type=click.IntRange(min=0), help="Events after this index.")
@click.option("--pattern", "patterns", multiple=True, callback=lambda ctx, p, v: [pattern_option(ctx, p, x) for x in v],
              help="Only events about refs matching this glob (repeatable).")
@click.option("--type", "types", multiple=True,
              help="Only events of this type, e.g. want_created (repeatable; docs/event-log.md lists them).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they are recorded (Ctrl-C stops).")
@pass_ctx
def events(c: CliContext, since: int, patterns: list[str], types: tuple[str, ...], follow: bool) -> None:
    """Print the event feed: one line per event (with --json, one JSON document per line)."""
    request = pb.ListEventsRequest(since=since, patterns=patterns, types=[t.lower() for t in types], limit=1000)
    try:
        while True:
            page = c.service.events(request)
            for event in page.events:
                if c.as_json:
                    emit_json(to_dict(event))
                else:
                    name = event.WhichOneof("payload")
                    click.echo(f"#{event.index} {timestamp(event.timestamp)} {name} "
                               f"{_about(getattr(event, name))}".rstrip())
            request.since = page.next
            if not page.has_more and not follow:
                return
            request.wait_seconds = 25 if follow and not page.has_more else 0
    except KeyboardInterrupt:
        return


def _about(payload) -> str:
    """The refs or ids an event is about, for the one-line form."""
    for name in ("refs", "partitions", "ref", "want_id", "build_id", "job_run_id", "upstream"):
        if name in payload.DESCRIPTOR.fields_by_name:
            value = getattr(payload, name)
            if value:
                return " ".join(value) if not isinstance(value, str) else value
    if payload.DESCRIPTOR.name == "WantCreated":
        return f"{payload.want.want_id} {' '.join(payload.want.partitions)}"
    return ""


@click.group()
def upstreams() -> None:
    """Upstream graphs this graph reads from."""


@upstreams.command("status")
@pass_ctx
def upstreams_status(c: CliContext) -> None:
    """Each upstream's sync: state, cursor, lag, last success and error."""
    from databuild.proto.jsonmap import enum_name

    found = c.service.upstreams(pb.EmptyRequest())
    if c.as_json:
        emit_json(to_dict(found))
        return
    if not found.upstreams:
        click.echo(f"graph {c.graph_label} declares no upstreams")
        return
    table(["upstream", "url", "state", "cursor", "lag", "last success", "failures", "last error"], [
        (u.name, u.url, enum_name(pb.UpstreamSyncState.DESCRIPTOR, u.state), u.cursor,
         f"{u.lag_events} events, {u.lag_seconds:.0f}s", timestamp(u.last_success), u.consecutive_failures,
         u.last_error.splitlines()[0] if u.last_error else "") for u in found.upstreams])
