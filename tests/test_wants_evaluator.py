"""Want evaluator rules (docs/wants.md), tested in memory with injected time.

Each test folds a ``want_created`` event, asks ``decide``/``schedule`` what to do at
a given microsecond, folds the returned events back with the reducers and checks
both the events and the resulting ``WantState``.
"""

from __future__ import annotations

import itertools


from databuild.proto import databuild_pb2 as pb
from databuild.state import EMPTY, WANT, fold
from databuild.state.wants import time_term, want_terms
from databuild.wants.evaluator import BuildOrder, Policy, WantView, decide, schedule

T0 = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z in microseconds
S = 1_000_000
W = pb.WantStatus
AVAILABLE = pb.PARTITION_STATUS_AVAILABLE
POLICY = Policy(max_attempts=3, backoff_initial_s=5, backoff_max_s=600, max_concurrent_builds=4)


def apply(state, events, now):
    """Fold ``events`` as the log would append them: next indexes, timestamp ``now``."""
    stamped = []
    for i, e in enumerate(events, state.last_index + 1):
        c = pb.Event()
        c.CopyFrom(e)
        c.index = i
        c.timestamp.FromMicroseconds(now)
        stamped.append(c)
    return fold(state, stamped)


def create(state=EMPTY, wid="w1", parts=("d/1",), ttl=3600, sla=0, data_ts=T0, ext=()):
    spec = pb.WantSpec(want_id=wid, partitions=parts, ttl_seconds=ttl, sla_seconds=sla, external_dependencies=ext,
                       source=pb.WantSource(type=pb.WANT_SOURCE_TYPE_CLI, name="alice"))
    spec.created_at.FromMicroseconds(T0)
    spec.data_timestamp.FromMicroseconds(data_ts)
    return apply(state, [pb.Event(want_created=pb.WantCreated(want=spec))], T0)


def view(state, wid="w1", avail=(), **kw):
    return WantView(state.get(WANT, wid), {r: AVAILABLE for r in avail}, **kw)


def kinds(events):
    return [e.WhichOneof("payload") for e in events]


def ids():
    counter = itertools.count(1)
    return lambda: f"b{next(counter)}"


def test_satisfied_at_once_when_all_available():
    """All partitions available -> want_satisfied with no build id; the want ends."""
    s = create(parts=("d/1", "d/2"))
    d = decide(view(s, avail=("d/1", "d/2")), T0, POLICY)
    assert kinds(d.events) == ["want_satisfied"] and d.events[0].want_satisfied.build_id == ""
    w = apply(s, d.events, T0).get(WANT, "w1")
    assert (w.status, w.build_id, w.finished_at.ToMicroseconds()) == (W.WANT_STATUS_SATISFIED, "", T0)


def test_ttl_expiry_boundary_and_satisfied_wins():
    """Expires exactly at created_at+ttl (not a microsecond before); availability at that time wins."""
    s = create(ttl=60)
    deadline = T0 + 60 * S
    assert "want_expired" not in kinds(decide(view(s, leaves=[]), deadline - 1, POLICY).events)
    d = decide(view(s), deadline, POLICY)
    assert kinds(d.events) == ["want_expired"]
    assert d.events[0].want_expired.ttl_deadline.ToMicroseconds() == deadline
    assert apply(s, d.events, deadline).get(WANT, "w1").status == W.WANT_STATUS_EXPIRED
    assert kinds(decide(view(s, avail=("d/1",)), deadline, POLICY).events) == ["want_satisfied"]


