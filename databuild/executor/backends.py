"""Choosing the execution backend of job runs: local processes (the default) or a Dask
cluster (``dask://HOST:PORT``), from ``--executor`` or ``DATABUILD_EXECUTOR``."""

from __future__ import annotations

import logging

from databuild.errors import InvalidArgumentError
from databuild.executor.dask_launcher import DaskLauncher, check_scheduler, dask_address, stop_remote_runs
from databuild.executor.launcher import Launcher, ProcessLauncher
from databuild.graph import GraphSpec

#: The environment variable naming the backend when ``--executor`` is not given.
EXECUTOR_ENV = "DATABUILD_EXECUTOR"
LOCAL = "local"

log = logging.getLogger(__name__)


def parse_executor(uri: str | None) -> str | None:
    """The Dask scheduler address of ``uri``, or None for local processes (``local``,
    empty or None); InvalidArgumentError naming anything else."""
    text = (uri or "").strip()
    if text in ("", LOCAL):
        return None
    if not text.startswith("dask://"):
        raise InvalidArgumentError(f"executor {uri!r} is neither 'local' nor dask://HOST:PORT")
    return dask_address(text)


def check_executor(uri: str | None) -> None:
    """Raise UnavailableError naming the scheduler of ``uri`` if it is a Dask one nobody answers at."""
    address = parse_executor(uri)
    if address is not None:
        check_scheduler(address)


def make_launcher(graph: GraphSpec, uri: str | None, max_log_bytes: int | None = None) -> Launcher:
    """A new launcher (one per build) for the backend ``uri`` names."""
    address = parse_executor(uri)
    if address is None:
        return ProcessLauncher(graph, max_log_bytes=max_log_bytes)
    return DaskLauncher(graph, address, max_log_bytes=max_log_bytes)


def stop_remote_orphans(uri: str | None, job_run_ids: list[str]) -> None:
    """Kill the jobs of ``job_run_ids`` (left unfinished by a dead service) on the Dask
    cluster ``uri`` names; nothing for local processes (``recovery.stop_orphans`` kills
    those). UnavailableError naming the scheduler if it does not answer."""
    address = parse_executor(uri)
    if address is None or not job_run_ids:
        return
    left = stop_remote_runs(address, job_run_ids)
    if left:  # its worker did not answer the kill in time: its retry may run beside it a while
        log.warning("the tasks of job runs %s still ran on %s after they were told to stop", left, address)
