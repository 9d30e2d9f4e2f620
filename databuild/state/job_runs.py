"""Index terms of job runs, so a partition's consumers (the job runs that read it) and
a job's runs are found without reading every job run.

``("input", "<ref> <scheduled time>")``: one per input ref of the run's config, the ref
then a space (refs never hold one) then when the run was scheduled, as sortable text
(``time_term``). Entries of one ref are therefore contiguous and in scheduling order:
``StateStore.job_runs_reading`` walks them backwards, newest first, and stops at its limit.
``("job", "<job label> <scheduled time>")``: the same for the run's job (labels hold no
space either), walked by ``StateStore.job_runs_of``.
"""

from __future__ import annotations

from databuild.events import Term
from databuild.proto import databuild_pb2 as pb
from databuild.state.wants import time_term

INPUT, JOB = "input", "job"


def spaced_range(value: str) -> tuple[str, str]:
    """``[low, high)`` of the term values ``value``, a space, then any time: a ref's ``input``
    entries, a label's ``job`` entries."""
    return f"{value} ", f"{value}!"  # "!" is the character after the space


def job_order(run: pb.JobRunState) -> tuple[str, str]:
    """The run's place among its job's runs: the ``(value, key)`` of its ``job`` entry."""
    return f"{run.job_label} {time_term(run.scheduled_at.ToMicroseconds())}", run.job_run_id


def job_run_terms(run: pb.JobRunState) -> tuple[Term, ...]:
    """The index terms of ``run`` (see the module docstring)."""
    scheduled = time_term(run.scheduled_at.ToMicroseconds())
    inputs = tuple((INPUT, f"{ref} {scheduled}") for ref in dict.fromkeys(d.ref for d in run.config.inputs))
    return (*inputs, (JOB, job_order(run)[0])) if run.job_label else inputs
