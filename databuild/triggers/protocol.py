"""The trigger protocol: asking a trigger's binary what one firing wants (docs/triggers.md).

::

    BIN fire TICK_TIME          # a tick (or a manual firing): RFC 3339, in the trigger's timezone
    BIN fire --partition REF    # a reactive trigger: REF became available (once per partition of a firing)

The binary prints one JSON object on stdout and exits 0::

    {"wants": [{"partitions": ["reports/daily/2026-01-01"], "data_timestamp": "2026-01-01T00:00:00Z",
                "comment": "..."}]}

``data_timestamp`` (RFC 3339) and ``comment`` are optional; ``{"wants": []}`` wants
nothing this time. A non-zero exit, anything else on stdout, or a call still running at
the trigger's timeout (its process group is killed) is a TriggerProtocolError naming the
trigger and showing the end of its stderr. It runs like a job's ``config``: in its own
process group, without the service's tokens (``databuild.jobs.protocol.run_call``).
"""

from __future__ import annotations

import json

from databuild.errors import InvalidArgumentError
from databuild.jobs.protocol import JobProtocolError, run_call
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import parse_dict
from databuild.refs import validate_refs
from databuild.wants import MAX_WANTS_PER_REQUEST

#: The fields one element of "wants" may have.
WANT_FIELDS = ("partitions", "data_timestamp", "comment")


class TriggerProtocolError(JobProtocolError):
    """A trigger binary exited non-zero, timed out or printed something the protocol forbids."""

    code = "trigger_protocol_error"


def call_fire(who: str, executable: str, argument: list[str], timeout_s: float) -> list[pb.CreateWantRequest]:
    """Run ``BIN fire ARGUMENT...`` within ``timeout_s``; the wants it printed, validated."""
    stdout, stderr = run_call([executable, "fire", *argument], argument[-1:], who, TriggerProtocolError, timeout_s)
    return parse_fire(who, stdout, stderr)


def parse_fire(who: str, stdout: str, stderr: str = "") -> list[pb.CreateWantRequest]:
    """What ``BIN fire`` printed, as want requests (partitions, data timestamp, comment);
    TriggerProtocolError naming what is wrong."""
    try:
        doc = json.loads(stdout)
    except ValueError as e:
        raise TriggerProtocolError(who, f"fire printed invalid JSON ({e}): {stdout[:200]!r}", stderr) from None
    if not isinstance(doc, dict) or set(doc) != {"wants"} or not isinstance(doc["wants"], list):
        raise TriggerProtocolError(who, f'fire must print {{"wants": [...]}}, got {stdout[:200]!r}', stderr)
    if len(doc["wants"]) > MAX_WANTS_PER_REQUEST:
        raise TriggerProtocolError(who, f"fire printed {len(doc['wants'])} wants; at most {MAX_WANTS_PER_REQUEST}",
                                   stderr)
    return [_want(who, n, item, stderr) for n, item in enumerate(doc["wants"])]


def _want(who: str, n: int, item: object, stderr: str) -> pb.CreateWantRequest:
    if not isinstance(item, dict):
        raise TriggerProtocolError(who, f"wants[{n}] must be an object, got {item!r:.200}", stderr)
    unknown = sorted(set(item) - set(WANT_FIELDS))
    if unknown:
        raise TriggerProtocolError(who, f"wants[{n}] has unknown field(s) {', '.join(unknown)}; "
                                        f"known: {', '.join(WANT_FIELDS)}", stderr)
    partitions = item.get("partitions")
    if not isinstance(partitions, list) or not partitions:
        raise TriggerProtocolError(who, f"wants[{n}] needs a non-empty list of partitions, got {partitions!r:.200}",
                                   stderr)
    try:
        validate_refs(partitions)
        return parse_dict(item, pb.CreateWantRequest())
    except InvalidArgumentError as e:
        raise TriggerProtocolError(who, f"wants[{n}]: {e}", stderr) from None
