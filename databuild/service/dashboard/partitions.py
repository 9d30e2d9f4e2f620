"""The dashboard's partition pages and actions: the search (``/partitions``), a partition's
page (``/partitions/{ref}``: status, history, lineage) and its taint / mark-available forms.

Everything comes from ``DataBuildService.list_partitions`` (one keyset page by ref) and
``DataBuildService.partition`` (its state, its first events, the job run that produced it
and the newest runs that read it, each from an index), so a page costs what it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping
from urllib.parse import quote, urlencode

from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import enum_choices, enum_value
from databuild.service.dashboard.page import LIST_LIMIT, View, doc

if TYPE_CHECKING:  # actions.py lists this module's actions: imported at run time, a cycle
    from databuild.service.dashboard.actions import ActionRequest

#: Events of a partition's history shown on its page, the newest first.
HISTORY_ROWS = 50


def partition_url(ref: str) -> str:
    """The dashboard page of partition ``ref`` (its ``/`` kept, the rest quoted)."""
    return "/partitions/" + quote(ref, safe="/")


def _search_url(**params: str) -> str:
    return "/partitions?" + urlencode({k: v for k, v in params.items() if v})


def _search_filters(query: Mapping[str, str]) -> tuple[dict[str, str], pb.ListPartitionsRequest]:
    """The search's filters as given in the URL and the request they make; a bad status names
    itself here, a bad pattern in ``list_partitions`` (both 400)."""
    filters = {name: query.get(name, "").strip() for name in ("pattern", "status", "after")}
    request = pb.ListPartitionsRequest(pattern=filters["pattern"], after=filters["after"], limit=LIST_LIMIT)
    if filters["status"]:
        request.statuses.append(enum_value(pb.PartitionStatus.DESCRIPTOR, filters["status"], "partition status"))
    return filters, request


def partitions(v: View) -> dict:
    """``/partitions``: one keyset page of partitions by ref, filtered by glob and status."""
    filters, request = _search_filters(v.query)
    found = v.service.list_partitions(request)
    keep = {k: val for k, val in filters.items() if k != "after"}
    return {"filters": filters, "partitions": [doc(p) for p in found.partitions], "limit": LIST_LIMIT,
            "next_url": _search_url(**keep, after=found.next_page_token) if found.next_page_token else "",
            "first_url": _search_url(**keep) if filters["after"] else "",
            "status_choices": enum_choices(pb.PartitionStatus.DESCRIPTOR)}


def _run(run: pb.JobRunState) -> dict:
    """A job run as the lineage shows it: its document plus its input refs."""
    return {**doc(run), "inputs": [d.ref for d in run.config.inputs]}


def partition_detail(v: View) -> dict:
    """``/partitions/{ref}``: status, the newest ``HISTORY_ROWS`` events, lineage."""
    detail = v.service.partition(pb.GetPartitionRequest(ref=v.path_params["ref"]))
    state = detail.partition
    history = [doc(e) for e in reversed(detail.history[-HISTORY_ROWS:])]
    produced_by = _run(detail.produced_by) if detail.HasField("produced_by") else None
    return {"partition": doc(state), "history": history, "history_total": len(detail.history),
            "more_history": detail.more_history, "history_rows": HISTORY_ROWS,
            "produced_by": produced_by, "consumers": [_run(r) for r in detail.consumers],
            "more_consumers": detail.more_consumers,
            "can_taint": state.status == pb.PARTITION_STATUS_AVAILABLE,
            "can_mark_available": state.status != pb.PARTITION_STATUS_AVAILABLE and produced_by is None}


# -- actions -------------------------------------------------------------------------------


def taint(a: ActionRequest) -> str:
    """Taint the page's partition (it must be available; the reason is required)."""
    ref = a.path_params["ref"]
    a.service.taint(pb.TaintRequest(refs=[ref], reason=a.text("reason"), requested_by=f"dashboard:{a.actor}"))
    return partition_url(ref)


def mark_available(a: ActionRequest) -> str:
    """Record the page's partition as landed (refused for a partition a job of this graph builds)."""
    ref = a.path_params["ref"]
    a.service.mark_available(pb.MarkAvailableRequest(
        refs=[ref], comment=a.text("comment", f"marked available from the dashboard by {a.actor}")))
    return partition_url(ref)