def test_sla_violated_once_and_want_goes_on():
    """data_timestamp+sla passed -> one want_sla_violated; the want stays active; no repeat."""
    s = create(sla=600, data_ts=T0 - 300 * S)
    deadline = T0 + 300 * S
    assert decide(view(s, leaves=[]), deadline - 1, POLICY).events == []
    d = decide(view(s, leaves=[]), deadline, POLICY)
    assert kinds(d.events) == ["want_sla_violated"] and d.buildable
    assert d.events[0].want_sla_violated.sla_deadline.ToMicroseconds() == deadline
    s = apply(s, d.events, deadline)
    w = s.get(WANT, "w1")
    assert w.sla_violated and w.status == W.WANT_STATUS_QUEUED
    again = decide(view(s, leaves=[]), deadline + 10 * S, POLICY)
    assert again.events == [] and again.buildable


def test_sla_zero_means_no_sla():
    """sla_seconds 0: never violated, however old the data."""
    s = create(sla=0, data_ts=0)
    assert decide(view(s, leaves=[]), T0 + 3000 * S, POLICY).events == []


def test_external_dependencies_then_plan_leaves():
    """Missing external deps -> created WAITING (no second event needed; quiet on repeat);
    then needs_plan; then leaves decide."""
    s = create(ext=("raw/1",))
    want = s.get(WANT, "w1")
    assert (want.status, list(want.waiting_for)) == (W.WANT_STATUS_WAITING, ["raw/1"])
    assert want.message == "waiting for external dependencies: raw/1"
    d = decide(view(s), T0, POLICY)
    assert d.events == [] and not d.needs_plan
    assert decide(view(s), T0 + S, POLICY).events == []  # no churn
    d = decide(view(s, avail=("raw/1",)), T0 + 2 * S, POLICY)
    assert d.needs_plan and d.events == [] and not d.buildable
    d = decide(view(s, avail=("raw/1", "raw/2"), leaves=["raw/2"]), T0 + 2 * S, POLICY)
    assert d.buildable and d.events == []
    d = decide(view(s, avail=("raw/1",), leaves=["raw/2"]), T0 + 2 * S, POLICY)
    assert not d.buildable and list(d.events[0].want_status_changed.waiting_for) == ["raw/2"]
    w = apply(s, d.events, T0 + 2 * S).get(WANT, "w1")
    assert (w.status, list(w.waiting_for)) == (W.WANT_STATUS_WAITING, ["raw/2"]) and "raw/2" in w.message


def test_plan_errors_transient_and_permanent():
    """Transient plan error -> QUEUED, attempt 1, backoff not_before, error; permanent -> FAILED."""
    s = create()
    d = decide(view(s, plan_error="job config timed out"), T0, POLICY)
    change = d.events[0].want_status_changed
    assert (change.status, change.attempt) == (W.WANT_STATUS_QUEUED, 1)
    assert change.not_before.ToMicroseconds() == T0 + 5 * S and "timed out" in change.error
    w = apply(s, d.events, T0).get(WANT, "w1")
    assert (w.attempts, w.not_before.ToMicroseconds()) == (1, T0 + 5 * S) and "timed out" in w.last_error
    d = decide(view(s, plan_error="no job produces d/1", plan_error_permanent=True), T0, POLICY)
    w = apply(s, d.events, T0).get(WANT, "w1")
    assert w.status == W.WANT_STATUS_FAILED and "no job produces" in w.last_error


def test_plan_error_backoff_is_respected():
    """While a plan error's backoff lasts, decide neither asks for a plan nor counts another attempt."""
    s = create()
    s = apply(s, decide(view(s, plan_error="timeout"), T0, POLICY).events, T0)
    d = decide(view(s), T0 + S, POLICY)
    assert not d.needs_plan and d.events == []


