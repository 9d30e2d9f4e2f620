"""Running the HTTP service: in the foreground, or as a state directory's daemon.

Either way it is the state directory's one service: it holds ``daemon.lock`` and
records itself in ``daemon.json`` (see ``databuild.service.daemon``), so every command
finds it. The listening socket is bound before anything is announced, so a busy
port is an error before "serving ...". If the event log is lost under the service
(its file deleted or replaced), the service stops and raises EventLogLostError.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import uvicorn

from databuild.errors import (
    ConflictError, EventLogClosedError, EventLogLostError, LeaseLostError, ServiceUnavailableError, StorageError,
)
from databuild.executor.backends import check_executor
from databuild.graph import GraphSpec, resolve_upstreams
from databuild.service.core import DataBuildService
from databuild.service.daemon import (
    DaemonInfo, DaemonLock, IdleWatch, holder_description, new_token, remove_info, write_info,
)
from databuild.service.http import LOOPBACK_HOSTS, create_app, server_config
from databuild.service.memory import MemoryReleaser, release_freed_memory
from databuild.state import StateStore
from databuild.wants import Policy

#: Seconds between checks that the event log is still the file opened (for an idle service).
STORAGE_CHECK_S = 1.0
#: Seconds in-flight requests (e.g. long-polls) get to finish when the service stops.
GRACEFUL_SHUTDOWN_S = 5


@dataclass(frozen=True)
class ServiceOptions:
    """How a service pursues wants: the evaluator's policy and each build's job parallelism;
    and ``upstream_urls`` (``{name: url}``, from ``serve --upstream``) over the graph's
    upstreams (``databuild.graph.upstreams``)."""

    policy: Policy = Policy()
    parallelism: int | None = None
    upstream_urls: Mapping[str, str] = field(default_factory=dict)
    #: Where job runs run: None/"local" (processes here) or dask://HOST:PORT (--executor).
    executor: str | None = None


def resolved_graph(graph: GraphSpec, options: ServiceOptions) -> GraphSpec:
    """``graph`` with its upstreams where this service finds them: ``options.upstream_urls``,
    then this process's ``DATABUILD_UPSTREAM_<NAME>_URL`` / ``_TOKEN``, then the BUILD file."""
    return resolve_upstreams(graph, options.upstream_urls, os.environ)


SWITCH_INTERVAL_S = 0.001


