"""The planner's I/O for a real graph: lookup by binary or output patterns, job config calls."""

from __future__ import annotations

from typing import Mapping, Sequence

from databuild.graph import GraphSpec
from databuild.jobs.protocol import call_config, call_lookup
from databuild.planner.plan import PlanningError
from databuild.proto import databuild_pb2 as pb
from databuild.refs import compile_pattern


class GraphResolver:
    """Resolves refs with the graph's lookup binary, else its jobs' output patterns."""

    def __init__(self, graph: GraphSpec) -> None:
        self.graph = graph
        self._patterns = [(compile_pattern(p), job.label) for job in graph.jobs for p in job.outputs]

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
        return call_config(self.graph.job(job_label), refs)