def test_schedule_aggregates_overlapping_and_splits_disjoint():
    """Overlapping wants share one build (union of refs); disjoint wants get their own."""
    s = create(wid="w1", parts=("d/1", "d/2"))
    s = create(s, wid="w2", parts=("d/2", "d/3"))
    s = create(s, wid="w3", parts=("e/1",))
    events, orders = schedule([view(s, w) for w in ("w1", "w2", "w3")], {}, 0, POLICY, ids())
    assert orders == [BuildOrder("b1", ("d/1", "d/2", "d/3"), ("w1", "w2")), BuildOrder("b2", ("e/1",), ("w3",))]
    s = apply(s, events, T0)
    assert [(s.get(WANT, w).status, s.get(WANT, w).build_id, s.get(WANT, w).attempts) for w in ("w1", "w2", "w3")] \
        == [(W.WANT_STATUS_BUILDING, "b1", 1), (W.WANT_STATUS_BUILDING, "b1", 1), (W.WANT_STATUS_BUILDING, "b2", 1)]


def test_schedule_rides_on_in_flight_build():
    """A want whose missing partitions are all being built attaches to that build; no order."""
    s = create(parts=("d/1", "d/2"))
    events, orders = schedule([view(s, avail=("d/2",))], {"d/1": "b9"}, 4, POLICY, ids())
    assert orders == []
    w = apply(s, events, T0).get(WANT, "w1")
    assert (w.status, w.build_id) == (W.WANT_STATUS_BUILDING, "b9")


def test_capacity_goes_to_earliest_deadline():
    """With one free slot the earliest SLA deadline builds; the rest queue once, quietly after."""
    s = create(wid="late", parts=("a/1",), sla=3000)
    s = create(s, wid="soon", parts=("b/1",), sla=600)
    s = create(s, wid="mid", parts=("c/1",), sla=1200)
    one = Policy(max_concurrent_builds=1)
    events, orders = schedule([view(s, w) for w in ("late", "soon", "mid")], {}, 0, one, ids())
    assert orders == [BuildOrder("b1", ("b/1",), ("soon",))]
    s = apply(s, events, T0)
    for wid in ("late", "mid"):
        w = s.get(WANT, wid)
        assert w.status == W.WANT_STATUS_QUEUED and "waiting for build capacity" in w.message
    events, orders = schedule([view(s, w) for w in ("late", "mid")], {}, 1, one, ids())
    assert (events, orders) == ([], [])


def test_wants_without_sla_sort_by_ttl():
    """No SLA: the earlier TTL deadline is more urgent (and an SLA deadline beats a later TTL)."""
    s = create(wid="long", parts=("a/1",), ttl=7200)
    s = create(s, wid="short", parts=("b/1",), ttl=600)
    s = create(s, wid="sla", parts=("c/1",), ttl=7200, sla=900)
    order = lambda views: schedule(views, {}, 0, Policy(max_concurrent_builds=1), ids())[1][0].want_ids
    assert order([view(s, "long"), view(s, "short")]) == ("short",)
    assert order([view(s, "long"), view(s, "sla")]) == ("sla",)


def test_policy_backoff_doubles_and_caps():
    """backoff_us: initial, doubling per failed attempt, capped at backoff_max_s."""
    p = Policy(backoff_initial_s=5, backoff_max_s=30)
    assert [p.backoff_us(n) for n in range(0, 6)] == [5 * S, 5 * S, 10 * S, 20 * S, 30 * S, 30 * S]


def start_build(s, wid="w1", now=T0):
    events, orders = schedule([view(s, wid)], {}, 0, POLICY, lambda: f"b{s.get(WANT, wid).attempts + 1}")
    return apply(s, events, now), orders[0].build_id


def test_failed_builds_back_off_then_give_up():
    """Failed build -> QUEUED with not_before=now+backoff and the error; after max_attempts -> FAILED."""
    s, now = create(), T0
    for attempt in (1, 2, 3):
        s, build_id = start_build(s, now=now)
        assert s.get(WANT, "w1").attempts == attempt
        build = pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_FAILED, message="job exited 1")
        now += 10 * S
        d = decide(view(s, build=build), now, POLICY)
        s = apply(s, d.events, now)
        w = s.get(WANT, "w1")
        assert "job exited 1" in w.last_error and build_id in w.last_error
        if attempt == 3:
            break
        assert w.status == W.WANT_STATUS_QUEUED and w.not_before.ToMicroseconds() == now + POLICY.backoff_us(attempt)
        ready = w.not_before.ToMicroseconds()
        assert not decide(view(s, leaves=[]), ready - 1, POLICY).buildable
        assert decide(view(s, leaves=[]), ready, POLICY).buildable
        now = ready
    assert (w.status, w.attempts) == (W.WANT_STATUS_FAILED, 3)
    assert decide(view(s, leaves=[]), now + 1000 * S, POLICY).events == []


