"""The jobs page: a row per job of the graph with its run history (``DataBuildService.job_stats``);
and a job's runs page, newest first, keyset-paged (``list_job_runs``).

The rows are the graph's jobs (also those that never ran) and labels found only in the
log; their number is the graph's, so the page is one bounded list, not paged. The
statistics come from the service's incremental history index: a view reads only the
events appended since the last one, never the whole log.
"""

from __future__ import annotations

from urllib.parse import urlencode

from databuild.errors import InvalidArgumentError
from databuild.proto import databuild_pb2 as pb
from databuild.service.dashboard.page import LIST_LIMIT, View, doc
from databuild.timespec import format_duration


def seconds_text(seconds: float) -> str:
    """A duration as shown in the table: ``0.42s`` under 10 s (many jobs take well under a
    second, which ``format_duration``'s whole seconds would show as ``0s``), else ``1m30s``."""
    return f"{seconds:.2g}s" if seconds < 10 else format_duration(seconds)


def jobs(v: View) -> dict:
    """The rows of ``/jobs``: each job's statistics and, for declared jobs, its output patterns."""
    outputs = {j.label: list(j.output_patterns) for j in v.service.graph_info(pb.EmptyRequest()).jobs}
    rows = [{**doc(row), "outputs": outputs.get(row.job_label, []), "runs_url": job_runs_url(row.job_label),
             "p50": seconds_text(row.p50_seconds), "p95": seconds_text(row.p95_seconds)}
            for row in v.service.job_stats(pb.EmptyRequest()).jobs]
    return {"jobs": rows}


def job_runs_url(label: str, after: str = "") -> str:
    """The runs page of ``label`` (a query parameter: labels hold ``//`` and ``:``)."""
    return "/jobs/runs?" + urlencode({"job": label, **({"after": after} if after else {})})


def job_runs(v: View) -> dict:
    """The rows of ``/jobs/runs?job=LABEL``: a page of the job's runs, newest scheduled first."""
    label, after = v.query.get("job", "").strip(), v.query.get("after", "").strip()
    if not label:
        raise InvalidArgumentError("job is missing: the label of the job whose runs to show (/jobs/runs?job=//pkg:job)")
    found = v.service.list_job_runs(pb.ListJobRunsRequest(job_label=label, after=after, limit=LIST_LIMIT))
    return {"job_label": label, "runs": [doc(r) for r in found.job_runs], "limit": LIST_LIMIT,
            "next_url": job_runs_url(label, found.next_page_token) if found.next_page_token else "",
            "first_url": job_runs_url(label) if after else ""}
