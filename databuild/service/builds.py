"""The service's builds: executors running in background threads."""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

from databuild.errors import InvalidArgumentError, UnavailableError
from databuild.executor import BuildExecutor, max_log_bytes, requested_event
from databuild.executor.backends import make_launcher, parse_executor, stop_remote_orphans
from databuild.executor.dask_launcher import PATH_MAP_ENV, parse_path_map
from databuild.executor.recorder import Recorder
from databuild.executor.recovery import close_dead_build, stop_orphans
from databuild.graph import GraphSpec
from databuild.planner import Plan, Resolver
from databuild.proto import databuild_pb2 as pb
from databuild.state import ACTIVE_BUILD_STATUSES, StateStore
from databuild.wants import BuildOrder


log = logging.getLogger(__name__)


class ExecutorPool:
    """Runs the builds the want evaluator orders, one executor thread each; thread-safe.
    ``executor`` names the backend of their job runs (``databuild.executor.backends``;
    None: the graph's default)."""

    def __init__(self, graph: GraphSpec, store: StateStore, log_dir: str, resolver: Resolver,
                 parallelism: int | None = None, executor: str | None = None) -> None:
        self.graph, self.store, self.log_dir, self.resolver = graph, store, log_dir, resolver
        self.parallelism = parallelism
        self.executor = graph.executor if executor is None else executor  # --executor beats the graph's
        parse_executor(self.executor)  # a bad URI fails at start, not at the first build
        parse_path_map(os.environ.get(PATH_MAP_ENV, ""))  # so does a bad DATABUILD_DASK_PATH_MAP
        self.max_log_bytes = max_log_bytes(graph, os.environ)  # a bad DATABUILD_MAX_LOG_BYTES fails at start
        self._lock = threading.Lock()
        self._running: dict[str, BuildExecutor] = {}
        self._finished_listeners: list[Callable[[], None]] = []
        self._recorder = Recorder(store.log.append)  # one thread appends every build's progress

    def add_finished_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the build's thread) each time a build stops counting as running."""
        self._finished_listeners.append(listener)

    def requested_event(self, order: BuildOrder) -> pb.Event:
        """The ``build_requested`` event naming this process as the executor."""
        return requested_event(self.graph.label, order.build_id, order.refs, order.want_ids)

    def start(self, order: BuildOrder, planned: Plan | None = None) -> None:
        """Run ``order`` (already recorded as requested) in a background thread; ``planned``
        saves the executor planning it again."""
        launcher = make_launcher(self.graph, self.executor, self.max_log_bytes)
        executor = BuildExecutor(self.graph, self.store, launcher, self.log_dir, self.parallelism,
                                 resolver=self.resolver, recorder=self._recorder)
        # A want cancelled between the request and now (an API call finding no executor to
        # stop yet) is not missed: the evaluator's next pass reads every want_cancelled event
        # and releases the want's build, and that pass runs after this call, in its thread.
        with self._lock:
            self._running[order.build_id] = executor

        def run() -> None:
            try:
                executor.run(order.refs, order.want_ids, order.build_id, requested=True, planned=planned)
            except Exception as e:  # e.g. the log stayed busy: close the build so its wants move on
                log.exception("build %s failed unexpectedly", order.build_id)
                self._close(order.build_id, f"the executor failed: {type(e).__name__}: {e}")
            finally:
                with self._lock:  # first: a cancel (under the lock) never reaches a closed launcher
                    self._running.pop(order.build_id, None)
                launcher.close()
                for listener in self._finished_listeners:
                    listener()

        threading.Thread(target=run, name=f"build-{order.build_id[:8]}", daemon=True).start()

    def _close(self, build_id: str, why: str) -> None:
        build = self.store.build(build_id)
        if build is not None and build.status in ACTIVE_BUILD_STATUSES:
            stop_orphans(self.store, build)
            # The executor failed, not the service: this counts as a failed attempt of its wants.
            self.store.log.append(close_dead_build(self.store, build, why, executor_lost=False))

    def stop_remote_orphans(self, job_run_ids: list[str]) -> None:
        """Kill the remote jobs (on the Dask cluster of this pool's backend) of runs that a
        dead service left unfinished, before they are closed and their wants retried."""
        try:
            stop_remote_orphans(self.executor, job_run_ids)
        except UnavailableError as e:  # its workers kill their jobs once they lose the scheduler
            log.warning("could not stop the remote jobs of %d job runs: %s", len(job_run_ids), e)

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def running_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def is_running(self, build_id: str) -> bool:
        with self._lock:
            return build_id in self._running

    def cancel(self, build_id: str, reason: str) -> None:
        """Stop a build this process runs (SIGTERM, then SIGKILL, to each job's process group);
        InvalidArgumentError if it runs elsewhere or has ended."""
        with self._lock:
            executor = self._running.get(build_id)
            if executor is None:
                raise InvalidArgumentError(f"build {build_id} is not running here")
            executor.cancel(reason)

    def cancel_unwanted(self, build_id: str, reason: str) -> bool:
        """Cancel ``build_id`` if this process runs it and no active want rides on it any more
        (its wants expired or were cancelled); whether it did."""
        if self.store.wants_riding(build_id):
            return False
        with self._lock:
            executor = self._running.get(build_id)
            if executor is None:
                return False
            executor.cancel(reason)
        log.info("cancelled build %s: %s", build_id, reason)
        return True
