"""`want create|list|status|cancel`, and the want `build` creates (docs/wants.md, docs/cli.md)."""

from __future__ import annotations

import sys

import click

from databuild.cli.context import (CliContext, current_user, duration_option, pattern_option, refs_argument,
                                   timestamp_option)
from databuild.cli.render import EnumChoice, emit_json, payload_name, pb, show, table, timestamp, to_dict, want_status

pass_ctx = click.make_pass_decorator(CliContext)


def register(cli: click.Group) -> None:
    """Attach ``want`` to the top-level group."""
    cli.add_command(want)


def want_options(command):
    """The options every want-creating command takes."""
    for option in reversed([
        click.option("--ttl", callback=duration_option, help="Give up after this long, e.g. 2d (default: the graph's)."),
        click.option("--sla", callback=duration_option,
                     help="Violated unless satisfied this long after the data timestamp, e.g. 6h."),
        click.option("--data-timestamp", callback=timestamp_option,
                     help="Business time of the data, ISO 8601 (default: now)."),
        click.option("--external-dep", "external_deps", multiple=True, callback=refs_argument,
                     help="A partition owned elsewhere that must be available first (repeatable)."),
        click.option("--comment", default="", help="Why this is wanted."),
    ]):
        command = option(command)
    return command


def create_want(c: CliContext, refs: list[str], ttl: int | None, sla: int | None, data_timestamp,
                external_deps: list[str], comment: str) -> dict:
    """Record one want from the CLI (source cli, by the current user); return its state as the
    JSON contract's document. Sent as JSON so that creating it never waits for protobuf to load:
    `build` loads it while the service plans."""
    want: dict = {"partitions": refs, "sla_seconds": sla or 0, "external_dependencies": external_deps,
                  "comment": comment, "source": {"type": "cli", "name": current_user()}}
    if ttl is not None:
        want["ttl_seconds"] = ttl
    if data_timestamp is not None:
        want["data_timestamp"] = data_timestamp.isoformat()
    return c.call("create_wants", {"wants": [want]})["wants"][0]


def show_created(c: CliContext, state: dict) -> None:
    if c.as_json:
        emit_json(state)
    else:
        click.echo(state["want_id"])


def report_outcome(c: CliContext, outcome: tuple[pb.WantState, bool]) -> None:
    """Print how following a want ended; exit 0 only if it is satisfied."""
    state, interrupted = outcome
    wid, status = state.spec.want_id, want_status(state.status)
    if c.as_json:
        emit_json({**to_dict(state), "interrupted": interrupted})
    elif interrupted:
        click.echo(f"stopped following; want {wid} is still {status} (cancel it with: want cancel {wid})", err=True)
    else:
        detail = f" by build {state.build_id}" if state.status == pb.WANT_STATUS_SATISFIED and state.build_id else ""
        click.echo(f"want {wid} {status}{detail}" + (f": {state.message}" if state.message and not detail else ""))
    if interrupted:
        sys.exit(130)
    if state.status != pb.WANT_STATUS_SATISFIED:
        sys.exit(1)


@click.group()
def want() -> None:
    """Wants: partitions that should exist, with a TTL and an SLA."""


@want.command("create")
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@want_options
@pass_ctx
def want_create(c: CliContext, refs: list[str], **options) -> None:
    """Want REFS; print the new want's id."""
    show_created(c, create_want(c, refs, **options))


@want.command("list")
@click.option("--status", "statuses", multiple=True, type=EnumChoice("WantStatus"), help="Repeatable.")
@click.option("--pattern", callback=pattern_option, help="Wants on partitions matching this ref glob.")
@click.option("--sla-violated", is_flag=True, help="Only wants whose SLA deadline passed unsatisfied.")
@click.option("--sla-at-risk", is_flag=True,
              help="Only active wants predicted to miss their SLA (from job-run history), most urgent first.")
@click.option("--source", help="cli, api, dashboard, scheduled, or e.g. cli:alice.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--after", help="Continue after this want id (paging; with --sla-at-risk: DEADLINE/WANT_ID).")
@pass_ctx
def want_list(c: CliContext, statuses, pattern, sla_violated, sla_at_risk, source, limit, after) -> None:
    """Wants in creation order (with --sla-at-risk: by SLA deadline)."""
    if sla_violated and sla_at_risk:
        raise click.BadParameter("choose one of --sla-violated and --sla-at-risk", param_hint="--sla-at-risk")
    sla = "violated" if sla_violated else "at_risk" if sla_at_risk else None
    found = c.read("list_wants", statuses=list(statuses) or None, pattern=pattern, sla=sla, source=source,
                   after=after, limit=limit)
    if c.as_json:
        emit_json(found)
        return
    table(["want", "status", "partitions", "created", "sla", "message"], [
        (w["want_id"], w["status"], " ".join(w["partitions"][:3]) + (" ..." if len(w["partitions"]) > 3 else ""),
         timestamp(w.get("created_at")), "VIOLATED" if w["sla_violated"] else "-" if not w["sla_seconds"]
         else "AT RISK" if sla_at_risk else "ok",
         w["message"].splitlines()[0] if w["message"] else "")
        for w in found["wants"]])


@want.command("status")
@click.argument("want_id_or_ref")
@pass_ctx
def want_status_command(c: CliContext, want_id_or_ref: str) -> None:
    """A want (by id, or the newest want of a partition ref): status, why, and its timeline."""
    w = c.read("want", want_id=want_id_or_ref)  # one flat document: the want's fields, then the detail's
    if c.as_json:
        emit_json(w)
        return
    click.echo(f"want {w['want_id']}: {w['status']}")
    click.echo(f"partitions: {' '.join(w['partitions'])}")
    if w["external_dependencies"]:
        click.echo(f"external dependencies: {' '.join(w['external_dependencies'])}")
    source = w["source"]
    click.echo(f"created {timestamp(w.get('created_at'))} by {source['type']}"
               + (f":{source['name']}" if source["name"] else "")
               + (f" (firing {source['firing_id']})" if source["firing_id"] else "")
               + (f" — {w['comment']}" if w["comment"] else ""))
    click.echo(w["explanation"])
    if w.get("predicted_completion"):
        risk = ("AT RISK: predicted after its SLA deadline" if w.get("sla_at_risk")
                else "on track for its SLA" if w.get("sla_deadline") and not w["sla_violated"] else "")
        click.echo(f"predicted completion (ETA): {timestamp(w['predicted_completion'])}" + (f" — {risk}" if risk else "")
                   + (f" ({w['prediction_note']})" if w.get("prediction_note") else ""))
    click.echo("timeline:")
    for e in w["timeline"]:
        name = payload_name(e)
        extra = ""
        if name == "want_status_changed":
            extra = f" {e[name]['status']}: {e[name]['message']}"
        click.echo(f"  #{e['index']} {timestamp(e.get('timestamp'))} {name}{extra}")


@want.command("cancel")
@click.argument("want_id")
@click.option("--reason", default="", help="Why (recorded with the cancellation).")
@pass_ctx
def want_cancel(c: CliContext, want_id: str, reason: str) -> None:
    """Cancel an active want (its build stops unless another want needs it)."""
    state = c.service.cancel_want(pb.CancelWantRequest(
        want_id=want_id, reason=reason or f"cancelled by {current_user()}", requested_by=f"cli:{current_user()}"))
    show(c.as_json, state, f"want {want_id} {want_status(state.status)}")
