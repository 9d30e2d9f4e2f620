"""Wants: declared partitions with TTL and SLA, and the pure decisions that serve them."""

from databuild.wants.evaluator import BuildOrder, Decision, Policy, WantView, decide, schedule
from databuild.wants.spec import DEFAULT_TTL_SECONDS, MAX_WANTS_PER_REQUEST, new_want_id, new_want_spec

__all__ = [
    "BuildOrder", "DEFAULT_TTL_SECONDS", "Decision", "MAX_WANTS_PER_REQUEST", "Policy", "WantView", "decide",
    "new_want_id", "new_want_spec", "schedule",
]
