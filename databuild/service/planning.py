"""Planning wants off the want evaluator's thread.

Planning calls the graph's lookup and job ``config`` binaries, which may be slow or hang
until their timeout. The evaluator hands the wants that need a plan to a
``PlanningPool`` and decides every other want at once; a finished plan comes back as an
input of a later pass. A hung config holds one worker and the wants planned with it,
never the evaluator, so unrelated wants are still decided and built, and deadlines fire.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable, NamedTuple, Sequence

from databuild.errors import InvalidArgumentError
from databuild.jobs.protocol import JobProtocolError
from databuild.planner import CycleError, NoProducerError, Plan, PlanningError, Resolver, plan
from databuild.proto import databuild_pb2 as pb

log = logging.getLogger(__name__)

#: Planning threads per service: how many hung configs it takes to hold up planning.
DEFAULT_PLANNERS = 4


class Planned(NamedTuple):
    """What planning told about one want: the external leaves of its plan, or why it failed."""

    leaves: list[str] | None = None
    error: str = ""
    permanent: bool = False  # the plan can never work (no producer, cycle)
    plan: Plan | None = None  # the plan it was part of, for the build that may follow


def plan_wants(graph_label: str, wants: Sequence[pb.WantState], resolver: Resolver,
               statuses: Callable[[Sequence[str]], dict[str, int]]) -> dict[str, Planned] | None:
    """Plan ``wants`` together (one config call per job); None if that failed for several
    wants, which are then planned one by one to tell whose error it is."""
    refs = sorted({r for w in wants for r in w.spec.partitions})
    try:
        planned = plan(graph_label, refs, resolver, statuses)
    except (PlanningError, JobProtocolError) as e:  # JobProtocolError: the graph's lookup binary failed
        if len(wants) > 1:
            return None
        return {wants[0].spec.want_id: Planned(None, str(e), isinstance(e, (NoProducerError, CycleError)))}
    return {w.spec.want_id: Planned(planned.external_leaves(w.spec.partitions), plan=planned) for w in wants}


PlanBatch = Callable[[list[pb.WantState]], "dict[str, Planned] | None"]


class PlanningPool:
    """Plans wants on a few worker threads; thread-safe.

    ``submit`` queues wants not already queued or being planned; the next free worker
    takes everything queued as one batch. A batch that fails is split: each of its wants
    is planned alone, by whichever worker is free. Results wait for ``take``;
    ``on_done(want_ids)`` is called from a worker when some are ready, with the pool's
    lock held (so ``wait_idle`` returns only after it), and must not call the pool.
    """

    def __init__(self, plan_batch: PlanBatch, on_done: Callable[[list[str]], None],
                 workers: int = DEFAULT_PLANNERS) -> None:
        if workers < 1:
            raise InvalidArgumentError(f"planning needs at least one worker, got {workers}")
        self._plan_batch, self._on_done, self._workers = plan_batch, on_done, workers
        self._cond = threading.Condition()
        self._together: dict[str, pb.WantState] = {}  # queued, to plan in one batch
        self._alone: deque[pb.WantState] = deque()     # queued, each to plan by itself
        self._pending: set[str] = set()                # queued or being planned
        self._results: dict[str, Planned] = {}
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, wants: Sequence[pb.WantState]) -> None:
        """Plan ``wants`` in the background, but those pending or whose plan waits for ``take``."""
        with self._cond:
            if self._closed:
                return
            for want in wants:
                wid = want.spec.want_id
                if wid not in self._pending and wid not in self._results:
                    self._pending.add(wid)
                    self._together[wid] = want
            if self._together:
                self._start_workers()
                self._cond.notify()

    def pending(self, want_id: str) -> bool:
        """Whether ``want_id`` is queued or being planned."""
        with self._cond:
            return want_id in self._pending

    def take(self, want_ids: Sequence[str]) -> dict[str, Planned]:
        """The finished plans of those of ``want_ids`` that have one, removed from the pool."""
        with self._cond:
            return {wid: self._results.pop(wid) for wid in want_ids if wid in self._results}

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being planned; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout)

    def close(self) -> None:
        """Stop taking work; a worker in a (hung) plan ends when that plan returns."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _start_workers(self) -> None:
        while len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name=f"want-planner-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while self._work_one():
            pass

    def _work_one(self) -> bool:
        """Plan one batch; False once the pool is closed. A function of its own so that the
        batch and its plans are not kept alive by the worker's frame while it waits for the
        next (a plan's job configs pin the protobuf arenas of everything built from them)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._together or self._alone)
            if self._closed:
                return False
            if self._alone:
                wants = [self._alone.popleft()]
            else:
                wants = list(self._together.values())
                self._together.clear()
        results = self._plan(wants)
        with self._cond:
            if results is None:
                self._alone.extend(wants)
            else:
                self._results.update(results)
                self._on_done(list(results))
                self._pending.difference_update(results)
            self._cond.notify_all()
        return True

    def _plan(self, wants: list[pb.WantState]) -> dict[str, Planned] | None:
        try:
            return self._plan_batch(wants)
        except Exception as e:  # a bug must not leave wants pending forever: split, then each gets its error
            log.exception("planning %d want(s) failed unexpectedly", len(wants))
            return None if len(wants) > 1 else {wants[0].spec.want_id: Planned(None, f"{type(e).__name__}: {e}")}
