"""The cross-graph page (``/upstreams``): the graphs this one reads partitions from, each
one's patterns and sync state (``DataBuildService.upstreams``), and a picture of them.

This service knows its own upstreams only: what those graphs read from in turn is on
their own dashboards, so the picture is one level deep and says so. The page asks the
upstreams nothing (a page view costs this service one answer of its own state).
"""

from __future__ import annotations

from databuild.proto import databuild_pb2 as pb
from databuild.service.dashboard.graphviz import quote
from databuild.service.dashboard.page import View, doc

#: Node fill per sync state: the picture reads like the state column.
STATE_COLOURS = {
    pb.UPSTREAM_SYNC_STATE_OK: "#dff3e6",
    pb.UPSTREAM_SYNC_STATE_STARTING: "#fff1d6",
    pb.UPSTREAM_SYNC_STATE_BACKOFF: "#fde4e1",
    pb.UPSTREAM_SYNC_STATE_RESET: "#fde4e1",
    pb.UPSTREAM_SYNC_STATE_UNAUTHORISED: "#fde4e1",
    pb.UPSTREAM_SYNC_STATE_STOPPED: "#eef0f5",
}


def upstreams_dot(label: str, upstreams: list[pb.UpstreamStatus], labels: dict[str, str]) -> tuple[str, int]:
    """DOT of this graph (``label``) and the graphs it reads from: one box per upstream (its
    name, graph label and URL, filled by its sync state), an edge from it to this graph
    labelled with the patterns read; the number of nodes."""
    lines = ["digraph upstreams {", "rankdir=LR;", 'node [fontname="sans-serif", fontsize=10, shape=box, '
             'style="rounded,filled", fillcolor="#ffffff"];', 'edge [fontname="sans-serif", fontsize=9];',
             f"{quote('graph:' + label)} [label={quote(label + chr(10) + '(this graph)')}, penwidth=2];"]
    for u in upstreams:
        text = "\n".join(x for x in (u.name, labels.get(u.name, ""), u.url) if x)
        state = pb.UpstreamSyncState.Name(u.state).removeprefix("UPSTREAM_SYNC_STATE_").lower()
        colour = STATE_COLOURS.get(u.state, "#ffffff")
        lines.append(f"{quote('upstream:' + u.name)} [label={quote(text + chr(10) + state)}, "
                     f"fillcolor={quote(colour)}];")
        lines.append(f"{quote('upstream:' + u.name)} -> {quote('graph:' + label)} "
                     f"[label={quote(chr(10).join(u.patterns))}];")
    lines.append("}")
    return "\n".join(lines), len(upstreams) + 1


def upstreams_page(v: View) -> dict:
    """Each upstream's sync as the service reports it, and the picture of the graphs."""
    svc = v.service
    found = list(svc.upstreams().upstreams)
    label = svc.graph.label
    labels = {u.name: u.label for u in svc.graph.upstreams}  # the BUILD file's graph labels
    picture = None
    if found:
        dot, nodes = upstreams_dot(label, found, labels)
        picture = v.pictures.picture("upstreams", dot, nodes)
    return {"upstreams": [{**doc(u), "label": labels.get(u.name, "")} for u in found], "picture": picture,
            "label": label}
