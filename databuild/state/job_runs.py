"""Index terms of job runs, so a partition's consumers (the job runs that read it) are
found without reading every job run.

``("input", "<ref> <scheduled time>")``: one per input ref of the run's config, the ref
then a space (refs never hold one) then when the run was scheduled, as sortable text
(``time_term``). Entries of one ref are therefore contiguous and in scheduling order:
``StateStore.job_runs_reading`` walks them backwards, newest first, and stops at its limit.
"""

from __future__ import annotations

from databuild.events import Term
from databuild.proto import databuild_pb2 as pb
from databuild.state.wants import time_term

INPUT = "input"


def input_range(ref: str) -> tuple[str, str]:
    """``[low, high)`` of the ``input`` term values of ``ref``: the ref and a space, then any time."""
    return f"{ref} ", f"{ref}!"  # "!" is the character after the space


def job_run_terms(run: pb.JobRunState) -> tuple[Term, ...]:
    """The index terms of ``run`` (see the module docstring)."""
    scheduled = time_term(run.scheduled_at.ToMicroseconds())
    return tuple((INPUT, f"{ref} {scheduled}") for ref in dict.fromkeys(d.ref for d in run.config.inputs))
