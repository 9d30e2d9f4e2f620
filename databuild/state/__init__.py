"""Derived state: pure folds of BEL events and the read models built from them."""

from databuild.state.fold import EMPTY, State, fold
from databuild.state.projection import StateProjection
from databuild.state.reducers import ACTIVE_WANT_STATUSES, BUILD, JOB_RUN, KINDS, PARTITION, UPSTREAM, WANT
from databuild.state.store import StateStore, open_state_store

__all__ = [
    "ACTIVE_WANT_STATUSES", "BUILD", "EMPTY", "JOB_RUN", "KINDS", "PARTITION", "State", "StateProjection",
    "StateStore", "UPSTREAM", "WANT", "fold", "open_state_store",
]
