"""Click commands of ``<graph>.build`` (docs/cli.md).

The launcher Bazel generates sets ``DATABUILD_GRAPH_MANIFEST`` (the manifest path)
and ``DATABUILD_RUNFILES`` (the binary's runfiles root). Usage errors and bad
input exit 2 naming the value; a failed or cancelled build exits 1.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from databuild.cli import bel, feed, inspect, triggers, wants
from databuild.cli.context import CliContext, duration_option, executor_option, refs_argument
from databuild.cli.render import ProgressLine, emit_json, pb, table, to_dict, want_status
from databuild.cli.wants import create_want, report_outcome, show_created, want_options
from databuild.errors import DataBuildError, InvalidArgumentError, error_document

pass_ctx = click.make_pass_decorator(CliContext)
PROG_NAME = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "databuild"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", envvar="DATABUILD_STATE_DIR", help="State directory (default ~/.local/state/databuild/<graph>).")
@click.option("--bel", envvar="DATABUILD_BEL", help="Event log URI (default sqlite:///<state dir>/bel.sqlite3).")
@click.option("--service", "service_url", envvar="DATABUILD_SERVICE",
              help="Use the DataBuild service at this URL for reads and records (token: DATABUILD_TOKEN).")
@click.option("--local", is_flag=True, envvar="DATABUILD_LOCAL",
              help="Work in this process on the event log, without the daemon.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@click.option("--executor", envvar="DATABUILD_EXECUTOR", callback=executor_option, metavar="local|dask://HOST:PORT",
              help="Where job runs run: local processes (default) or the Dask cluster at HOST:PORT.")
@click.pass_context
def cli(ctx: click.Context, state_dir: str | None, bel: str | None, service_url: str | None, local: bool,
        as_json: bool, executor: str | None) -> None:
    """A DataBuild graph: plan, build and inspect its partitions.

    Commands talk to the graph's daemon (started on first use, one per state
    directory), to --service URL, or with --local to the event log directly.
    """
    ctx.obj = CliContext(state_dir, bel, as_json, service_url, local, executor)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@pass_ctx
def analyze(c: CliContext, refs: list[str]) -> None:
    """Show the plan for building REFS without running it."""
    graph = c.service.analyze(pb.AnalyzeRequest(partitions=refs)).job_graph
    if c.as_json:
        emit_json({"job_graph": to_dict(graph)})
        return
    producer = {out: run.job_run_id for run in graph.job_runs for out in run.config.outputs}
    table(["job run", "job", "outputs", "waits for"], [
        (r.job_run_id[:8], r.job_label, " ".join(r.config.outputs),
         " ".join(sorted({producer[i.ref][:8] for i in r.config.inputs
                          if i.ref in producer and i.dep_type == pb.materialize})) or "-")
        for r in graph.job_runs])
    click.echo(f"\n{len(graph.job_runs)} job run(s); external inputs: {' '.join(graph.external_partitions) or 'none'}")


@cli.command()
@click.argument("refs", nargs=-1, required=True, callback=refs_argument)
@want_options
@click.option("--no-wait", is_flag=True, help="Print the want's id and return instead of following it.")
@pass_ctx
def build(c: CliContext, refs: list[str], no_wait: bool, **options) -> None:
    """Want REFS built now and follow the want with live progress.

    Exit 0 once satisfied, 1 if it expires, fails or is cancelled. Ctrl-C stops
    following; the want stays active (cancel it with `want cancel ID`).
    """
    service = c.service
    if c.local:
        # no daemon: this process serves the want until it ends, and fires no triggers (the daemon does)
        service.start_evaluator(triggers=False)
    want = create_want(c, refs, **options)
    if no_wait:
        show_created(c, want)
        return
    from databuild.cli.follow import follow_want  # loads protobuf: after the want, while the service plans

    progress = ProgressLine()
    try:
        want_id = want["want_id"]
        click.echo(f"want {want_id} created; following it (Ctrl-C stops following, the want stays)", err=True)
        outcome = follow_want(service, want_id, progress, lambda w: click.echo(
            f"want: {want_status(w.status)}" + (f" — {w.message}" if w.message else ""), err=True))
    finally:
        progress.close()
        if c.local:
            service.close()
    report_outcome(c, outcome)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8100, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--token", envvar="DATABUILD_TOKEN",
              help="Bearer token for mutating requests (required off loopback; a random one is printed otherwise).")
@click.option("--read-token", envvar="DATABUILD_READ_TOKEN",
              help="A read-only bearer token (for downstream graphs and dashboards): reads, never records.")
@click.option("--daemon", "as_daemon", is_flag=True, hidden=True, help="Run as the state directory's daemon.")
@click.option("--idle-timeout", default=900.0, show_default=True, type=click.FloatRange(min=0),
              help="Daemon only: exit after this many idle seconds without requests, running builds or "
                   "active wants (0: never).")
@click.option("--max-concurrent-builds", envvar="DATABUILD_MAX_CONCURRENT_BUILDS", default=4, show_default=True,
              type=click.IntRange(min=1), help="Builds run at once; the most urgent SLA goes first.")
@click.option("--parallelism", "-j", envvar="DATABUILD_PARALLELISM", type=click.IntRange(min=1),
              help="Job runs at once per build (default: number of cores).")
@click.option("--max-attempts", envvar="DATABUILD_MAX_ATTEMPTS", default=3, show_default=True,
              type=click.IntRange(min=1), help="Builds tried per want before it fails (its TTL may end it first).")
@click.option("--retry-backoff", envvar="DATABUILD_RETRY_BACKOFF", default="5s", show_default=True,
              callback=duration_option, help="Wait after a want's first failed build; doubles per failure.")
@click.option("--upstream", "upstreams", multiple=True, metavar="NAME=URL",
              help="Reach upstream NAME at URL instead of its BUILD file's (repeatable); beats "
                   "DATABUILD_UPSTREAM_<NAME>_URL. Its token: DATABUILD_UPSTREAM_<NAME>_TOKEN.")
@pass_ctx
def serve(c: CliContext, host: str, port: int, token: str | None, read_token: str | None, as_daemon: bool,
          idle_timeout: float, max_concurrent_builds: int, parallelism: int | None, max_attempts: int,
          retry_backoff: int, upstreams: tuple[str, ...]) -> None:
    """Run the graph's HTTP service (and its want evaluator) in the foreground."""
    from databuild.graph import parse_upstream_overrides
    from databuild.service.serve import ServiceOptions, run_daemon, run_foreground
    from databuild.wants import Policy

    options = ServiceOptions(Policy(max_attempts=max_attempts, backoff_initial_s=retry_backoff,
                                    max_concurrent_builds=max_concurrent_builds), parallelism,
                             parse_upstream_overrides(upstreams), c.executor)

    if host not in LOOPBACK and not token:
        raise click.BadParameter(f"binding {host} (not loopback) requires --token or DATABUILD_TOKEN",
                                 param_hint="--host")
    if read_token is not None and read_token == token:
        raise click.BadParameter("the read-only token must differ from --token", param_hint="--read-token")
    if as_daemon:
        run_daemon(c.graph, c.store, c.state_dir, c.log_dir, idle_timeout, options)
    else:
        if not token:  # mutating requests always need a token (docs/http-api.md): make one
            from databuild.service.daemon import new_token

            token = new_token()
            click.echo(f"token for mutating requests: {token}", err=True)
        run_foreground(c.graph, c.store, c.state_dir, c.log_dir, host, port, token, options,
                       lambda url: click.echo(f"serving {c.graph.label} on {url} (event log {c.bel_uri})", err=True),
                       read_token)


