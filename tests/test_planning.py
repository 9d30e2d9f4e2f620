"""The want evaluator's planning pool: batches, splits, no duplicate work, a hung plan holds one worker."""

from __future__ import annotations

import collections
import threading

from databuild.proto import databuild_pb2 as pb
from databuild.service.planning import Planned, PlanningPool, plan_wants


def want(wid: str) -> pb.WantState:
    return pb.WantState(spec=pb.WantSpec(want_id=wid, partitions=[f"d/{wid}"]))


class Recorder:
    """A plan function: records each batch; ``bad`` fails any batch of several it is in;
    ``hang`` blocks until released; ``crash`` raises."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.done: list[str] = []
        self.finished: dict[str, threading.Event] = collections.defaultdict(threading.Event)

    def on_done(self, want_ids: list[str]) -> None:
        self.done += want_ids
        for wid in want_ids:
            self.finished[wid].set()

    def __call__(self, wants):
        ids = [w.spec.want_id for w in wants]
        self.batches.append(ids)
        if "hang" in ids:
            self.entered.set()
            assert self.release.wait(20)
        if "crash" in ids:
            raise RuntimeError("resolver bug")
        if "bad" in ids and len(ids) > 1:
            return None
        return {wid: Planned(None, "no producer", True) if wid == "bad" else Planned([f"raw/{wid}"]) for wid in ids}


def test_queued_wants_plan_together_and_a_failed_batch_is_split():
    plan = Recorder()
    pool = PlanningPool(plan, plan.on_done, workers=2)
    pool.submit([want("a"), want("bad"), want("c")])
    assert pool.wait_idle(20)
    assert plan.batches[0] == ["a", "bad", "c"] and sorted(plan.batches[1:]) == [["a"], ["bad"], ["c"]]
    found = pool.take(["a", "bad", "c", "x"])
    assert found == {"a": Planned(["raw/a"]), "bad": Planned(None, "no producer", True), "c": Planned(["raw/c"])}
    assert sorted(plan.done) == ["a", "bad", "c"] and pool.take(["a"]) == {}
    pool.close()


def test_a_hung_plan_holds_one_worker_and_its_want_is_not_planned_twice():
    plan = Recorder()
    pool = PlanningPool(plan, plan.on_done, workers=2)
    pool.submit([want("hang")])
    assert plan.entered.wait(20)
    pool.submit([want("hang"), want("b")])  # the pending one is not queued again
    assert plan.finished["b"].wait(20)
    assert pool.pending("hang") and not pool.pending("b") and pool.take(["b"]) == {"b": Planned(["raw/b"])}
    assert not pool.wait_idle(0)
    plan.release.set()
    assert pool.wait_idle(20) and plan.batches == [["hang"], ["b"]]
    assert pool.take(["hang"]) == {"hang": Planned(["raw/hang"])}
    pool.close()


def test_an_unexpected_error_is_that_wants_planning_error():
    plan = Recorder()
    pool = PlanningPool(plan, plan.on_done, workers=1)
    pool.submit([want("crash"), want("ok")])
    assert pool.wait_idle(20)
    assert pool.take(["crash", "ok"]) == {"crash": Planned(None, "RuntimeError: resolver bug"), "ok": Planned(["raw/ok"])}
    pool.close()


def test_plan_wants_places_errors_on_single_wants():
    from databuild.jobs.protocol import JobProtocolError
    from fakes import FakeResolver, cfg

    resolver = FakeResolver(jobs={"daily": lambda r: cfg([r], [f"raw/{r}"])}, produces={"daily": lambda r: r.startswith("d/")})
    statuses = lambda refs: {}
    a, nobody = want("a"), pb.WantState(spec=pb.WantSpec(want_id="n", partitions=["x/1"]))
    planned = plan_wants("//g", [a], resolver, statuses)
    assert planned["a"].leaves == ["raw/d/a"] and planned["a"].plan.requested == ("d/a",)
    assert plan_wants("//g", [a, nobody], resolver, statuses) is None  # split to tell whose error it is
    alone = plan_wants("//g", [nobody], resolver, statuses)["n"]
    assert alone.permanent and "no job in graph //g produces x/1" in alone.error

    class BrokenLookup(FakeResolver):
        def lookup(self, refs):
            raise JobProtocolError("lookup //g:lookup", "exited with code 3")

    broken = plan_wants("//g", [a], BrokenLookup({}, {}), statuses)["a"]
    assert (broken.leaves, broken.permanent) == (None, False) and "exited with code 3" in broken.error
