"""Running the HTTP service: in the foreground, or as a state directory's daemon."""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from databuild.executor import executor_alive, recover_abandoned_builds
from databuild.graph import GraphSpec
from databuild.service.core import DataBuildService
from databuild.service.daemon import (
    DaemonInfo, DaemonLock, IdleWatch, free_port, new_token, remove_info, write_info,
)
from databuild.service.http import LOOPBACK_HOSTS, create_app, server_config
from databuild.state import StateStore
from databuild.wants import Policy


@dataclass(frozen=True)
class ServiceOptions:
    """How a service pursues wants: the evaluator's policy and each build's job parallelism."""

    policy: Policy = Policy()
    parallelism: int | None = None


def start_service(graph: GraphSpec, store: StateStore, log_dir: Path, options: ServiceOptions) -> DataBuildService:
    """The service with its want evaluator running, after closing builds whose
    executor died (e.g. a daemon killed mid-build)."""
    recover_abandoned_builds(store, executor_alive)
    service = DataBuildService(graph, store, str(log_dir), policy=options.policy, parallelism=options.parallelism)
    service.start_evaluator()
    return service


def run_foreground(graph: GraphSpec, store: StateStore, log_dir: Path, host: str, port: int, token: str,
                   options: ServiceOptions) -> None:
    service = start_service(graph, store, log_dir, options)
    try:
        app = create_app(service, token, loopback_only=host in LOOPBACK_HOSTS)
        uvicorn.Server(server_config(app, host=host, port=port)).run()
    finally:
        service.close()


def run_daemon(graph: GraphSpec, store: StateStore, state_dir: Path, log_dir: Path, idle_timeout: float,
               options: ServiceOptions) -> None:
    """Serve on a free loopback port with a fresh token; record it; exit when idle."""
    lock = DaemonLock(state_dir)
    if not lock.acquire():
        print(f"another daemon holds {state_dir}/daemon.lock; leaving it to serve", file=sys.stderr)
        return
    token, port = new_token(), free_port()
    service = start_service(graph, store, log_dir, options)
    server: uvicorn.Server | None = None
    # Running builds and active wants (deadlines to record, data to wait for) keep
    # the daemon up even when no client is asking about them.
    idle = IdleWatch(idle_timeout, lambda: setattr(server, "should_exit", True),
                     busy=lambda: service.running_builds > 0 or bool(store.active_wants(limit=1)))
    info = DaemonInfo(os.getpid(), port, f"http://127.0.0.1:{port}", token, graph.label, time.time())
    # uvicorn re-raises SIGTERM after shutting down, so cleanup cannot wait for run() to return.
    app = create_app(service, token, idle.touch, on_shutdown=[lambda: remove_info(state_dir, info.pid)])
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))

    def publish() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        if server.started:
            write_info(state_dir, info)
            print(f"daemon for {graph.label} listening on {info.url}", file=sys.stderr, flush=True)

    threading.Thread(target=publish, daemon=True).start()
    idle.start()
    try:
        server.run()
    finally:
        service.close()
        remove_info(state_dir, info.pid)