def test_a_build_lost_with_its_executor_is_retried_at_once_without_using_an_attempt():
    """Service crashes (builds closed by recovery) never fail a want; a real failure still counts."""
    s, now = create(), T0
    for _ in range(5):  # more crashes than max_attempts
        s, build_id = start_build(s, now=now)
        lost = pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_FAILED, executor_lost=True,
                             message="executor vm:1 exited without finishing the build")
        now += S
        d = decide(view(s, build=lost), now, POLICY)
        assert d.again  # nothing to wait for: decided again at once
        s = apply(s, d.events, now)
        w = s.get(WANT, "w1")
        assert (w.status, w.attempts, w.HasField("not_before"), w.last_error) == (W.WANT_STATUS_QUEUED, 0, False, "")
        assert "not counted as an attempt" in w.message and decide(view(s, leaves=[]), now, POLICY).buildable
    s, build_id = start_build(s, now=now)
    failed = pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_FAILED, message="job exited 1")
    d = decide(view(s, build=failed), now + S, POLICY)
    s = apply(s, d.events, now + S)
    assert (s.get(WANT, "w1").attempts, s.get(WANT, "w1").status, d.again) == (1, W.WANT_STATUS_QUEUED, False)


def test_building_want_active_or_completed_build():
    """Active build -> nothing; COMPLETED with partitions missing -> QUEUED again, no failure counted."""
    s, build_id = start_build(create())
    running = pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_EXECUTING)
    assert decide(view(s, build=running), T0 + S, POLICY).events == []
    done = pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_COMPLETED)
    d = decide(view(s, build=done), T0 + 2 * S, POLICY)
    w = apply(s, d.events, T0 + 2 * S).get(WANT, "w1")
    assert (w.status, w.attempts, w.last_error, w.HasField("not_before")) == (W.WANT_STATUS_QUEUED, 1, "", False)
    d = decide(view(s, build=done, avail=("d/1",), made={"d/1": (s.last_index + 1, build_id)}), T0 + 2 * S, POLICY)
    assert d.events[0].want_satisfied.build_id == build_id


def satisfied_by(s, made, now=T0 + 60 * S, wid="w1"):
    """Decide with ``made`` (ref -> (index, build)) available; the recorded build id and the folded one."""
    d = decide(view(s, wid, avail=tuple(made), made=made), now, POLICY)
    assert kinds(d.events) == ["want_satisfied"]
    return d.events[0].want_satisfied.build_id, apply(s, d.events, now).get(WANT, wid).build_id


def test_satisfied_names_the_build_that_produced_its_partitions():
    """The build it rides, if it built them; else the one that made the last of them available;
    none if they were there before the want (a build that failed earlier is never named)."""
    s = create(parts=("d/1", "d/2"))
    created = s.get(WANT, "w1").created_index
    assert created == s.last_index
    assert satisfied_by(s, {"d/1": (created - 1, "old"), "d/2": (created - 1, "old")}) == ("", "")
    s, first = start_build(s)
    failed = pb.BuildState(build_id=first, status=pb.BUILD_STATUS_FAILED, message="executor lost")
    s = apply(s, decide(view(s, build=failed), T0 + S, POLICY).events, T0 + S)
    assert (s.get(WANT, "w1").status, s.get(WANT, "w1").build_id) == (W.WANT_STATUS_QUEUED, first)
    later = s.last_index + 1
    # Another want's build B produced them while this one waited out its backoff.
    assert satisfied_by(s, {"d/1": (later, "B"), "d/2": (later + 1, "C")}) == ("C", "C")
    assert satisfied_by(s, {"d/1": (later, "B"), "d/2": (created - 1, "old")}) == ("B", "B")
    assert satisfied_by(s, {"d/1": (later, ""), "d/2": (later + 1, "")}) == ("", "")  # marked available
    s, second = start_build(s, now=T0 + 30 * S)
    assert satisfied_by(s, {"d/1": (later, "B"), "d/2": (later + 1, second)}) == (second, second)
    assert satisfied_by(s, {"d/1": (later + 2, "B"), "d/2": (later + 3, "C")}) == ("C", "C")  # delegated