@cli.group()
def daemon() -> None:
    """The graph's local daemon: start, status, stop."""


def _show_daemon(c: CliContext, info) -> None:
    if c.as_json:
        emit_json({"running": info is not None, "pid": info.pid if info else None, "url": info.url if info else None,
                   "graph": c.graph.label, "state_dir": str(c.state_dir)})
    elif info is None:
        click.echo(f"no daemon for {c.graph.label} in {c.state_dir}")
    else:
        click.echo(f"daemon for {c.graph.label}: pid {info.pid}, {info.url} (state dir {c.state_dir})")


@daemon.command("start")
@pass_ctx
def daemon_start(c: CliContext) -> None:
    """Start the daemon unless one already runs."""
    from databuild.service.daemon import ensure_daemon

    _show_daemon(c, ensure_daemon(c.state_dir, c.graph.label, c.daemon_command()))


@daemon.command("status")
@pass_ctx
def daemon_status(c: CliContext) -> None:
    """Show the running daemon; exit 1 if there is none."""
    from databuild.service.daemon import running_daemon

    info = running_daemon(c.state_dir, c.graph.label)
    _show_daemon(c, info)
    if info is None:
        sys.exit(1)


@daemon.command("stop")
@pass_ctx
def daemon_stop(c: CliContext) -> None:
    """Stop the running daemon."""
    from databuild.service.daemon import stop_daemon

    info = stop_daemon(c.state_dir, c.graph.label)
    click.echo(f"stopped daemon pid {info.pid}" if info else f"no daemon for {c.graph.label} was running")


bel.register(cli)
feed.register(cli)
inspect.register(cli)
triggers.register(cli)
wants.register(cli)


def main(args: list[str] | None = None) -> NoReturn:
    """Run the CLI. Errors print one line (with ``--json``, the error document on stdout)
    and exit with the code their class declares (docs/errors.md)."""
    args = sys.argv[1:] if args is None else args
    ctx: click.Context | None = None
    try:
        try:
            ctx = cli.make_context(PROG_NAME, list(args))
            with ctx:
                cli.invoke(ctx)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as e:
            if isinstance(e, click.UsageError) or e.exit_code == 2:
                _fail(ctx, args, InvalidArgumentError(e.format_message()), e)
            e.show()
            sys.exit(e.exit_code)
        except DataBuildError as e:
            _fail(ctx, args, e)
        except BrokenPipeError:
            # The reader went away (`... | head`): as other commands do, stop quietly; stdout is
            # pointed at /dev/null so the interpreter's own flush at exit cannot fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)  # 128 + SIGPIPE, what a shell reports for a command killed by it
    except SystemExit as e:
        _leave(ctx, e.code)
    _leave(ctx, 0)


def _leave(ctx: click.Context | None, code: object) -> NoReturn:
    """Exit with ``code``. A call that only talked to a service skips the interpreter's
    teardown (freeing every module and object: 10-30 ms of a command's run, measured); one
    that opened the event log itself (``--local``, ``serve``) exits normally, closing it."""
    obj = ctx.obj if ctx is not None else None
    if isinstance(code, int) and isinstance(obj, CliContext) and not obj.opened_log:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            code = 141
        os._exit(code)
    sys.exit(code)


def _fail(ctx: click.Context | None, args: list[str], error: DataBuildError,
          usage: click.ClickException | None = None) -> NoReturn:
    as_json = ctx.obj.as_json if ctx is not None and isinstance(ctx.obj, CliContext) else "--json" in args
    if as_json:
        emit_json(error_document(error))
    elif usage is not None:
        usage.show()
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)
