"""Read commands (partitions, builds, jobs, logs) and recording external data."""

from __future__ import annotations


import click

from databuild.cli.context import CliContext, current_user, pattern_option, refs_argument
from databuild.cli.render import (
    EnumChoice, build_status, emit_json, job_run_status, payload_name, pb, show, table, timestamp, to_dict,
)

pass_ctx = click.make_pass_decorator(CliContext)


def register(cli: click.Group) -> None:
    """Attach the commands of this module to the top-level group."""
    for command in (partitions, builds, jobs, logs):
        cli.add_command(command)


@click.group()
def partitions() -> None:
    """Partitions: list, show, mark-available, taint."""


@partitions.command("list")
@click.option("--pattern", callback=pattern_option, help="Ref glob, e.g. 'daily_votes/*/red'.")
@click.option("--status", "statuses", multiple=True, type=EnumChoice("PartitionStatus"), help="Repeatable.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--after", help="Continue after this ref (paging).")
@pass_ctx
def partitions_list(c: CliContext, pattern, statuses, limit, after) -> None:
    """List partitions the event log knows, by ref."""
    found = c.read("list_partitions", pattern=pattern, statuses=list(statuses) or None, after=after, limit=limit)
    if c.as_json:
        emit_json(found)
        return
    table(["ref", "status", "build", "updated"], [
        (p["ref"], p["status"] + (" (external)" if p["external"] else ""), p["build_id"][:8],
         timestamp(p.get("updated_at"))) for p in found["partitions"]])


@partitions.command("show")
@click.argument("ref", nargs=1, callback=lambda ctx, param, v: refs_argument(ctx, param, (v,))[0])
@pass_ctx
def partitions_show(c: CliContext, ref: str) -> None:
    """Status of REF and the events that touched it."""
    detail = c.read("partition", ref=ref)
    if c.as_json:
        emit_json(detail)
        return
    state = detail["partition"]
    click.echo(f"{ref}: {state['status']}" + (f" ({state['message']})" if state["message"] else ""))
    made = detail.get("produced_by")
    if made:
        inputs = " ".join(d["ref"] for d in made.get("config", {}).get("inputs", [])) or "none"
        click.echo(f"produced by job run {made['job_run_id']} of {made['job_label']} ({made['status']}), "
                   f"build {made.get('build_id', '')}; its inputs: {inputs}")
    consumers = detail.get("consumers", [])
    if consumers:
        more = " (and more)" if detail.get("more_consumers") else ""
        click.echo(f"read by{more}: " + ", ".join(f"{r['job_run_id']} ({r['job_label']})" for r in consumers))
    click.echo("history" + (" (its first events)" if detail.get("more_history") else "") + ":")
    for e in detail["history"]:
        click.echo(f"  #{e['index']} {timestamp(e.get('timestamp'))} {payload_name(e)}")


@partitions.command("mark-available")
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@click.option("--comment", default="", help="Why or where from.")
@pass_ctx
def partitions_mark_available(c: CliContext, refs: list[str], comment: str) -> None:
    """Record that external partitions REFS have landed."""
    show(c.as_json, c.service.mark_available(pb.MarkAvailableRequest(refs=refs, comment=comment)), f"recorded {len(refs)} external partition(s) as available")


@partitions.command("taint")
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@click.option("--reason", required=True, help="What is wrong with the data (recorded).")
@pass_ctx
def partitions_taint(c: CliContext, refs: list[str], reason: str) -> None:
    """Mark available partitions REFS bad: they count as missing, and active wants rebuild them."""
    show(c.as_json, c.service.taint(pb.TaintRequest(refs=refs, reason=reason, requested_by=current_user())),
         f"tainted {len(refs)} partition(s)")


@click.group()
def builds() -> None:
    """Builds: list, show, cancel."""


@builds.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--after", help="Continue after this build id (paging).")
@pass_ctx
def builds_list(c: CliContext, limit: int, after: str | None) -> None:
    """Builds, newest first."""
    found = c.service.list_builds(pb.ListBuildsRequest(limit=limit, after=after or ""))
    if c.as_json:
        emit_json(to_dict(found))
        return
    table(["build", "status", "requested", "partitions", "job runs"], [
        (b.build_id, build_status(b.status), timestamp(b.requested_at),
         " ".join(b.partitions[:3]) + (" ..." if len(b.partitions) > 3 else ""), len(b.job_graph.job_runs))
        for b in found.builds])