def test_cancel_during_build_is_final():
    """want_cancelled on a BUILDING want -> CANCELLED; decide is silent; late status changes don't reopen."""
    s, build_id = start_build(create())
    s = apply(s, [pb.Event(want_cancelled=pb.WantCancelled(want_id="w1", reason="not needed"))], T0 + S)
    w = s.get(WANT, "w1")
    assert (w.status, w.message) == (W.WANT_STATUS_CANCELLED, "not needed")
    failed = pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_FAILED)
    assert decide(view(s, build=failed), T0 + 2 * S, POLICY).events == []
    late = pb.WantStatusChanged(want_id="w1", status=W.WANT_STATUS_QUEUED, attempt=5, error="late")
    w = apply(s, [pb.Event(want_status_changed=late)], T0 + 3 * S).get(WANT, "w1")
    assert (w.status, w.attempts, w.last_error) == (W.WANT_STATUS_CANCELLED, 1, "")


def test_terms_of_active_and_terminal_wants():
    """Active waiting want: wait and due terms; terminal: only partition/source/sla_violated."""
    s = create(ext=("raw/1",), ttl=3600, sla=600)
    s = apply(s, decide(view(s), T0, POLICY).events, T0)
    terms = set(want_terms(s.get(WANT, "w1")))
    assert {("wait", "raw/1"), ("due", time_term(T0 + 600 * S)), ("sla", time_term(T0 + 600 * S))} <= terms
    s = apply(s, decide(view(s), T0 + 600 * S, POLICY).events, T0 + 600 * S)  # SLA violated
    assert ("due", time_term(T0 + 3600 * S)) in want_terms(s.get(WANT, "w1"))
    s = apply(s, decide(view(s, avail=("d/1",)), T0 + 700 * S, POLICY).events, T0 + 700 * S)
    assert set(want_terms(s.get(WANT, "w1"))) == {
        ("partition", "d/1"), ("source", "cli"), ("source", "cli:alice"), ("sla_violated", "1")}


def test_due_is_earliest_of_ttl_sla_and_backoff():
    """A queued want in backoff is due at not_before when that comes before TTL and SLA."""
    s = create(ttl=3600, sla=1800)
    s = apply(s, decide(view(s, plan_error="timeout"), T0, POLICY).events, T0)
    terms = want_terms(s.get(WANT, "w1"))
    assert ("due", time_term(T0 + 5 * S)) in terms and ("queued", time_term(T0 + 1800 * S)) in terms


def test_backoff_survives_a_wait_on_a_plan_leaf():
    """A failed build's backoff still holds after the want briefly waited for a plan leaf."""
    s, build_id = start_build(create())
    failed = pb.BuildState(build_id=build_id, status=pb.BUILD_STATUS_FAILED, message="boom")
    s = apply(s, decide(view(s, build=failed), T0, POLICY).events, T0)  # backoff until T0 + 5 s
    s = apply(s, decide(view(s, leaves=["raw/9"]), T0 + S, POLICY).events, T0 + S)  # leaf missing: WAITING
    assert not decide(view(s, avail=("raw/9",), leaves=["raw/9"]), T0 + 2 * S, POLICY).buildable
