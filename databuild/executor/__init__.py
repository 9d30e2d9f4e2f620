"""Running builds: job processes, progress, and the events that record them."""

from databuild.executor.build import BuildExecutor, BuildResult, Progress, executor_alive, executor_identity
from databuild.executor.launcher import Launcher, ProcessLauncher

__all__ = ["BuildExecutor", "BuildResult", "Launcher", "ProcessLauncher", "Progress", "executor_alive",
           "executor_identity"]
