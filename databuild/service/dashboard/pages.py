"""The dashboard's pages: each one a ``Page`` (its route, title, nav label) whose context
function asks ``DataBuildService`` for what it shows, rendered by ``templates/<name>.html``.

Adding a page is one ``Page`` (``page.py``) in ``PAGES`` and one template; a page area
with several pages may keep its context functions in a module of its own. The overview's
sections show ``SECTION_ROWS`` rows each with a link to the rest; nothing counts all rows.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import urlencode

from databuild.errors import InvalidArgumentError
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import enum_choices, enum_value
from databuild.service.core import DataBuildService
from databuild.service.dashboard.crossgraph import upstreams_page
from databuild.service.dashboard.forms import WantForm
from databuild.service.dashboard.graphviz import quote
from databuild.service.dashboard.jobruns import job_run_detail
from databuild.service.dashboard.jobs import job_runs, jobs
from databuild.service.dashboard.page import LIST_LIMIT, Page, View, doc
from databuild.service.dashboard.partitions import partition_detail, partitions
from databuild.service.dashboard.triggers import triggers
from databuild.state.wants import sla_deadline_us
from databuild.statuses import ACTIVE_WANT_STATUSES

#: Rows per section of the overview; the section links to the full, paged list.
SECTION_ROWS = 10
#: Newest builds the overview looks through for recent failures.
RECENT_BUILDS = 100
#: The want list's ``status`` values besides the statuses: ``active`` = waiting, queued or building.
ACTIVE = "active"
SLA_CHOICES = ("violated", "at_risk")
_ACTIVE_BUILD = (pb.BUILD_STATUS_RECEIVED, pb.BUILD_STATUS_PLANNING, pb.BUILD_STATUS_EXECUTING)


def _wants(found: pb.ListWantsResponse) -> list[dict]:
    return [_want_row(w) for w in found.wants]


def _want_row(want: pb.WantState) -> dict:
    row = doc(want)
    deadline = sla_deadline_us(want.spec)
    row["sla_deadline_us"] = deadline
    return row


def _list_url(**params: str) -> str:
    return "/wants?" + urlencode({k: v for k, v in params.items() if v})


# -- overview -------------------------------------------------------------------------


def overview(v: View) -> dict:
    svc = v.service

    def section(title: str, request: pb.ListWantsRequest, more: str) -> dict:
        request.limit = SECTION_ROWS
        found = svc.list_wants(request)
        return {"title": title, "wants": _wants(found), "more": more if found.next_page_token else ""}

    sections = [
        section("Active wants", pb.ListWantsRequest(statuses=ACTIVE_WANT_STATUSES), _list_url(status=ACTIVE)),
        section("Waiting for data", pb.ListWantsRequest(statuses=[pb.WANT_STATUS_WAITING]), _list_url(status="waiting")),
        section("SLA violated (still active)", pb.ListWantsRequest(statuses=ACTIVE_WANT_STATUSES,
                                                                   sla=pb.SLA_FILTER_VIOLATED),
                _list_url(status=ACTIVE, sla="violated")),
        section("SLA at risk", pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK), _list_url(sla="at_risk")),
    ]
    running = []
    for build_id in svc.builds.running_ids():  # this process's running builds: few (its executor's capacity)
        running.append(doc(svc.build(pb.GetBuildRequest(build_id=build_id)).build))
    recent = svc.list_builds(pb.ListBuildsRequest(limit=RECENT_BUILDS)).builds
    failed = [doc(b) for b in recent if b.status == pb.BUILD_STATUS_FAILED][:SECTION_ROWS]
    upstreams = [doc(u) for u in svc.upstreams().upstreams]
    return {"sections": sections, "running": running, "failed": failed, "recent_builds": RECENT_BUILDS,
            "upstreams": upstreams}


# -- wants -------------------------------------------------------------------------------


def _want_filters(query: Mapping[str, str]) -> tuple[dict[str, str], pb.ListWantsRequest]:
    """The list's filters as given in the URL, and the request they make; bad values name themselves."""
    filters = {name: query.get(name, "").strip() for name in ("status", "pattern", "sla", "source", "after")}
    request = pb.ListWantsRequest(pattern=filters["pattern"], source=filters["source"], after=filters["after"],
                                  limit=LIST_LIMIT)
    status = filters["status"]
    if status == ACTIVE:
        request.statuses.extend(ACTIVE_WANT_STATUSES)
    elif status:
        request.statuses.append(enum_value(pb.WantStatus.DESCRIPTOR, status, "want status"))
    if filters["sla"]:
        if filters["sla"] not in SLA_CHOICES:
            raise InvalidArgumentError(f"unknown sla filter {filters['sla']!r}; known: {', '.join(SLA_CHOICES)}")
        request.sla = enum_value(pb.SlaFilter.DESCRIPTOR, filters["sla"], "sla filter")
    return filters, request


def wants(v: View) -> dict:
    filters, request = _want_filters(v.query)
    found = v.service.list_wants(request)
    keep = {k: val for k, val in filters.items() if k != "after"}
    return {"filters": filters, "wants": _wants(found),
            "next_url": _list_url(**keep, after=found.next_page_token) if found.next_page_token else "",
            "first_url": _list_url(**keep) if filters["after"] else "",
            "status_choices": [ACTIVE, *enum_choices(pb.WantStatus.DESCRIPTOR)], "sla_choices": SLA_CHOICES,
            "limit": LIST_LIMIT}


def new_want(v: View) -> dict:
    form = v.form or WantForm()
    return {"form": form}


