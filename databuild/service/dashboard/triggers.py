"""The triggers page and its actions (pause, resume, fire now) over the service's trigger
operations (``triggers``, ``pause_trigger``, ``resume_trigger``, ``fire_trigger``).

The page lists every trigger the graph declares (a bounded list: the graph's, not
paged), each with its state as folded from the log. Each action is a form per trigger;
its error (an unknown trigger: 404; a reactive trigger fired without a partition, or a
firing that failed: 4xx) re-renders the page with the message next to that trigger's
forms, or at the top when the trigger is not one of the page's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from databuild.proto import databuild_pb2 as pb
from databuild.service.dashboard.page import View, doc
from databuild.state.reducers import LAST_FIRING_ITEMS

if TYPE_CHECKING:  # actions.py lists this module's actions: no import back at run time
    from databuild.service.dashboard.actions import ActionRequest


def triggers(v: View) -> dict:
    """The rows of ``/triggers``; ``error_trigger`` names the trigger an action failed on."""
    rows = [doc(t) for t in v.service.triggers(pb.EmptyRequest()).triggers]
    failed = v.path_params.get("name", "")  # set when an action's error re-renders this page
    return {"triggers": rows, "error_trigger": failed if any(r["name"] == failed for r in rows) else "",
            "error_elsewhere": bool(failed) and not any(r["name"] == failed for r in rows),
            "last_items": LAST_FIRING_ITEMS}  # a state keeps the first this many refs and want ids of a firing


def _by(a: ActionRequest) -> str:
    # Recorded with the pause or firing, as the CLI records cli:<user>.
    return f"dashboard:{a.actor}"


def _back(name: str) -> str:
    return f"/triggers#trigger-{quote(name, safe='')}"


def pause_trigger(a: ActionRequest) -> str:
    """Pause the trigger; pausing a paused one records nothing."""
    t = a.service.pause_trigger(pb.PauseTriggerRequest(name=a.path_params["name"], requested_by=_by(a),
                                                       reason=a.text("reason")))
    return _back(t.state.name)


def resume_trigger(a: ActionRequest) -> str:
    """Resume the trigger from now on (what came due while paused is not fired)."""
    t = a.service.resume_trigger(pb.PauseTriggerRequest(name=a.path_params["name"], requested_by=_by(a),
                                                        reason=a.text("reason")))
    return _back(t.state.name)


def fire_trigger(a: ActionRequest) -> str:
    """Fire the trigger now: a schedule for the current time, a reactive one for the
    partition typed in its form (the service refuses a reactive firing without one)."""
    fired = a.service.fire_trigger(pb.FireTriggerRequest(name=a.path_params["name"], partition=a.text("partition"),
                                                         requested_by=_by(a)))
    return _back(fired.firing.trigger)