@builds.command("show")
@click.argument("build_id")
@pass_ctx
def builds_show(c: CliContext, build_id: str) -> None:
    """A build: status, plan and its job runs."""
    detail = c.service.build(pb.GetBuildRequest(build_id=build_id))
    if c.as_json:
        emit_json(to_dict(detail))
        return
    b = detail.build
    click.echo(f"build {b.build_id}: {build_status(b.status)}" + (f" — {b.message}" if b.message else ""))
    click.echo(f"requested {timestamp(b.requested_at)}: {' '.join(b.partitions)}")
    for d in b.delegations:
        click.echo(f"delegated {' '.join(d.partitions)} to build {d.delegated_to_build_id}")
    table(["job run", "job", "status", "outputs", "exit"], [
        (r.job_run_id, r.job_label, job_run_status(r.status), " ".join(r.outputs), _exit(r)) for r in detail.job_runs])


def _exit(run: pb.JobRunState) -> str:
    """The exit code of a run whose process ended, else "-" (never started, skipped, still running)."""
    ended = run.status in (pb.JOB_RUN_STATUS_SUCCEEDED, pb.JOB_RUN_STATUS_FAILED) and run.started_at.seconds
    return str(run.exit_code) if ended else "-"


@builds.command("cancel")
@click.argument("build_id")
@click.option("--reason", default="", help="Why (recorded with the cancellation).")
@pass_ctx
def builds_cancel(c: CliContext, build_id: str, reason: str) -> None:
    """Stop a running build (its wants retry after backoff, as for a failure)."""
    request = pb.CancelBuildRequest(build_id=build_id, reason=reason or f"cancelled by {current_user()}")
    show(c.as_json, c.service.cancel_build(request), f"cancellation of build {build_id} requested")


@click.group()
def jobs() -> None:
    """Jobs of this graph."""


@jobs.command("list")
@pass_ctx
def jobs_list(c: CliContext) -> None:
    """The graph's jobs and the output patterns they declare."""
    graph = c.graph
    if c.as_json:
        emit_json({"graph": graph.label, "lookup": graph.lookup.label if graph.lookup else None,
                   "jobs": [{"label": j.label, "outputs": list(j.outputs)} for j in graph.jobs]})
        return
    click.echo(f"graph {graph.label}" + (f" (lookup {graph.lookup.label})" if graph.lookup else ""))
    table(["job", "outputs"], [(j.label, " ".join(j.outputs) or "(via lookup)") for j in graph.jobs])


@jobs.command("stats")
@pass_ctx
def jobs_stats(c: CliContext) -> None:
    """Per job: runs, success rate, p50/p95 duration of its last successful runs, its last run."""
    from databuild.timespec import format_duration  # light: no protobuf on the client path

    found = c.read("job_stats")
    if c.as_json:
        emit_json(found)
        return
    seconds = lambda s: format_duration(s) if s else "-"  # noqa: E731
    table(["job", "runs", "success", "p50", "p95", "last run"], [
        (j["job_label"] + ("" if j["declared"] else " (not in the graph)"), j["runs"],
         f"{j['success_rate']:.0%}" if j["runs"] else "-", seconds(j["p50_seconds"]), seconds(j["p95_seconds"]),
         f"{j['last_status']} {timestamp(j['last_finished_at'])}" if j["last_job_run_id"] else "-")
        for j in found["jobs"]])


@jobs.command("runs")
@click.argument("job_label")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--after", help="Continue after this job run id (paging).")
@pass_ctx
def jobs_runs(c: CliContext, job_label: str, limit: int, after: str | None) -> None:
    """A job's runs, newest scheduled first."""
    found = c.read("list_job_runs", job_label=job_label, limit=limit, after=after)
    if c.as_json:
        emit_json(found)
        return
    table(["job run", "status", "scheduled", "build", "outputs"], [
        (r["job_run_id"], r["status"], timestamp(r.get("scheduled_at", "")), r.get("build_id", ""),
         " ".join(r.get("outputs", [])[:3]) + (" ..." if len(r.get("outputs", [])) > 3 else ""))
        for r in found["job_runs"]])


@click.command()
@click.argument("job_run_id")
@click.option("--tail", type=click.IntRange(min=1), help="Only the last this many bytes.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing what a running job writes until it ends.")
@pass_ctx
def logs(c: CliContext, job_run_id: str, tail: int | None, follow: bool) -> None:
    """Print the captured stdout and stderr of a job run."""
    piece = c.service.job_run_log(pb.JobRunLogRequest(job_run_id=job_run_id, tail=tail or 0))
    out = click.get_binary_stream("stdout")
    while True:
        for chunk in piece.chunks:
            out.write(chunk)
        out.flush()
        if not follow or piece.complete:
            return
        # Wake when the run ends, or after a moment to print what it wrote meanwhile.
        c.service.events(pb.ListEventsRequest(since=c.service.health().latest_event_index,
                                              types=["job_run_status_changed"], wait_seconds=0.5, limit=1))
        piece = c.service.job_run_log(pb.JobRunLogRequest(job_run_id=piece.job_run_id, offset=piece.next_offset))
