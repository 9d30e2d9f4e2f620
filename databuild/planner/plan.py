"""The planner: resolve wanted refs, recursively, into a job graph.

Pure: the lookup and job ``config`` calls come in through a ``Resolver`` and
partition statuses through a function, so it is tested in memory. Config calls are
batched: each round asks every job once for all refs it must produce.
"""

from __future__ import annotations

import functools

import uuid
from collections import deque
from dataclasses import dataclass
from typing import Callable, ContextManager, Iterable, Mapping, Protocol, Sequence

from databuild.errors import DataBuildError, InvalidArgumentError
from databuild.proto import databuild_pb2 as pb

StatusFn = Callable[[Sequence[str]], Mapping[str, int]]


class PlanningError(InvalidArgumentError):
    """The wanted refs cannot be planned (the message shows the chain of refs)."""

    code = "planning_failed"


class JobFailedWhilePlanningError(PlanningError):
    """Planning stopped because a job's ``config`` or the lookup failed or misbehaved (not the caller's input)."""

    code = "planning_job_failed"
    http_status = 422
    exit_code = 1


class NoProducerError(PlanningError):
    code = "no_producer"


class CycleError(PlanningError):
    code = "dependency_cycle"


class Resolver(Protocol):
    """The I/O the planner needs: the lookup and the jobs' ``config`` entry point."""

    def lookup(self, refs: Sequence[str]) -> Mapping[str, str | None]:
        """Producing job label per ref; None for refs the graph does not produce."""

    def configs(self, job_label: str, refs: Sequence[str]) -> list[pb.JobConfig]:
        """Configs of ``job_label`` covering ``refs``."""

    def session(self) -> ContextManager[None]:
        """The span of one plan: what its calls keep (persistent ``config`` processes) ends with it."""


@dataclass(frozen=True)
class PlannedRun:
    job_run_id: str
    job_label: str
    config: pb.JobConfig

    @property
    def materialize_inputs(self) -> list[str]:
        return [i.ref for i in self.config.inputs if i.dep_type == pb.materialize]


@dataclass(frozen=True)
class Plan:
    """Job runs in dependency order, what each waits for, and the leaves."""

    requested: tuple[str, ...]
    runs: tuple[PlannedRun, ...]
    deps: Mapping[str, frozenset[str]]  # job_run_id -> job_run_ids it waits for
    external: tuple[str, ...]  # inputs no job of the graph produces
    available: tuple[str, ...]  # refs needed but already available: not rebuilt

    @functools.cached_property
    def _producer(self) -> dict[str, PlannedRun]:
        return {out: run for run in self.runs for out in run.config.outputs}

    @functools.cached_property
    def _external(self) -> frozenset[str]:
        return frozenset(self.external)

    def external_leaves(self, refs: Iterable[str]) -> list[str]:
        """The external inputs that ``refs`` need, directly or through the runs producing them.

        Cost proportional to what ``refs`` reach: one plan serves many wants, each asking for its own."""
        producer, external, seen, leaves = self._producer, self._external, set(), []
        stack = list(refs)
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            if ref in external:
                leaves.append(ref)
            elif ref in producer:
                stack.extend(i.ref for i in producer[ref].config.inputs)
        return sorted(leaves)

    def job_graph(self) -> pb.JobGraph:
        return pb.JobGraph(
            requested_partitions=self.requested,
            job_runs=[pb.PlannedJobRun(job_run_id=r.job_run_id, job_label=r.job_label, config=r.config)
                      for r in self.runs],
            external_partitions=self.external,
        )


def _chain(ref: str, parent: Mapping[str, str]) -> str:
    refs = [ref]
    while refs[-1] in parent and len(refs) < 50:
        refs.append(parent[refs[-1]])
    return " <- ".join(refs)


