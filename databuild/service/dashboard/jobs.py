"""The jobs page: a row per job of the graph with its run history (``DataBuildService.job_stats``).

The rows are the graph's jobs (also those that never ran) and labels found only in the
log; their number is the graph's, so the page is one bounded list, not paged. The
statistics come from the service's incremental history index: a view reads only the
events appended since the last one, never the whole log.
"""

from __future__ import annotations

from databuild.proto import databuild_pb2 as pb
from databuild.service.dashboard.page import View, doc
from databuild.timespec import format_duration


def seconds_text(seconds: float) -> str:
    """A duration as shown in the table: ``0.42s`` under 10 s (many jobs take well under a
    second, which ``format_duration``'s whole seconds would show as ``0s``), else ``1m30s``."""
    return f"{seconds:.2g}s" if seconds < 10 else format_duration(seconds)


def jobs(v: View) -> dict:
    """The rows of ``/jobs``: each job's statistics and, for declared jobs, its output patterns."""
    outputs = {j.label: list(j.output_patterns) for j in v.service.graph_info(pb.EmptyRequest()).jobs}
    rows = [{**doc(row), "outputs": outputs.get(row.job_label, []),
             "p50": seconds_text(row.p50_seconds), "p95": seconds_text(row.p95_seconds)}
            for row in v.service.job_stats(pb.EmptyRequest()).jobs]
    return {"jobs": rows}
