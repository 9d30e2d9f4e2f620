"""The planner's I/O for a real graph: lookup by binary or output patterns, job config calls."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator, Mapping, Sequence

from databuild.graph import GraphSpec
from databuild.jobs.persistent import ConfigWorker
from databuild.jobs.protocol import call_config, call_lookup
from databuild.planner.plan import PlanningError
from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern


class GraphResolver:
    """Resolves refs with the graph's lookup binary, else its jobs' output patterns."""

    def __init__(self, graph: GraphSpec) -> None:
        self.graph = graph
        self._patterns = [(compile_pattern(p), job.label) for job in graph.jobs for p in job.outputs]
        self._plans = threading.local()  # the persistent config workers of the plan on this thread

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """One plan on this thread: jobs with ``persistent_config`` are started once, at their
        first call, and asked line by line until the plan ends (planning threads never share one)."""
        if getattr(self._plans, "workers", None) is not None:  # within a session already: that one ends them
            yield
            return
        workers: dict[str, ConfigWorker] = {}
        self._plans.workers = workers
        try:
            yield
        finally:
            self._plans.workers = None
            for worker in workers.values():
                worker.close()

    def lookup(self, refs: Sequence[str]) -> Mapping[str, str | None]:
        if self.graph.lookup is not None:
            found = call_lookup(self.graph.lookup, refs)
            unknown = {label for label in found.values() if label is not None and label not in self.graph.jobs_by_label}
            if unknown:
                raise PlanningError(
                    f"lookup {self.graph.lookup.label} named job(s) {', '.join(sorted(unknown))} "
                    f"that graph {self.graph.label} does not have")
            return found
        return {ref: self.by_pattern(ref) for ref in refs}

    def by_pattern(self, ref: str) -> str | None:
        """The job whose declared output patterns match ``ref`` (patterns never overlap)."""
        return next((label for pattern, label in self._patterns if pattern.matches(ref)), None)

    def configs(self, job_label: str, refs: Sequence[str]) -> list[pb.JobConfig]:
        job = self.graph.job(job_label)
        workers = getattr(self._plans, "workers", None)
        if not job.persistent_config or workers is None:
            return call_config(job, refs)
        worker = workers.get(job_label)
        if worker is None:
            worker = workers[job_label] = ConfigWorker(job)
        try:
            return worker.configs(refs)
        except BaseException:
            del workers[job_label]  # it was killed: a later call of this plan starts another
            raise
