"""Click commands of ``<graph>.build`` (SPEC section 11).

The launcher Bazel generates sets ``DATABUILD_GRAPH_MANIFEST`` (the manifest path)
and ``DATABUILD_RUNFILES`` (the binary's runfiles root). Usage errors and bad
input exit 2 naming the value; a failed or cancelled build exits 1.
"""

from __future__ import annotations

import signal
import sys

import click

from databuild.cli import inspect
from databuild.cli.context import CliContext, refs_argument
from databuild.cli.render import ProgressLine, build_status, emit_json, table, to_dict
from databuild.errors import DataBuildError
from databuild.executor import BuildExecutor, ProcessLauncher
from databuild.planner import GraphResolver, plan
from databuild.proto import databuild_pb2 as pb

pass_ctx = click.make_pass_decorator(CliContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", envvar="DATABUILD_STATE_DIR", help="State directory (default ~/.local/state/databuild/<graph>).")
@click.option("--bel", envvar="DATABUILD_BEL", help="Event log URI (default sqlite:///<state dir>/bel.sqlite3).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@click.pass_context
def cli(ctx: click.Context, state_dir: str | None, bel: str | None, as_json: bool) -> None:
    """A DataBuild graph: plan, build and inspect its partitions."""
    ctx.obj = CliContext(state_dir, bel, as_json)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@pass_ctx
def analyze(c: CliContext, refs: list[str]) -> None:
    """Show the plan for building REFS without running it."""
    p = plan(c.graph.label, refs, GraphResolver(c.graph), c.store.partition_statuses)
    if c.as_json:
        emit_json({"job_graph": to_dict(p.job_graph()), "available": list(p.available)})
        return
    table(["job run", "job", "outputs", "waits for"], [
        (r.job_run_id[:8], r.job_label, " ".join(r.config.outputs),
         " ".join(d[:8] for d in sorted(p.deps[r.job_run_id])) or "-") for r in p.runs])
    click.echo(f"\n{len(p.runs)} job run(s); external inputs: {' '.join(p.external) or 'none'}; "
               f"already available: {len(p.available)}")


@cli.command()
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@click.option("--parallelism", "-j", type=click.IntRange(min=1), help="Job runs at once (default: number of cores).")
@pass_ctx
def build(c: CliContext, refs: list[str], parallelism: int | None) -> None:
    """Build REFS now, with live progress; exit 1 unless the build completes."""
    launcher = ProcessLauncher(c.graph)
    progress = ProgressLine()
    executor = BuildExecutor(c.graph, c.store, launcher, str(c.log_dir), parallelism, on_progress=progress)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: executor.cancel(signal.Signals(signum).name))
    try:
        result = executor.run(refs)
    finally:
        progress.close()
        launcher.close()
    if c.as_json:
        emit_json({"build_id": result.build_id, "status": build_status(result.status), "message": result.message,
                   "failed_job_runs": result.failed_runs})
    else:
        click.echo(f"build {result.build_id} {build_status(result.status)}" +
                   (f": {result.message}" if result.message else ""))
    if not result.ok:
        sys.exit(1)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8100, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="DATABUILD_TOKEN", help="Bearer token for mutating requests (required off loopback).")
@pass_ctx
def serve(c: CliContext, host: str, port: int, token: str | None) -> None:
    """Run the graph's HTTP service in the foreground."""
    import uvicorn  # only the service pays for importing the web stack

    from databuild.service import DataBuildService
    from databuild.service.http import create_app

    if host not in LOOPBACK and not token:
        raise click.BadParameter(f"binding {host} (not loopback) requires --token or DATABUILD_TOKEN",
                                 param_hint="--host")
    service = DataBuildService(c.graph, c.store, str(c.log_dir))
    click.echo(f"serving {c.graph.label} on http://{host}:{port} (event log {c.bel_uri})", err=True)
    uvicorn.run(create_app(service, token), host=host, port=port, log_level="warning")


inspect.register(cli)


def main() -> None:
    """Run the CLI; named DataBuild errors exit 2 with their message."""
    try:
        cli(standalone_mode=False)
    except click.ClickException as e:
        e.show()
        sys.exit(2 if e.exit_code == 2 or isinstance(e, click.UsageError) else e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except DataBuildError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
