"""Running builds: job processes, progress, and the events that record them."""

from databuild.executor.build import (
    BuildExecutor, BuildResult, Progress, executor_alive, executor_identity, requested_event,
)
from databuild.executor.launcher import Launcher, ProcessLauncher, RunExit, max_log_bytes
from databuild.executor.recovery import recover_abandoned_builds

__all__ = ["BuildExecutor", "BuildResult", "Launcher", "ProcessLauncher", "Progress", "RunExit", "executor_alive",
           "executor_identity", "max_log_bytes", "recover_abandoned_builds", "requested_event"]
