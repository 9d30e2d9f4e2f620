"""Click commands of ``<graph>.build``.

The launcher Bazel generates sets ``DATABUILD_GRAPH_MANIFEST`` (the manifest path)
and ``DATABUILD_RUNFILES`` (the binary's runfiles root).
"""

from __future__ import annotations

import json
import os
import sys

import click

from databuild.errors import DataBuildError
from databuild.graph import GraphSpec, load_manifest


def load_graph() -> GraphSpec:
    manifest = os.environ.get("DATABUILD_GRAPH_MANIFEST")
    if not manifest:
        raise click.UsageError("DATABUILD_GRAPH_MANIFEST is not set: run the <graph>.build binary Bazel built")
    return load_manifest(manifest, os.environ.get("DATABUILD_RUNFILES"))


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@click.pass_context
def cli(ctx: click.Context, as_json: bool) -> None:
    """DataBuild graph command."""
    ctx.obj = {"json": as_json}


@cli.group()
def jobs() -> None:
    """Jobs of this graph."""


@jobs.command("list")
@click.pass_context
def jobs_list(ctx: click.Context) -> None:
    """List the graph's jobs and the output patterns they declare."""
    graph = load_graph()
    if ctx.obj["json"]:
        doc = {"graph": graph.label, "jobs": [{"label": j.label, "outputs": list(j.outputs)} for j in graph.jobs]}
        click.echo(json.dumps(doc))
        return
    click.echo(f"graph {graph.label}")
    for job in graph.jobs:
        click.echo(f"  {job.label:<40} {', '.join(job.outputs) or '(via lookup)'}")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except DataBuildError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
