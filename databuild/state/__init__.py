"""Derived state: pure folds of BEL events and the read models built from them."""

from databuild.state.fold import EMPTY, State, fold
from databuild.state.projection import StateProjection
from databuild.state.reducers import (
    ACTIVE_BUILD_STATUSES, BUILD, IN_FLIGHT_PARTITION_STATUSES, JOB_RUN, KINDS, PARTITION,
    TERMINAL_BUILD_STATUSES, TERMINAL_JOB_RUN_STATUSES, TRIGGER, UPSTREAM, WANT,
)
from databuild.state.store import StateStore, open_state_store
from databuild.state.wants import ACTIVE_WANT_STATUSES

__all__ = [
    "ACTIVE_BUILD_STATUSES", "ACTIVE_WANT_STATUSES", "BUILD", "IN_FLIGHT_PARTITION_STATUSES", "EMPTY", "JOB_RUN", "KINDS", "PARTITION", "State", "StateProjection",
    "StateStore", "TERMINAL_BUILD_STATUSES", "TERMINAL_JOB_RUN_STATUSES", "TRIGGER", "UPSTREAM", "WANT", "fold", "open_state_store",
]