def plan(
    graph_label: str,
    refs: Iterable[str],
    resolver: Resolver,
    statuses: StatusFn = lambda refs: {},
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Plan:
    """Plan the build of ``refs`` in graph ``graph_label``.

    Refs already available are not rebuilt and their inputs are not explored.
    A wanted ref no job produces raises NoProducerError; an input no job produces
    becomes an external leaf. Cycles raise CycleError showing the refs involved.
    Errors from the resolver propagate with the chain of refs prepended. The resolver's
    calls share one ``session``.
    """
    with resolver.session():
        return _plan(graph_label, tuple(dict.fromkeys(refs)), resolver, statuses, new_id)


def _plan(graph_label: str, requested: tuple[str, ...], resolver: Resolver, statuses: StatusFn,
          new_id: Callable[[], str]) -> Plan:
    wanted = frozenset(requested)  # membership: a tuple's `in` made planning quadratic in the refs wanted
    parent: dict[str, str] = {}  # ref -> the ref whose run needs it
    producer: dict[str, PlannedRun] = {}
    runs: list[PlannedRun] = []
    external: list[str] = []
    available: list[str] = []
    frontier = list(requested)
    while frontier:
        status = statuses(frontier)
        todo = []
        for ref in frontier:
            (available if status.get(ref) == pb.PARTITION_STATUS_AVAILABLE else todo).append(ref)
        labels = resolver.lookup(todo) if todo else {}
        by_job: dict[str, list[str]] = {}
        for ref in todo:
            label = labels.get(ref)
            if label is None and ref not in parent:
                raise NoProducerError(f"no job in graph {graph_label} produces {ref}")
            if label is None:
                external.append(ref)
            else:
                by_job.setdefault(label, []).append(ref)
        new_runs = []
        for label, job_refs in by_job.items():
            for config in _configs(resolver, label, job_refs, parent):
                run = PlannedRun(new_id(), label, config)
                for out in config.outputs:
                    if out in producer:
                        raise PlanningError(
                            f"{out} would be produced by two job runs ({producer[out].job_label} and {label}); "
                            f"needed by {_chain(out, parent)}")
                    producer[out] = run
                new_runs.append(run)
        runs += new_runs
        frontier = []
        for run in new_runs:
            for ref in run.materialize_inputs:
                if ref not in producer and ref not in parent and ref not in wanted:
                    parent[ref] = run.config.outputs[0]
                    frontier.append(ref)
    deps = {
        run.job_run_id: frozenset(producer[i].job_run_id for i in run.materialize_inputs if i in producer)
        for run in runs
    }
    return Plan(requested, _topological(runs, deps, producer), deps, tuple(external), tuple(available))


def _configs(resolver: Resolver, label: str, refs: list[str], parent: Mapping[str, str]) -> list[pb.JobConfig]:
    try:
        return resolver.configs(label, refs)
    except DataBuildError as e:
        error = PlanningError if isinstance(e, InvalidArgumentError) else JobFailedWhilePlanningError
        raise error(f"while planning {_chain(refs[0], parent)}: {e}") from e


def _topological(runs: list[PlannedRun], deps: Mapping[str, frozenset[str]], producer: Mapping[str, PlannedRun]
                 ) -> tuple[PlannedRun, ...]:
    by_id = {r.job_run_id: r for r in runs}
    waiting = {r.job_run_id: set(deps[r.job_run_id]) for r in runs}
    dependents: dict[str, list[str]] = {}
    for run_id, ups in waiting.items():
        for up in ups:
            dependents.setdefault(up, []).append(run_id)
    ready = deque(r.job_run_id for r in runs if not waiting[r.job_run_id])
    order = []
    while ready:
        run_id = ready.popleft()
        order.append(by_id[run_id])
        for down in dependents.get(run_id, ()):
            waiting[down].discard(run_id)
            if not waiting[down]:
                ready.append(down)
    if len(order) < len(runs):
        raise CycleError(f"dependency cycle: {_find_cycle(runs, producer)}")
    return tuple(order)


def _find_cycle(runs: list[PlannedRun], producer: Mapping[str, PlannedRun]) -> str:
    """Refs along one cycle, e.g. ``a/1 needs b/1 needs a/1`` (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for root in runs:
        if root.job_run_id in state:
            continue
        path: list[tuple[PlannedRun, str]] = [(root, root.config.outputs[0])]
        stack = [iter(root.materialize_inputs)]
        state[root.job_run_id] = 1
        while stack:
            ref = next(stack[-1], None)
            if ref is None:
                state[path.pop()[0].job_run_id] = 2
                stack.pop()
                continue
            up = producer.get(ref)
            if up is None or state.get(up.job_run_id) == 2:
                continue
            if state.get(up.job_run_id) == 1:
                start = next(i for i, (r, _) in enumerate(path) if r.job_run_id == up.job_run_id)
                return " needs ".join([r for _, r in path[start:]] + [ref])
            state[up.job_run_id] = 1
            path.append((up, ref))
            stack.append(iter(up.materialize_inputs))
    raise AssertionError("no cycle found although a topological order does not exist")