def want_detail(v: View) -> dict:
    svc = v.service
    detail = svc.want(pb.GetWantRequest(want_id=v.path_params["want_id"]))
    want = detail.want
    build = None
    if want.build_id:
        found = svc.build(pb.GetBuildRequest(build_id=want.build_id))
        runs = [doc(r) for r in found.job_runs]
        build = {**doc(found.build), "runs": runs}
    return {"detail": doc(detail), "want": _want_row(want), "build": build,
            "active": want.status in ACTIVE_WANT_STATUSES}


# -- builds ------------------------------------------------------------------------------


def builds(v: View) -> dict:
    after = v.query.get("after", "").strip()
    found = v.service.list_builds(pb.ListBuildsRequest(after=after, limit=LIST_LIMIT))
    return {"builds": [doc(b) for b in found.builds], "limit": LIST_LIMIT,
            "next_url": "/builds?" + urlencode({"after": found.next_page_token}) if found.next_page_token else "",
            "first_url": "/builds" if after else ""}


def job_graph_dot(graph: pb.JobGraph) -> tuple[str, int]:
    """The build's plan as DOT (partitions as ellipses, job runs as boxes, input -> run ->
    output) and its number of nodes."""
    lines = ["digraph plan {", "rankdir=LR;", 'node [fontname="sans-serif", fontsize=10];']
    refs: set[str] = set()
    for run in graph.job_runs:
        lines.append(f"{quote('run:' + run.job_run_id)} [shape=box, label={quote(run.job_label)}];")
        for dep in run.config.inputs:
            refs.add(dep.ref)
            lines.append(f"{quote(dep.ref)} -> {quote('run:' + run.job_run_id)};")
        for out in run.config.outputs:
            refs.add(out)
            lines.append(f"{quote('run:' + run.job_run_id)} -> {quote(out)};")
    external = set(graph.external_partitions)
    for ref in sorted(refs | set(graph.requested_partitions)):
        style = ", style=dashed" if ref in external else ""
        lines.append(f"{quote(ref)} [shape=ellipse{style}];")
    lines.append("}")
    return "\n".join(lines), len(graph.job_runs) + len(refs | set(graph.requested_partitions))


def build_detail(v: View) -> dict:
    found = v.service.build(pb.GetBuildRequest(build_id=v.path_params["build_id"]))
    graph = found.build.job_graph
    picture = None
    if graph.job_runs:
        dot, nodes = job_graph_dot(graph)
        picture = v.pictures.picture(found.build.build_id, dot, nodes)
    return {"build": doc(found.build), "runs": [doc(r) for r in found.job_runs], "picture": picture,
            "planned": [{"job_run_id": r.job_run_id, "job_label": r.job_label,
                         "inputs": [d.ref for d in r.config.inputs], "outputs": list(r.config.outputs)}
                        for r in graph.job_runs]}


# -- SLA ---------------------------------------------------------------------------------


def _predictions(svc: DataBuildService, found: list[pb.WantState]) -> dict[str, dict]:
    """Predicted completion per want id, where the service predicts (``predict_wants``,
    docs/wants.md#sla-prediction); an empty map where it does not."""
    predict = getattr(svc, "predict_wants", None)
    if predict is None:
        return {}
    out = {}
    for want_id, p in predict(found).items():
        out[want_id] = {"completion_us": p.completion_us, "at_risk": p.at_risk}
    return out


def sla(v: View) -> dict:
    svc = v.service
    violated = svc.list_wants(pb.ListWantsRequest(statuses=ACTIVE_WANT_STATUSES, sla=pb.SLA_FILTER_VIOLATED,
                                                  after=v.query.get("violated_after", ""), limit=LIST_LIMIT))
    risky = svc.list_wants(pb.ListWantsRequest(sla=pb.SLA_FILTER_AT_RISK, after=v.query.get("risk_after", ""),
                                               limit=LIST_LIMIT))
    predicted = _predictions(svc, [*violated.wants, *risky.wants])
    rows = lambda found: [{**_want_row(w), "eta_us": predicted.get(w.spec.want_id, {}).get("completion_us")}  # noqa: E731
                          for w in found.wants]
    return {"violated": rows(violated), "at_risk": rows(risky),
            "violated_next": f"/sla?violated_after={violated.next_page_token}" if violated.next_page_token else "",
            "risk_next": f"/sla?risk_after={risky.next_page_token}" if risky.next_page_token else "",
            "predicts": bool(getattr(svc, "predict_wants", None))}


# -- sign-in -----------------------------------------------------------------------------


def sign_in(v: View) -> dict:
    return {"next": v.extra.get("next") or v.query.get("next", "/"), "error": v.extra.get("error", "")}


PAGES: tuple[Page, ...] = (
    Page("overview", "/", "Overview", overview, nav="Overview"),
    Page("wants", "/wants", "Wants", wants, nav="Wants"),
    Page("new_want", "/wants/new", "New want", new_want, nav="New want", live=False),
    Page("want", "/wants/{want_id:path}", "Want", want_detail),
    Page("builds", "/builds", "Builds", builds, nav="Builds"),
    Page("build", "/builds/{build_id}", "Build", build_detail),
    Page("job_run", "/job-runs/{job_run_id}", "Job run", job_run_detail),
    Page("partitions", "/partitions", "Partitions", partitions, nav="Partitions"),
    Page("partition", "/partitions/{ref:path}", "Partition", partition_detail),
    Page("sla", "/sla", "SLA", sla, nav="SLA"),
    Page("jobs", "/jobs", "Jobs", jobs, nav="Jobs"),
    Page("job_runs", "/jobs/runs", "Job runs", job_runs),
    Page("triggers", "/triggers", "Triggers", triggers, nav="Triggers"),
    Page("upstreams", "/upstreams", "Cross-graph", upstreams_page, nav="Cross-graph"),
    Page("sign_in", "/sign-in", "Sign in", sign_in, live=False),
)

BY_NAME: dict[str, Page] = {p.name: p for p in PAGES}
