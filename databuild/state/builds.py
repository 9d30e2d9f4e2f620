"""Index terms of builds, so build lists page newest first without reading every build.

``("requested", time)``: when the build was requested, as sortable text (see
``time_term``; 0 for a build recorded without its request). Entries are ordered by
(value, build id), which is the order ``StateStore.builds_newest_first`` walks backwards.
"""

from __future__ import annotations

from databuild.events import Term
from databuild.proto import databuild_pb2 as pb
from databuild.state.wants import time_term

REQUESTED = "requested"


def build_order(build: pb.BuildState) -> tuple[str, str]:
    """The build's place in request order: ``(time_term(requested_at), build_id)``, the
    ``(value, key)`` of its ``requested`` index entry."""
    return time_term(build.requested_at.ToMicroseconds()), build.build_id


def build_terms(build: pb.BuildState) -> tuple[Term, ...]:
    """The index terms of ``build`` (see the module docstring)."""
    return ((REQUESTED, build_order(build)[0]),)
