"""The dashboard's actions: each one an ``Action`` (a POST route, the page it belongs to,
what it does), so adding one is an ``Action`` in ``ACTIONS`` and a form in its page.

An action is a urlencoded form, checked for the write token and the session's CSRF token
by ``routes.py`` before ``perform`` runs (on a worker thread, calling service methods
only). ``perform`` answers the URL to send the browser to (303, Post/Redirect/Get); a
``DataBuildError`` it raises re-renders ``page`` with the error's status and the message
as ``action_error``, next to the form (``_macros.html``: ``action_error_note``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import quote

from databuild.proto import databuild_pb2 as pb
from databuild.service.core import DataBuildService
from databuild.service.dashboard import partitions
from databuild.service.dashboard import triggers


@dataclass(frozen=True)
class ActionRequest:
    """One submitted action as ``perform`` sees it."""

    service: DataBuildService
    path_params: Mapping[str, str]
    form: Mapping[str, str]
    #: Who acts: the session's source name, recorded where the service records one.
    actor: str

    def text(self, name: str, default: str = "") -> str:
        """The form field ``name``, stripped; ``default`` when empty or absent."""
        return self.form.get(name, "").strip() or default


@dataclass(frozen=True)
class Action:
    """A POST route ``path`` whose form sits on page ``page`` (``pages.BY_NAME``)."""

    name: str
    path: str
    page: str
    perform: Callable[[ActionRequest], str]


def cancel_want(a: ActionRequest) -> str:
    state = a.service.cancel_want(pb.CancelWantRequest(
        want_id=a.path_params["want_id"], reason=a.text("reason", "cancelled from the dashboard"),
        requested_by="dashboard"))
    return f"/wants/{quote(state.spec.want_id)}"


ACTIONS: tuple[Action, ...] = (
    Action("cancel_want", "/wants/{want_id}/cancel", "want", cancel_want),
    Action("taint", "/partitions/{ref:path}/taint", "partition", partitions.taint),
    Action("mark_available", "/partitions/{ref:path}/mark-available", "partition", partitions.mark_available),
    Action("pause_trigger", "/triggers/{name}/pause", "triggers", triggers.pause_trigger),
    Action("resume_trigger", "/triggers/{name}/resume", "triggers", triggers.resume_trigger),
    Action("fire_trigger", "/triggers/{name}/fire", "triggers", triggers.fire_trigger),
)