def start_service(graph: GraphSpec, store: StateStore, log_dir: Path, options: ServiceOptions) -> DataBuildService:
    """The service, leading its log's evaluator, syncs and triggers once it holds the
    leader lease (at once when it is the only replica): elected, it first closes the
    builds whose executor died (e.g. a daemon killed mid-build)."""
    # Threads serving cheap reads wait for the GIL behind threads encoding big pages; a
    # shorter switch interval keeps /health and status reads quick while a feed is read.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    check_executor(graph.executor if options.executor is None else options.executor)  # an unreachable scheduler is named at start, not at the first build
    service = DataBuildService(graph, store, str(log_dir), policy=options.policy, parallelism=options.parallelism,
                               executor=options.executor)
    releaser = MemoryReleaser(service.builds.running, release=lambda: release_freed_memory(store.log))
    service.builds.add_finished_listener(releaser.build_ended)
    releaser.start()
    service.start_evaluator(lease=True)
    return service


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (port 0: any free one; read it back
    with ``getsockname``). Raises ServiceUnavailableError naming the port if it is taken."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except socket.gaierror as e:
        raise ServiceUnavailableError(f"cannot listen on {host}: {e.strerror}") from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ServiceUnavailableError(f"port {port} on {host} is already in use; "
                                          "choose another port (0: any free one)") from None
        raise ServiceUnavailableError(f"cannot listen on {host} port {port}: {e.strerror}") from None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _reachable_host(host: str) -> str:
    """The address a local client uses for a service bound to ``host`` (loopback for a wildcard)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def run_foreground(graph: GraphSpec, store: StateStore, state_dir: Path, log_dir: Path, host: str, port: int,
                   token: str, options: ServiceOptions, on_listening: Callable[[str], None] = lambda url: None,
                   read_token: str | None = None) -> None:
    """Serve on ``host``:``port`` as ``state_dir``'s service until stopped; call
    ``on_listening(url)`` once it listens. ``token`` records and reads, ``read_token``
    (if any) only reads (docs/http-api.md#authentication).

    Raises InvalidArgumentError for a bad upstream override, ConflictError naming the
    running service if ``state_dir`` has one, ServiceUnavailableError if the port
    cannot be bound (all before anything is announced), EventLogLostError once the
    service stopped because its log was lost.
    """
    graph = resolved_graph(graph, options)
    lock = DaemonLock(state_dir)
    if not lock.acquire():
        raise ConflictError(f"state directory {state_dir} is already served by {holder_description(state_dir)}; "
                            "stop it first (daemon stop) or use another --state-dir")
    sock = bind_socket(host, port)
    _serve(graph, store, state_dir, log_dir, sock, _url(host, sock.getsockname()[1]), token, options, on_listening,
           read_token=read_token)


def run_daemon(graph: GraphSpec, store: StateStore, state_dir: Path, log_dir: Path, idle_timeout: float,
               options: ServiceOptions) -> None:
    """Serve on a free loopback port with a fresh token; record it; exit when idle.

    Returns at once if another service holds ``state_dir``; raises InvalidArgumentError
    for a bad upstream override in the environment, EventLogLostError once the
    service stopped because its log was lost.
    """
    graph = resolved_graph(graph, options)
    lock = DaemonLock(state_dir)
    if not lock.acquire():
        print(f"{state_dir} is already served by {holder_description(state_dir)}; leaving it to serve",
              file=sys.stderr)
        return
    sock = bind_socket("127.0.0.1", 0)
    url = _url("127.0.0.1", sock.getsockname()[1])
    _serve(graph, store, state_dir, log_dir, sock, url, new_token(), options,
           lambda url: print(f"daemon for {graph.label} listening on {url}", file=sys.stderr, flush=True),
           idle_timeout)


def _serve(graph: GraphSpec, store: StateStore, state_dir: Path, log_dir: Path, sock: socket.socket, url: str,
           token: str, options: ServiceOptions, on_listening: Callable[[str], None], idle_timeout: float = 0,
           read_token: str | None = None) -> None:
    """Run uvicorn on the bound ``sock`` as ``state_dir``'s recorded service."""
    port = sock.getsockname()[1]
    info = DaemonInfo(os.getpid(), port, _url(_reachable_host(sock.getsockname()[0]), port), token, graph.label,
                      time.time())
    try:
        service = start_service(graph, store, log_dir, options)
    except BaseException:
        sock.close()
        raise
    server: uvicorn.Server | None = None
    lost: list[EventLogLostError | LeaseLostError] = []

    def stop() -> None:
        if server is not None:  # before the server exists, it is stopped as soon as it does (below)
            server.should_exit = True

    def on_lost(error: EventLogLostError | LeaseLostError) -> None:
        lost.append(error)
        stop()

    store.log.add_fatal_listener(on_lost)
    service.on_lease_lost = lambda: on_lost(LeaseLostError(
        "this service lost the leader lease of its event log (its connection to the database dropped); it stops, "
        "so that it decides nothing more: start it again to serve as a follower"))
    # Running builds, active wants (deadlines to record, data to wait for) and triggers
    # that are not paused (ticks to fire) keep the daemon up even when no client is asking.
    idle = IdleWatch(idle_timeout, stop, busy=lambda: service.running_builds > 0 or bool(store.active_wants(limit=1))
                     or service.triggers_active)
    host = sock.getsockname()[0]
    app = create_app(service, token, idle.touch, loopback_only=host in LOOPBACK_HOSTS,
                     on_shutdown=[lambda: remove_info(state_dir, info.pid)], read_token=read_token)
    server = uvicorn.Server(server_config(app, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S))
    if lost:
        stop()
    # uvicorn re-raises SIGTERM after shutting down, so cleanup cannot wait for run() to return.

    def publish() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        if server.started:
            write_info(state_dir, info)
            on_listening(url)

    threading.Thread(target=publish, name="publish", daemon=True).start()
    threading.Thread(target=_watch_storage, args=(store, server), name="storage-watch", daemon=True).start()
    idle.start()
    try:
        server.run(sockets=[sock])
    finally:
        service.close()
        remove_info(state_dir, info.pid)
        sock.close()
    if lost:
        raise lost[0]


def _watch_storage(store: StateStore, server: uvicorn.Server) -> None:
    """Check the event log now and then, so a log lost under an idle service stops it
    too (the check tells the fatal listener)."""
    reported = ""
    while not server.should_exit:
        time.sleep(STORAGE_CHECK_S)
        try:
            store.log.check_storage()
            reported = ""
        except (EventLogLostError, EventLogClosedError):
            return
        except StorageError as e:  # may pass (e.g. a directory unreadable a moment): say it once, keep serving
            if str(e) != reported:
                print(f"warning: {e}", file=sys.stderr, flush=True)
            reported = str(e)
