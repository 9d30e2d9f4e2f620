"""Planner unit tests with an in-memory resolver (no processes)."""

from __future__ import annotations

import pytest

from databuild.planner import CycleError, NoProducerError, PlanningError, plan
from databuild.proto import databuild_pb2 as pb
from fakes import FakeResolver, cfg, ids

AVAILABLE = pb.PARTITION_STATUS_AVAILABLE


def votes_graph():
    """raw/* external; daily/D from raw/D; weekly/W from 7 dailies; color/D multi-output."""
    days = [f"2025-01-0{d}" for d in range(1, 8)]
    return FakeResolver(
        jobs={
            "daily": lambda r: cfg([r], [f"raw/{r.split('/')[1]}"]),
            "weekly": lambda r: cfg([r], [f"daily/{d}" for d in days], query=["audit/log"]),
            "colors": lambda r: cfg([f"color/{r.split('/')[1]}/red", f"color/{r.split('/')[1]}/blue"],
                                    [f"daily/{r.split('/')[1]}"]),
            "report": lambda r: cfg([r], ["color/2025-01-01/red", "color/2025-01-01/blue", "weekly/1"]),
        },
        produces={
            "daily": lambda r: r.startswith("daily/"),
            "weekly": lambda r: r.startswith("weekly/"),
            "colors": lambda r: r.startswith("color/"),
            "report": lambda r: r.startswith("report/"),
        },
    )


def test_fan_in_multi_output_and_shared_upstream_built_once():
    resolver = votes_graph()
    p = plan("//g", ["report/1"], resolver, new_id=ids())
    by_label = {}
    for run in p.runs:
        by_label.setdefault(run.job_label, []).append(run)
    assert {k: len(v) for k, v in by_label.items()} == {"report": 1, "weekly": 1, "colors": 1, "daily": 7}
    assert sorted(p.external) == [f"raw/2025-01-0{d}" for d in range(1, 8)]
    assert "audit/log" not in p.external  # query inputs are not required first
    order = [r.job_label for r in p.runs]
    assert order.index("report") == len(order) - 1 and order.index("weekly") > max(
        i for i, lbl in enumerate(order) if lbl == "daily")
    colors = by_label["colors"][0]
    assert p.deps[by_label["report"][0].job_run_id] == {colors.job_run_id, by_label["weekly"][0].job_run_id}
    # one config call per job per round, with all of that job's refs
    assert sorted(len(refs) for label, refs in resolver.config_calls if label == "daily") == [7]
    assert len(resolver.config_calls) == 4
    graph = p.job_graph()
    assert list(graph.requested_partitions) == ["report/1"] and len(graph.job_runs) == 10


def test_available_partitions_are_not_rebuilt_or_explored():
    resolver = votes_graph()
    statuses = lambda refs: {r: AVAILABLE for r in refs if r.startswith("daily/")}
    p = plan("//g", ["weekly/1"], resolver, statuses, new_id=ids())
    assert [r.job_label for r in p.runs] == ["weekly"]
    assert len(p.available) == 7 and p.external == ()
    assert plan("//g", ["daily/2025-01-01"], resolver, lambda refs: {r: AVAILABLE for r in refs}).runs == ()


def test_wanted_ref_without_producer_is_an_error():
    with pytest.raises(NoProducerError, match="no job in graph //g produces nope/1"):
        plan("//g", ["daily/2025-01-01", "nope/1"], votes_graph())


def test_cycle_shows_the_chain_of_refs():
    resolver = FakeResolver(
        jobs={"a": lambda r: cfg([r], ["b/1"]), "b": lambda r: cfg([r], ["c/1"]), "c": lambda r: cfg([r], ["a/1"])},
        produces={k: (lambda k: lambda r: r.startswith(k + "/"))(k) for k in "abc"},
    )
    with pytest.raises(CycleError, match="a/1 needs b/1 needs c/1 needs a/1"):
        plan("//g", ["a/1"], resolver)


def test_self_dependency_is_a_cycle():
    resolver = FakeResolver(jobs={"a": lambda r: cfg([r], [r])}, produces={"a": lambda r: True})
    with pytest.raises(CycleError, match="x/1 needs x/1"):
        plan("//g", ["x/1"], resolver)


def test_config_failure_names_the_chain():
    def broken(ref):
        raise PlanningError("config exploded")

    resolver = votes_graph()
    resolver.jobs["daily"] = broken
    with pytest.raises(PlanningError, match=r"while planning daily/2025-01-0\d <- weekly/1: config exploded"):
        plan("//g", ["weekly/1"], resolver)


def test_two_runs_producing_one_ref_is_an_error():
    resolver = FakeResolver(
        jobs={"a": lambda r: cfg(["x/1", "shared/1"]), "b": lambda r: cfg(["y/1", "shared/1"])},
        produces={"a": lambda r: r.startswith("x/"), "b": lambda r: r.startswith("y/")},
    )
    with pytest.raises(PlanningError, match="shared/1 would be produced by two job runs"):
        plan("//g", ["x/1", "y/1"], resolver)
