"""Planning: wanted refs -> a job graph (pure, with the job protocol injected)."""

from databuild.planner.plan import (
    CycleError, NoProducerError, Plan, PlannedRun, PlanningError, Resolver, plan,
)
from databuild.planner.resolver import GraphResolver

__all__ = ["CycleError", "GraphResolver", "NoProducerError", "Plan", "PlannedRun", "PlanningError", "Resolver", "plan"]
