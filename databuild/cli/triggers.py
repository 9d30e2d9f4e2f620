"""`triggers list|fire|pause|resume`: the graph's schedules and reactive triggers (docs/triggers.md).

The commands call the service's trigger operations (``triggers``, ``fire_trigger``,
``pause_trigger``, ``resume_trigger``), so they work the same through the daemon,
``--service URL`` and ``--local``. An unknown trigger is the service's NotFoundError,
which ``main`` turns into exit 2 naming it.
"""

from __future__ import annotations


import click

from databuild.cli.context import CliContext, current_user, ref_option, timestamp_option
from databuild.cli.render import emit_json, pb, table, to_dict, want_status

pass_ctx = click.make_pass_decorator(CliContext)


def register(cli: click.Group) -> None:
    """Attach ``triggers`` to the top-level group."""
    cli.add_command(triggers)


def rfc3339(ts) -> str:
    """A timestamp as RFC 3339 in UTC (``2026-12-02T02:00:00Z``, as in firing ids); empty when unset."""
    if not ts.seconds and not ts.nanos:
        return ""
    return ts.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")


def _requested_by() -> str:
    # Recorded with the firing or pause, as `want cancel` records who cancelled.
    return f"cli:{current_user()}"


def _when(t: pb.TriggerStatus) -> str:
    """A schedule's cron and zone, or a reactive trigger's on templates."""
    if t.kind == pb.TRIGGER_KIND_SCHEDULE:
        return f"{t.cron} ({t.timezone})"
    return "on " + " ".join(t.on)


def _last_firing(state: pb.TriggerState) -> str:
    if not state.last_firing.firing_id:
        return "-"
    return f"{rfc3339(state.last_fired_at)} {state.last_firing.firing_id}"


@click.group()
def triggers() -> None:
    """Triggers: wants created on a schedule or when partitions become available."""


@triggers.command("list")
@pass_ctx
def triggers_list(c: CliContext) -> None:
    """Each trigger: kind, schedule or on templates, next fire time, last firing, last error, paused."""
    found = c.service.triggers(pb.EmptyRequest())
    if c.as_json:
        emit_json(to_dict(found))
        return
    if not found.triggers:
        click.echo("the graph declares no triggers")
        return
    kinds = {pb.TRIGGER_KIND_SCHEDULE: "schedule", pb.TRIGGER_KIND_REACTIVE: "reactive"}
    table(["trigger", "kind", "when", "next fire", "last firing", "last error", "paused"], [
        (t.state.name, kinds.get(t.kind, str(t.kind)), _when(t), rfc3339(t.next_fire_time) or "-",
         _last_firing(t.state), t.state.last_error.splitlines()[0] if t.state.last_error else "-",
         "yes" if t.state.paused else "no")
        for t in found.triggers])


@triggers.command("fire")
@click.argument("name")
@click.option("--at", callback=timestamp_option,
              help="The tick time a schedule trigger fires for, ISO 8601 (default: now).")
@click.option("--partition", callback=ref_option,
              help="The partition a reactive trigger fires for (must match its on templates).")
@pass_ctx
def triggers_fire(c: CliContext, name: str, at, partition: str | None) -> None:
    """Fire trigger NAME now (source cli); print the firing id and the wants it created."""
    request = pb.FireTriggerRequest(name=name, partition=partition or "", requested_by=_requested_by())
    if at is not None:
        request.at.FromDatetime(at)
    fired = c.service.fire_trigger(request)
    if c.as_json:
        emit_json(to_dict(fired))
        return
    click.echo(f"firing {fired.firing.firing_id}: {len(fired.wants)} want(s)")
    for w in fired.wants:
        click.echo(f"want {w.spec.want_id} {want_status(w.status)} {' '.join(w.spec.partitions)}")


def _show_trigger(c: CliContext, t: pb.TriggerStatus) -> None:
    if c.as_json:
        emit_json(to_dict(t))
        return
    state = f"paused by {t.state.paused_by}" if t.state.paused else "active"
    upcoming = f"; next fire {rfc3339(t.next_fire_time)}" if t.next_fire_time.seconds else ""
    click.echo(f"trigger {t.state.name} {state}{upcoming}")


@triggers.command("pause")
@click.argument("name")
@click.option("--reason", default="", help="Why (recorded with the pause).")
@pass_ctx
def triggers_pause(c: CliContext, name: str, reason: str) -> None:
    """Pause trigger NAME: it fires nothing until resumed."""
    _show_trigger(c, c.service.pause_trigger(pb.PauseTriggerRequest(
        name=name, requested_by=_requested_by(), reason=reason)))


@triggers.command("resume")
@click.argument("name")
@click.option("--reason", default="", help="Why (recorded with the resume).")
@pass_ctx
def triggers_resume(c: CliContext, name: str, reason: str) -> None:
    """Resume trigger NAME from now on: what came due while it was paused does not fire."""
    _show_trigger(c, c.service.resume_trigger(pb.PauseTriggerRequest(
        name=name, requested_by=_requested_by(), reason=reason)))
