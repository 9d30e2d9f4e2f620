"""The want evaluator's decisions: pure functions of (want, state, now).

``decide`` moves one want along: SLA violation, satisfaction, TTL expiry, retry
after a failed build, waiting on external data, or "buildable". ``schedule`` turns
the buildable wants into builds: wants on partitions already being built ride on
that build, overlapping wants share one build, and with limited capacity the most
urgent deadline goes first. The service's runner gathers the inputs (state reads,
plans) and carries out the outcome (appends events, starts builds); nothing here
reads a clock or does I/O, so every rule is tested in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from databuild.proto import databuild_pb2 as pb
from databuild.state import ACTIVE_BUILD_STATUSES, ACTIVE_WANT_STATUSES
from databuild.state.wants import (
    DEPENDENCIES, PLAN_INPUTS, sla_deadline_us, ttl_deadline_us, urgency_us, waiting_message,
)

AVAILABLE = pb.PARTITION_STATUS_AVAILABLE
W = pb.WantStatus


@dataclass(frozen=True)
class Policy:
    """How hard wants are pursued."""

    max_attempts: int = 3             # builds tried before a want fails (TTL may end it first)
    backoff_initial_s: float = 5.0    # wait after the first failure; doubles after each
    backoff_max_s: float = 600.0
    max_concurrent_builds: int = 4

    def backoff_us(self, attempts: int) -> int:
        """Wait before attempt ``attempts + 1``."""
        seconds = min(self.backoff_initial_s * 2 ** max(attempts - 1, 0), self.backoff_max_s)
        return int(seconds * 1_000_000)


@dataclass(frozen=True)
class WantView:
    """One active want and the state its decision depends on.

    ``statuses`` covers its partitions, external dependencies and plan leaves; ``made``
    maps those of its partitions that are available to (index of the event that made
    each available, the build that produced it or "" if it came from outside);
    ``build`` is the build it rides on (if building); ``leaves`` are the external
    inputs of its plan, None when it was not planned (planning is I/O, done by the
    caller only for wants that get that far); ``plan_error`` is why planning failed.
    """

    want: pb.WantState
    statuses: Mapping[str, int]
    build: pb.BuildState | None = None
    leaves: Sequence[str] | None = None
    plan_error: str = ""
    plan_error_permanent: bool = False
    made: Mapping[str, tuple[int, str]] = field(default_factory=dict)

    def unavailable(self, refs: Sequence[str]) -> list[str]:
        """Those of ``refs`` not available."""
        return [r for r in refs if self.statuses.get(r) != AVAILABLE]

    @property
    def missing(self) -> list[str]:
        """Its partitions not available yet."""
        return self.unavailable(self.want.spec.partitions)


@dataclass
class Decision:
    """What ``decide`` concluded for one want."""

    events: list[pb.Event] = field(default_factory=list)
    needs_plan: bool = False      # call again with ``leaves`` (or ``plan_error``) filled in
    buildable: bool = False       # hand to ``schedule``
    again: bool = False           # queued again with nothing to wait for: decide again at once


@dataclass(frozen=True)
class BuildOrder:
    """A build to start: its id, the refs to build and the wants it serves."""

    build_id: str
    refs: tuple[str, ...]
    want_ids: tuple[str, ...]


def _ev(**payload) -> pb.Event:
    return pb.Event(**payload)


def _status(want: pb.WantState, status: int, **fields) -> pb.Event:
    change = pb.WantStatusChanged(want_id=want.spec.want_id, status=status, **fields)
    return _ev(want_status_changed=change)


def _moved(want: pb.WantState, status: int, waiting_for: Sequence[str] = (), message: str = "") -> bool:
    """Whether recording this status would change anything (keeps re-evaluation quiet)."""
    return (want.status, list(want.waiting_for), want.message) != (status, list(waiting_for), message)


def decide(view: WantView, now_us: int, policy: Policy) -> Decision:
    """The next step for one want at ``now_us``."""
    want, out = view.want, Decision()
    if want.status not in ACTIVE_WANT_STATUSES:
        return out
    wid, spec = want.spec.want_id, want.spec
    sla = sla_deadline_us(spec)
    if sla is not None and not want.sla_violated and now_us >= sla:
        deadline = pb.WantSlaViolated(want_id=wid)
        deadline.sla_deadline.FromMicroseconds(sla)
        out.events.append(_ev(want_sla_violated=deadline))
    if not view.missing:
        out.events.append(_ev(want_satisfied=pb.WantSatisfied(want_id=wid, build_id=_produced_by(view))))
        return out
    if now_us >= ttl_deadline_us(spec):
        expired = pb.WantExpired(want_id=wid)
        expired.ttl_deadline.FromMicroseconds(ttl_deadline_us(spec))
        out.events.append(_ev(want_expired=expired))
        return out
    if want.status == W.WANT_STATUS_BUILDING:
        if view.build is not None and view.build.status in ACTIVE_BUILD_STATUSES:
            return out  # riding on it
        moved = _after_build(view, now_us, policy)
        out.events.append(moved)
        change = moved.want_status_changed
        out.again = change.status == W.WANT_STATUS_QUEUED and not change.HasField("not_before")
        return out
    waiting = view.unavailable(spec.external_dependencies)
    if waiting:
        out.events += _wait(want, waiting, DEPENDENCIES)
        return out
    if want.HasField("not_before") and now_us < want.not_before.ToMicroseconds():
        return out  # retry backoff: no planning either, which could fail and use up an attempt
    if view.leaves is None and not view.plan_error:
        out.needs_plan = True
        return out
    if view.plan_error:
        out.events.append(_plan_failed(view, now_us, policy))
        return out
    waiting = view.unavailable(view.leaves)
    if waiting:
        out.events += _wait(want, waiting, PLAN_INPUTS)
        return out
    out.buildable = True
    return out


def _produced_by(view: WantView) -> str:
    """The build that produced the want's partitions: the one it rides if that built any of
    them, else the one that made the last of them available; "" if all were available before
    the want was created (or the last came from outside)."""
    want = view.want
    fresh = [view.made[r] for r in want.spec.partitions if r in view.made and view.made[r][0] > want.created_index]
    if not fresh:
        return ""
    if want.status == W.WANT_STATUS_BUILDING and any(build == want.build_id for _, build in fresh):
        return want.build_id
    return max(fresh)[1]


def _wait(want: pb.WantState, refs: Sequence[str], what: str) -> list[pb.Event]:
    message = waiting_message(refs, what)
    if not _moved(want, W.WANT_STATUS_WAITING, refs, message):
        return []
    event = _status(want, W.WANT_STATUS_WAITING, waiting_for=refs, message=message, attempt=want.attempts)
    if want.HasField("not_before"):  # a retry backoff outlives the wait
        event.want_status_changed.not_before.CopyFrom(want.not_before)
    return [event]


def _retry_or_fail(want: pb.WantState, error: str, now_us: int, policy: Policy, build_id: str = "") -> pb.Event:
    """After attempt ``want.attempts`` (build ``build_id``) failed with ``error``: back off and queue, or give up."""
    if want.attempts >= policy.max_attempts:
        return _status(want, W.WANT_STATUS_FAILED, attempt=want.attempts, error=error, build_id=build_id,
                       message=f"gave up after {want.attempts} failed attempt(s): {error}")
    change = pb.WantStatusChanged(
        want_id=want.spec.want_id, status=W.WANT_STATUS_QUEUED, attempt=want.attempts, error=error,
        build_id=build_id, message=f"attempt {want.attempts} failed; retrying after backoff")
    change.not_before.FromMicroseconds(now_us + policy.backoff_us(want.attempts))
    return _ev(want_status_changed=change)


def _after_build(view: WantView, now_us: int, policy: Policy) -> pb.Event:
    """The want's move once the build it rode ended with some of its partitions missing."""
    want, build = view.want, view.build
    if build is None or build.status == pb.BUILD_STATUS_COMPLETED:
        # The build ended well but left some of ours missing (e.g. a partition it
        # delegated failed elsewhere): try again at once, not counted as a failure.
        return _status(want, W.WANT_STATUS_QUEUED, attempt=want.attempts,
                       message=f"build {want.build_id} ended without {', '.join(view.missing)}; queued again")
    reason = build.message or pb.BuildStatus.Name(build.status).removeprefix("BUILD_STATUS_").lower()
    if build.executor_lost:
        # The service died under it (crash, SIGKILL): not the want's failure. Queued again at
        # once, and the attempt it started is given back.
        return _status(want, W.WANT_STATUS_QUEUED, attempt=max(want.attempts - 1, 0), build_id=build.build_id,
                       message=f"build {build.build_id} was lost with its executor ({reason}); "
                               "queued again, not counted as an attempt")
    return _retry_or_fail(want, f"build {build.build_id} failed: {reason}", now_us, policy, build.build_id)


