"""Read commands (partitions, builds, jobs, logs) and recording external data."""

from __future__ import annotations

import os

import click

from databuild.cli.context import CliContext, refs_argument
from databuild.cli.render import (
    build_status, emit_json, job_run_status, partition_status, table, timestamp, to_dict,
)
from databuild.errors import InvalidArgumentError, NotFoundError
from databuild.events import EventFilter
from databuild.planner import GraphResolver
from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern

pass_ctx = click.make_pass_decorator(CliContext)
PARTITION_STATUSES = [n.removeprefix("PARTITION_STATUS_").lower() for n in pb.PartitionStatus.keys()[1:]]


def register(cli: click.Group) -> None:
    """Attach the commands of this module to the top-level group."""
    for command in (partitions, builds, jobs, logs):
        cli.add_command(command)


def _pattern(ctx, param, value):
    if value is not None:
        try:
            compile_pattern(value)
        except InvalidArgumentError as e:
            raise click.BadParameter(str(e), ctx, param) from None
    return value


@click.group()
def partitions() -> None:
    """Partitions: list, show, mark-available."""


@partitions.command("list")
@click.option("--pattern", callback=_pattern, help="Ref glob, e.g. 'daily_votes/*/red'.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(PARTITION_STATUSES), help="Repeatable.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--after", help="Continue after this ref (paging).")
@pass_ctx
def partitions_list(c: CliContext, pattern, statuses, limit, after) -> None:
    """List partitions the event log knows, by ref."""
    values = [pb.PartitionStatus.Value("PARTITION_STATUS_" + s.upper()) for s in statuses]
    found = c.store.partitions(pattern, values, after, limit)
    if c.as_json:
        emit_json({"partitions": [to_dict(p) for p in found],
                   "next": found[-1].ref if len(found) == limit else None})
        return
    table(["ref", "status", "build", "updated"], [
        (p.ref, partition_status(p.status) + (" (external)" if p.external else ""), p.build_id[:8],
         timestamp(p.updated_at)) for p in found])


@partitions.command("show")
@click.argument("ref", nargs=1, callback=lambda ctx, param, v: refs_argument(ctx, param, (v,))[0])
@pass_ctx
def partitions_show(c: CliContext, ref: str) -> None:
    """Status of REF and the events that touched it."""
    state = c.store.partition(ref)
    history = c.store.log.list_events(0, EventFilter(refs=(ref,)), 1000).events
    if c.as_json:
        emit_json({"partition": to_dict(state) if state else {"ref": ref, "status": "PARTITION_STATUS_MISSING"},
                   "history": [to_dict(e) for e in history]})
        return
    click.echo(f"{ref}: {partition_status(state.status) if state else 'missing'}"
               + (f" ({state.message})" if state and state.message else ""))
    for e in history:
        click.echo(f"  #{e.index} {timestamp(e.timestamp)} {e.WhichOneof('payload')}")


@partitions.command("mark-available")
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@click.option("--comment", default="", help="Why or where from.")
@pass_ctx
def partitions_mark_available(c: CliContext, refs: list[str], comment: str) -> None:
    """Record that external partitions REFS have landed."""
    produced = [r for r in refs if _produced_here(c, r)]
    if produced:
        raise click.BadParameter(f"{', '.join(produced)} is produced by graph {c.graph.label}, not external",
                                 param_hint="REFS")
    (index,) = c.store.log.append([pb.Event(external_partitions_available=pb.ExternalPartitionsAvailable(
        refs=refs, comment=comment))])
    if c.as_json:
        emit_json({"event_index": index, "refs": refs})
    else:
        click.echo(f"recorded {len(refs)} external partition(s) as available (event #{index})")


def _produced_here(c: CliContext, ref: str) -> bool:
    return c.graph.lookup is None and GraphResolver(c.graph).by_pattern(ref) is not None


@click.group()
def builds() -> None:
    """Builds: list, show."""


@builds.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@pass_ctx
def builds_list(c: CliContext, limit: int) -> None:
    """Builds, newest first."""
    found = sorted(c.store.builds(limit=10_000), key=lambda b: b.requested_at.ToMicroseconds(), reverse=True)[:limit]
    if c.as_json:
        emit_json({"builds": [to_dict(b) for b in found]})
        return
    table(["build", "status", "requested", "partitions", "job runs"], [
        (b.build_id, build_status(b.status), timestamp(b.requested_at),
         " ".join(b.partitions[:3]) + (" ..." if len(b.partitions) > 3 else ""), len(b.job_graph.job_runs))
        for b in found])


@builds.command("show")
@click.argument("build_id")
@pass_ctx
def builds_show(c: CliContext, build_id: str) -> None:
    """A build: status, plan and its job runs."""
    b = c.store.build(build_id)
    if b is None:
        raise NotFoundError(f"no build with id {build_id!r}")
    runs = [c.store.job_run(r.job_run_id) for r in b.job_graph.job_runs]
    runs = [r for r in runs if r is not None]
    if c.as_json:
        emit_json({"build": to_dict(b), "job_runs": [to_dict(r) for r in runs]})
        return
    click.echo(f"build {b.build_id}: {build_status(b.status)}" + (f" — {b.message}" if b.message else ""))
    click.echo(f"requested {timestamp(b.requested_at)}: {' '.join(b.partitions)}")
    for d in b.delegations:
        click.echo(f"delegated {' '.join(d.partitions)} to build {d.delegated_to_build_id}")
    table(["job run", "job", "status", "outputs", "exit"], [
        (r.job_run_id, r.job_label, job_run_status(r.status), " ".join(r.outputs), r.exit_code) for r in runs])


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


@click.command()
@click.argument("job_run_id")
@pass_ctx
def logs(c: CliContext, job_run_id: str) -> None:
    """Print the captured stdout and stderr of a job run."""
    run = c.store.job_run(job_run_id)
    if run is None:
        raise NotFoundError(f"no job run with id {job_run_id!r}")
    if not run.log_path or not os.path.exists(run.log_path):
        raise NotFoundError(f"job run {job_run_id} has no log (status {job_run_status(run.status)})")
    with open(run.log_path, "rb") as f:
        click.echo(f.read().decode(errors="replace"), nl=False)