def _plan_failed(view: WantView, now_us: int, policy: Policy) -> pb.Event:
    want = view.want
    error = f"planning failed: {view.plan_error}"
    if view.plan_error_permanent:
        return _status(want, W.WANT_STATUS_FAILED, attempt=want.attempts, error=error, message=error)
    attempted = pb.WantState()
    attempted.CopyFrom(want)
    attempted.attempts += 1
    return _retry_or_fail(attempted, error, now_us, policy)


def schedule(
    buildable: Sequence[WantView],
    in_flight: Mapping[str, str],
    running_builds: int,
    policy: Policy,
    new_id: Callable[[], str],
) -> tuple[list[pb.Event], list[BuildOrder]]:
    """Start builds for buildable wants, most urgent first, within capacity.

    ``in_flight`` maps refs that live builds are producing to those builds. A want
    all of whose missing partitions are in flight rides on that build. The others
    are grouped by overlapping partitions, one build per group, while capacity
    lasts; the rest stay queued.
    """
    events: list[pb.Event] = []
    groups: list[list[WantView]] = []
    for view in sorted(buildable, key=lambda v: (urgency_us(v.want.spec), v.want.spec.want_id)):
        missing = view.missing
        if all(r in in_flight for r in missing):
            events.append(_status(view.want, W.WANT_STATUS_BUILDING, build_id=in_flight[missing[0]],
                                  attempt=view.want.attempts + 1, message="riding on a running build"))
        else:
            groups.append([view])
    groups = _merge_overlapping(groups)
    orders: list[BuildOrder] = []
    for group in groups[: max(policy.max_concurrent_builds - running_builds, 0)]:
        order = BuildOrder(new_id(), tuple(dict.fromkeys(r for v in group for r in v.missing)),
                           tuple(v.want.spec.want_id for v in group))
        orders.append(order)
        events += [_status(v.want, W.WANT_STATUS_BUILDING, build_id=order.build_id, attempt=v.want.attempts + 1,
                           message=f"building in {order.build_id}") for v in group]
    for group in groups[len(orders):]:
        events += [_status(v.want, W.WANT_STATUS_QUEUED, attempt=v.want.attempts,
                           message="queued: waiting for build capacity")
                   for v in group if _moved(v.want, W.WANT_STATUS_QUEUED, (), "queued: waiting for build capacity")]
    return events, orders


def _merge_overlapping(groups: list[list[WantView]]) -> list[list[WantView]]:
    """Union groups sharing a missing partition; keeps the order of each group's first (most urgent) want."""
    owner: dict[str, int] = {}
    parent = list(range(len(groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, group in enumerate(groups):
        for ref in group[0].missing:
            if ref in owner:
                a, b = sorted((root(owner[ref]), root(i)))
                parent[b] = a
            else:
                owner[ref] = i
    merged: dict[int, list[WantView]] = {}
    for i, group in enumerate(groups):
        merged.setdefault(root(i), []).extend(group)
    return [merged[k] for k in sorted(merged)]
