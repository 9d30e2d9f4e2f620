"""Job runs as Dask tasks: the ``dask://HOST:PORT`` execution backend.

Each job run is ONE task (``pure=False``, a key naming the run) whose function starts
the same job binary with the same argv, environment and stdin as ``ProcessLauncher``,
in its own process group on the worker (``GroupChild``, as locally).

The hot path costs no polling and almost no round trips (issue 15 part 3, ≤ 10 ms per
run; docs/builds.md has the figures):

- How a run went comes back as Dask *worker events* (``Worker.log_event``) on a topic
  named after the launcher's client, pushed to the launcher by the scheduler
  (``Client.subscribe_topic``): a "started" record (the worker's address) and an "end"
  record (exit code, dropped bytes, and the log itself when the job was short and
  quiet). They ride the worker's batched stream, so sending one costs the task nothing,
  and the scheduler forgets the topic when the client disconnects.
- A job that prints for longer than ``LIVE_LAG_SECONDS``, or more than
  ``INLINE_LOG_BYTES``, streams its output while it runs as chunks on one Dask
  ``Queue`` per launcher (read, hence freed, at once); the end record says how many
  were sent, so the launcher writes the tail only after them. The launcher writes every
  byte into the run's local log file through ``RunLog`` (the same cap).
- Signals (cancel, timeouts) go straight to the worker running the job
  (``Client.run``); a watchdog thread per worker kills the jobs nobody waits for any
  more (their task was released or the scheduler is gone).

Dask must not retry behind the service's back: when a worker dies the scheduler
reschedules its tasks, so each task first marks its run as started (a ``Variable`` the
launcher set to FRESH, read then set while the job is held before its exec);
an attempt that finds the mark does not start the job again but ends the run with
"worker lost", and the want's retry policy decides what happens next. The job itself
gets SIGKILL when its worker dies (``setpriv --pdeathsig``, or ``prctl`` where setpriv
is missing).
"""

from __future__ import annotations

import contextlib
import os
import queue as stdqueue
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from typing import Any, Callable
from urllib.parse import urlsplit

from databuild.errors import InvalidArgumentError, UnavailableError
from databuild.executor.launcher import PIPE_SAFE_BYTES, RunExit, RunLog, run_invocation
from databuild.graph import GraphSpec
from databuild.planner import PlannedRun
from databuild.procs import DRAIN_GRACE_SECONDS, GroupChild

#: How long connecting to the scheduler may take before it counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 5
#: How often the launcher looks for runs whose task failed without an end record
#: (a lost scheduler, a task that raised); end records themselves arrive at once.
POLL_SECONDS = 0.1
#: A job's output is sent while it runs at most this long after it was printed; a job
#: that ends sooner sends it with its end record.
LIVE_LAG_SECONDS = 0.1
#: Output up to this size waits for the end record (or LIVE_LAG_SECONDS); more is sent
#: at once as a chunk. Small: end records stay on the scheduler until the client leaves.
INLINE_LOG_BYTES = 8192
#: A job still running after this long tells the launcher its worker (for signals); a
#: shorter one says it with its end record only.
STARTED_AFTER_SECONDS = 0.02
#: How often a worker's watchdog looks for jobs nobody waits for any more.
WATCH_SECONDS = 0.5
#: The batched-send interval of the launcher's client (Dask's default for a client is
#: 10 ms: a submit right after another message waited for it; see dask/distributed#2345
#: on these throttles and latency).
CLIENT_SEND_INTERVAL_SECONDS = 0.001
WORKER_LOST = "worker lost"


def dask_address(uri: str) -> str:
    """``tcp://HOST:PORT`` of a ``dask://HOST:PORT`` executor URI; InvalidArgumentError naming a bad one."""
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "dask" or not parts.hostname or not port or parts.path not in ("", "/") or parts.query:
        raise InvalidArgumentError(f"executor {uri!r} is not dask://HOST:PORT")
    return f"tcp://{parts.netloc}"


# -- on the worker -------------------------------------------------------------------

#: Jobs running in this worker process: job run id -> (its child, its task key). The
#: lock also keeps a signal from racing the child's reaping (its pid could be reused).
_RUNNING: dict[str, tuple[GroupChild, str]] = {}
_RUNNING_LOCK = threading.Lock()
_WATCHED: list[Any] = []  # [the Worker the watchdog looks at], once started
_DEATH: list[tuple[list[str], Callable[[], None] | None]] = []  # how jobs die with their worker, looked up once


def _die_with_worker() -> tuple[list[str], Callable[[], None] | None]:
    """An argv prefix, or failing that a preexec function, giving the job SIGKILL when the
    worker thread that started it dies (Linux's parent-death signal), so a killed worker
    leaves no job behind. ``setpriv`` (util-linux) keeps the spawn a vfork: a preexec
    function makes Python fork the whole worker instead (measured: 5 ms vs 1 ms)."""
    if not _DEATH:
        setpriv = shutil.which("setpriv")
        ok = setpriv is not None and subprocess.run([setpriv, "--pdeathsig", "KILL", "true"],
                                                     capture_output=True).returncode == 0
        if ok:
            _DEATH.append(([setpriv, "--pdeathsig", "KILL", "--"], None))
        else:
            import ctypes  # in the worker only: the service never needs it

            try:
                prctl = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError):
                _DEATH.append(([], None))
            else:
                _DEATH.append(([], lambda: prctl(1, signal.SIGKILL)))  # PR_SET_PDEATHSIG
    return _DEATH[0]


#: What the job runs under until its start is allowed: a shell that stops itself, then
#: (on SIGCONT) execs the job's argv, so the job keeps the pid, session and environment.
HOLD = ["/bin/sh", "-c", 'kill -STOP $$ && exec "$@"', "databuild-hold"]


#: The started mark's value before the task started the job: set by the launcher.
FRESH = "fresh"
#: How long a task waits for the launcher's FRESH mark (it is sent before the submit).
MARK_WAIT_SECONDS = 30


def started_mark(rid: str) -> str:
    """The name of the Dask ``Variable`` marking whether job run ``rid``'s task started its job."""
    return f"databuild-started-{rid}"


def _kill_left_behind(mark: dict[str, Any], rid: str) -> None:
    """Kill what the lost attempt's job left running when this attempt runs on the same
    host: the job itself died with its worker, its children did not. Its process group
    from the mark, and every process whose environment names the run
    (``DATABUILD_JOB_RUN_ID``: children that left it)."""
    if mark.get("host") != socket.gethostname():
        return
    groups = {mark["pgid"]} if mark.get("pgid") else set()
    tag = f"DATABUILD_JOB_RUN_ID={rid}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if tag in f.read().split(b"\0"):
                    groups.add(os.getpgid(int(entry)))
        except (OSError, ProcessLookupError):
            continue  # gone, or not ours to read
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _watch() -> None:
    """The worker's watchdog: kill the jobs whose task was released (nobody waits for the
    run: the service died, its client with it) or whose worker lost its scheduler."""
    from distributed.core import Status

    while True:
        time.sleep(WATCH_SECONDS)
        worker = _WATCHED[0]
        alive = worker.status in (Status.running, Status.paused) and not worker.batched_stream.closed()
        with _RUNNING_LOCK:
            for child, key in _RUNNING.values():
                task = worker.state.tasks.get(key)
                if not alive or task is None or task.state == "cancelled":
                    child.signal(signal.SIGKILL)


def _watch_over(worker) -> None:
    with _RUNNING_LOCK:
        if not _WATCHED:
            _WATCHED.append(worker)
            threading.Thread(target=_watch, name="databuild-watchdog", daemon=True).start()
        _WATCHED[0] = worker


def _tune(client) -> None:
    """A batched-send interval of ``CLIENT_SEND_INTERVAL_SECONDS`` for ``client``."""
    comm = getattr(client, "scheduler_comm", None)
    if comm is not None and getattr(comm, "interval", None) != CLIENT_SEND_INTERVAL_SECONDS:
        comm.interval = CLIENT_SEND_INTERVAL_SECONDS


def signal_run(rid: str, sig: str) -> bool:
    """On the worker (through ``Client.run``): send SIGTERM (``TERM``) or SIGKILL (``KILL``)
    to job run ``rid``'s process group; False if it does not run here (any more)."""
    with _RUNNING_LOCK:
        entry = _RUNNING.get(rid)
        if entry is not None:
            entry[0].signal(signal.SIGKILL if sig == "KILL" else signal.SIGTERM)
    return entry is not None


class _Output:
    """A job's output on the worker: the first ``cap`` bytes are kept (the rest counted),
    held back while the job is young and quiet, else sent as chunks on the log Queue."""

    def __init__(self, rid: str, cap: int, queue_name: str, client, now: float) -> None:
        self.rid, self.cap, self.queue_name, self.client = rid, cap, queue_name, client
        self.pending = bytearray()
        self.kept = self.dropped = self.chunks = 0
        self.flushed_at = now
        self._queue = None

    def write(self, chunk: bytes) -> None:
        keep = chunk[:max(0, self.cap - self.kept)]
        self.dropped += len(chunk) - len(keep)
        self.kept += len(keep)
        self.pending += keep
        if len(self.pending) > INLINE_LOG_BYTES:
            self.flush()

    @property
    def due(self) -> float | None:
        """When what is held back must be sent (None: nothing is)."""
        return self.flushed_at + LIVE_LAG_SECONDS if self.pending else None

    def flush(self) -> None:
        from distributed import Queue

        if self._queue is None:
            self._queue = Queue(self.queue_name, client=self.client)
        self._queue.put({"rid": self.rid, "kind": "log", "data": bytes(self.pending)})
        self.pending.clear()
        self.chunks += 1
        self.flushed_at = time.monotonic()

    def close(self) -> None:
        if self._queue is not None:
            with contextlib.suppress(Exception):
                self._queue.close()  # queues are reference-counted per handle on the scheduler


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    # A job may exit without reading its config (the protocol allows it).
    with contextlib.suppress(BrokenPipeError, OSError):
        proc.stdin.write(data)
    with contextlib.suppress(BrokenPipeError, OSError):
        proc.stdin.close()


def run_job_task(rid: str, argv: list[str], env: dict[str, str], stdin: bytes, channel: tuple[str, str], cap: int,
                 drain_grace: float) -> dict[str, Any]:
    """The task body on the worker: run the job, send its output, return how it ended.

    ``channel`` is (the event topic the launcher listens on, the name of its log Queue)."""
    from distributed import get_client, get_worker

    topic, log_queue = channel
    here = get_worker()
    client, worker, key = get_client(), here.address, here.get_current_task()
    prefix, preexec = _die_with_worker()
    _watch_over(here)
    t0 = time.monotonic()
    out = _Output(rid, cap, log_queue, client, t0)
    selector = selectors.DefaultSelector()
    child: GroupChild | None = None
    try:
        # Started held (stopped before its exec) while the mark's round trips go on: the
        # job itself starts only once no earlier attempt can have started it.
        child = GroupChild(rid, [*prefix, *HOLD, *argv], env, selector, out.write, stdin=subprocess.PIPE,
                           drain_grace=drain_grace, preexec_fn=preexec)
        with _RUNNING_LOCK:
            _RUNNING[rid] = (child, key)
        if len(stdin) <= PIPE_SAFE_BYTES:
            _feed(child.proc, stdin)
        else:  # too big for the pipe buffer: a job that never reads it would block us
            threading.Thread(target=_feed, args=(child.proc, stdin), daemon=True).start()
        from distributed import Variable

        started = Variable(started_mark(rid), client=client)
        # The launcher set it to FRESH before submitting (a get that times out would log a
        # traceback on the scheduler); this waits if that set is still on its way.
        earlier = started.get(timeout=MARK_WAIT_SECONDS)
        if earlier != FRESH:  # rescheduled after the worker of the first attempt died
            with _RUNNING_LOCK:
                _RUNNING.pop(rid, None)
                child.kill()  # it never got past the hold
            _kill_left_behind(earlier, rid)
            end = {"rid": rid, "kind": "end", "lost": earlier.get("worker", "its first worker"), "worker": worker}
            here.log_event(topic, end)
            return end
        started.set({"worker": worker, "host": socket.gethostname(), "pgid": child.pid})
        _release_hold(child.pid)

        def tell() -> None:  # the job runs long enough to be signalled: say where
            here.log_event(topic, {"rid": rid, "kind": "started", "worker": worker, "pid": child.pid})

        code = _follow(rid, child, selector, out, t0 + STARTED_AFTER_SECONDS, tell)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(rid, None)
            if child is not None and child.code is None:  # e.g. the scheduler went away: no orphan
                child.kill()
        selector.close()
        out.close()
    end = {"rid": rid, "kind": "end", "exit_code": code, "dropped": out.dropped, "worker": worker,
           "chunks": out.chunks, "log": bytes(out.pending)}
    here.log_event(topic, end)
    return end


def _release_hold(pid: int) -> None:
    """Let the held job go on to its exec: wait until it stopped itself (or died: a signal
    came first), then SIGCONT it. Nothing is reaped (WNOWAIT): GroupChild does that."""
    info = os.waitid(os.P_PID, pid, os.WSTOPPED | os.WEXITED | os.WNOWAIT)
    if info is not None and info.si_code == os.CLD_STOPPED:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def _follow(rid: str, child: GroupChild, selector: selectors.BaseSelector, out: _Output, tell_at: float | None,
            tell: Callable[[], None]) -> int:
    """Read the job's output until it ended (cutting what it left holding the pipe after
    the drain grace); ``tell`` once it ran until ``tell_at``: a short job never costs it."""
    while not child.ended:
        times = [t for t in (out.due, child.drain_deadline, tell_at) if t is not None]
        for k, _ in selector.select(max(0.0, min(times) - time.monotonic()) if times else None):
            child.ready(k.fd)
        now = time.monotonic()
        if tell_at is not None and tell_at <= now and not child.ended:
            tell()
            tell_at = None
        if child.drain_deadline is not None and child.drain_deadline <= now:
            child.cut()
        if out.due is not None and out.due <= now and not child.ended:
            out.flush()
    with _RUNNING_LOCK:  # no signal may reach the pid once it is reaped
        _RUNNING.pop(rid, None)
        return child.reap()


# -- in the service ------------------------------------------------------------------


class _Run:
    """A run the launcher follows: its future, its log, and what came back so far."""

    __slots__ = ("future", "log", "chunks", "end")

    def __init__(self, future, log: RunLog) -> None:
        self.future, self.log, self.chunks = future, log, 0
        self.end: dict[str, Any] | None = None  # the end record, while chunks are still due


class DaskLauncher:
    """Runs each job run as a task on the Dask cluster at ``address`` (``tcp://HOST:PORT``).

    The client connects at the first ``start``: a scheduler that cannot be reached fails
    that run (OSError naming it), like a job binary that cannot be started. Records from
    the workers arrive on the client's threads into one inbox; ``wait`` (the executor's
    thread) handles them, so log writes and run ends happen where the executor is."""

    def __init__(self, graph: GraphSpec, address: str, base_env: dict[str, str] | None = None,
                 max_log_bytes: int | None = None, drain_grace: float = DRAIN_GRACE_SECONDS) -> None:
        self.graph, self.address = graph, address
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.max_log_bytes = max_log_bytes or graph.max_log_bytes
        self.drain_grace = drain_grace
        self.path_map = parse_path_map(self.base_env.get(PATH_MAP_ENV, ""))
        self._client = None
        self._logs = None  # this launcher's log Queue handle, once connected
        self._log_queue = f"databuild-log-{uuid.uuid4().hex}"
        self._channel: tuple[str, str] | None = None
        self._runs: dict[str, _Run] = {}  # job run id -> the run
        self._workers: dict[str, str] = {}  # job run id -> worker address
        self._pending_signals: dict[str, str] = {}  # job run id -> signal asked before its worker was known
        self._released: list[tuple[Any, str]] = []  # (future, run id) of ended runs, to release after the next submit
        self._inbox: stdqueue.Queue[tuple[str, Any] | None] = stdqueue.Queue()
        self._marks: stdqueue.Queue[str | None] = stdqueue.Queue()  # runs whose mark to set FRESH (None: stop)
        self._marker: threading.Thread | None = None
        self._exits: list[RunExit] = []
        self._checked_at = 0.0  # when wait last looked at the futures
        self._lock = threading.Lock()
        self._pump: threading.Thread | None = None
        self._closing = threading.Event()

    def _connect(self):
        if self._client is None:
            try:
                from distributed import Client
            except ImportError as e:
                raise OSError(f"the dask executor needs the 'distributed' package: {e}") from e
            try:
                client = Client(self.address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise ConnectionError(f"Dask scheduler {self.address} is unreachable: {e}") from e
            from distributed import Queue

            _tune(client)
            # Sent on the client's stream before any submit: no record of ours can come first.
            client.subscribe_topic(client.id, self._on_event)
            self._channel = (client.id, self._log_queue)
            # Held until close: the queue lives on the scheduler while some handle is open,
            # so chunks a task puts are kept even before the pump reads them.
            self._logs = Queue(self._log_queue, client=client)
            self._client = client
            self._pump = threading.Thread(target=self._pump_loop, name="dask-logs", daemon=True)
            self._pump.start()
            self._marker = threading.Thread(target=self._marker_loop, name="dask-marks", daemon=True)
            self._marker.start()
        return self._client

    def start(self, run: PlannedRun, log_path: str) -> None:
        argv, env, stdin = run_invocation(self.graph, run, self.base_env)
        argv, env = map_invocation(argv, env, self.path_map)
        client = self._connect()
        log = RunLog(log_path, self.max_log_bytes)
        entry = _Run(None, log)
        with self._lock:
            self._runs[run.job_run_id] = entry
        self._marks.put(run.job_run_id)  # before the submit: on its way first
        try:
            entry.future = client.submit(run_job_task, run.job_run_id, argv, env, stdin, self._channel,
                                         self.max_log_bytes, self.drain_grace, key=f"databuild-run-{run.job_run_id}",
                                         pure=False, retries=0)
        except Exception as e:
            with self._lock:
                self._runs.pop(run.job_run_id, None)
            log.close()
            raise ConnectionError(f"could not submit to Dask scheduler {self.address}: {e}") from e
        self._release_ended()  # after the submit: its message goes first
        return None

    def worker(self, job_run_id: str) -> str | None:
        """The address of the worker running (or that ran) ``job_run_id``, once known."""
        return self._workers.get(job_run_id)

    def _on_event(self, event: tuple[float, Any]) -> None:
        """On the client's event loop: a record a task logged on our topic (the scheduler
        logs a few of its own there, e.g. add-client: not ours, no "rid")."""
        msg = event[1]
        if isinstance(msg, dict) and "rid" in msg:
            self._inbox.put(("event", msg))

    def _pump_loop(self) -> None:
        q = self._logs
        while not self._closing.is_set():
            try:
                # No timeout: the scheduler logs a traceback for each get that times out.
                # close() wakes it with a None record.
                records = [q.get()]
                records += q.get(batch=True)
            except Exception:  # the scheduler went away: the futures say how each run ended
                if self._closing.is_set():
                    return
                time.sleep(POLL_SECONDS)
                continue
            for r in records:
                if r is not None:
                    self._inbox.put(("chunk", r))

    def _handle(self, item: tuple[str, Any]) -> None:
        kind, r = item
        rid = r["rid"]
        with self._lock:
            run = self._runs.get(rid)
        if run is None:
            return  # a run that ended already (e.g. its worker was lost mid-stream)
        if kind == "chunk":
            run.log.write(r["data"])
            run.chunks += 1
        elif r["kind"] == "started":
            self._workers[rid] = r["worker"]
            sig = self._pending_signals.pop(rid, None)
            if sig is not None:
                self._signal(rid, sig)
        elif r["kind"] == "end":
            if "lost" in r:  # the run is recorded where it ran, not where its rescheduled task noticed
                self._workers[rid] = r["lost"]
                self._end(rid, -signal.SIGKILL, f"{WORKER_LOST}: {r['lost']}")
                return
            self._workers[rid] = r["worker"]
            run.end = r
        if run.end is not None and run.chunks >= run.end["chunks"]:  # every chunk sent before it is written
            run.log.write(run.end["log"])
            run.log.received += run.end["dropped"]
            self._end(rid, run.end["exit_code"])

    def _check_futures(self) -> None:
        with self._lock:
            failed = [(rid, r.future) for rid, r in self._runs.items()
                      if r.future is not None and r.future.status in ("error", "cancelled", "lost")]
        for rid, future in failed:
            why = self._failure(rid, future)
            self._end(rid, -signal.SIGKILL, why)

    def _failure(self, rid: str, future) -> str:
        from distributed import KilledWorker

        if future.status != "error":  # "lost" / "cancelled": the scheduler went away or dropped it
            return f"Dask scheduler {self.address} lost the task ({future.status})"
        try:
            exc = future.exception(timeout=1)
        except Exception as e:
            return f"Dask scheduler {self.address} lost the task: {type(e).__name__}: {e}"
        if isinstance(exc, KilledWorker):
            return f"{WORKER_LOST}: {self._workers.get(rid, 'its worker')}"
        return f"the Dask task failed: {type(exc).__name__}: {exc}"

    def _end(self, rid: str, code: int, error: str = "") -> None:
        with self._lock:
            run = self._runs.pop(rid, None)
        if run is None:
            return
        self._pending_signals.pop(rid, None)
        if run.future is not None:
            self._released.append((run.future, rid))
        self._exits.append(RunExit(rid, code, run.log.close(), error, self._workers.pop(rid, "")))

    def _release_ended(self) -> None:
        """Let the scheduler forget the ended runs' tasks and marks (messages on the client's
        batched stream, no round trip); done after a submit so they never delay it."""
        released, self._released = self._released, []
        if not released:
            return
        from distributed import Variable

        for future, rid in released:
            future.release()
            with contextlib.suppress(Exception):  # the scheduler is gone: nothing is left to clean
                Variable(started_mark(rid), client=self._client).delete()

    def _marker_loop(self) -> None:
        """Set the marks of submitted runs to FRESH, off the executor's thread (a round trip
        each; their tasks wait for it if it is late), until close."""
        from distributed import Variable

        while (rid := self._marks.get()) is not None:
            with contextlib.suppress(Exception):  # the scheduler is gone: the task fails without it
                Variable(started_mark(rid), client=self._client).set(FRESH)

    def wait(self, timeout: float | None) -> list[RunExit]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._exits:
            now = time.monotonic()
            if now - self._checked_at >= POLL_SECONDS:  # also when records keep coming
                self._checked_at = now
                self._check_futures()
                self._release_ended()
                if self._exits:
                    break
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - now)
            try:
                item = self._inbox.get(timeout=max(0.0, left))
            except stdqueue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                continue
            if item is None:  # wake()
                break
            self._handle(item)
            while True:  # whatever else arrived meanwhile
                try:
                    item = self._inbox.get_nowait()
                except stdqueue.Empty:
                    break
                if item is not None:
                    self._handle(item)
        ended, self._exits = self._exits, []
        return ended

    def terminate(self, job_run_id: str, force: bool = False) -> None:
        if job_run_id not in self._runs or self._client is None:
            return
        sig = "KILL" if force else "TERM"
        if job_run_id not in self._workers:  # not started yet, or too young to have said where
            if self._pending_signals.get(job_run_id) != "KILL":
                self._pending_signals[job_run_id] = sig
            return
        self._signal(job_run_id, sig)

    def _signal(self, rid: str, sig: str) -> None:
        """Send ``sig`` to the worker running ``rid``, on a thread: an unreachable worker must
        not hold the executor (its run then ends as lost)."""
        client, worker = self._client, self._workers[rid]

        def send() -> None:
            with contextlib.suppress(Exception):  # the run ended meanwhile, or the worker or scheduler is gone
                client.run(signal_run, rid, sig, workers=[worker])

        threading.Thread(target=send, name=f"dask-signal-{rid}", daemon=True).start()

    def wake(self) -> None:
        self._inbox.put(None)

    @property
    def running(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    def close(self) -> None:
        """Kill runs still going (the executor gave up on them) and disconnect."""
        for rid in self.running:
            self.terminate(rid, force=True)
            self._end(rid, -signal.SIGKILL)
        self._exits = []
        self._closing.set()
        if self._marker is not None:  # stopped first: no mark is set after its run let it go
            with contextlib.suppress(stdqueue.Empty):
                while True:
                    self._marks.get_nowait()
            self._marks.put(None)
            self._marker.join(5)
        if self._client is not None:
            self._release_ended()  # a released task that still runs is killed by its worker's watchdog
            with contextlib.suppress(Exception):
                self._logs.put(None, timeout=1)  # wakes the pump's long poll
        if self._pump is not None:
            self._pump.join(5)
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._logs.close()
            with contextlib.suppress(Exception):
                # Before closing: else the scheduler sends our topic its remove-client
                # event over the closing stream, and logs a CRITICAL traceback per build.
                self._client.unsubscribe_topic(self._client.id)
            with contextlib.suppress(Exception):
                self._client.close(timeout=5)


def check_scheduler(address: str) -> None:
    """Raise UnavailableError naming ``address`` if no Dask scheduler answers there."""
    try:
        from distributed import Client
    except ImportError as e:
        raise UnavailableError(f"the dask executor needs the 'distributed' package: {e}") from e
    try:
        Client(address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False).close()
    except (OSError, TimeoutError) as e:
        raise UnavailableError(f"Dask scheduler {address} is unreachable: {e}") from e


#: How long recovery waits for the remote jobs of a dead service's runs to end.
STOP_WAIT_SECONDS = 10


def _running_keys(dask_worker, keys: list[str]) -> list[str]:
    """On each worker: which of ``keys`` it is still executing."""
    state = dask_worker.state
    busy = {ts.key for ts in (*state.executing, *state.long_running)}
    return [k for k in keys if k in busy]


def stop_remote_runs(address: str, job_run_ids: list[str], wait: float = STOP_WAIT_SECONDS) -> list[str]:
    """Kill the jobs of ``job_run_ids`` (runs a dead service left unfinished) wherever they
    still run on the cluster at ``address``, and wait up to ``wait`` seconds for their
    tasks to end; return the ids whose task still ran then.

    A task already kills its job once nobody waits for it (the scheduler dropped the dead
    service's client), but a scheduler that has not noticed the death yet (the service's
    host lost power: TCP keepalive takes its time) would leave the job running next to
    the retry; this sends SIGKILL to each run's process group on every worker instead
    (where it runs is not known here: the dead service knew). UnavailableError
    naming ``address`` if no scheduler answers (then the workers kill the jobs on their own)."""
    if not job_run_ids:
        return []
    from distributed import Client, Variable

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise UnavailableError(f"Dask scheduler {address} is unreachable: {e}") from e
    try:
        for rid in job_run_ids:
            client.run(signal_run, rid, "KILL")
        keys = [f"databuild-run-{rid}" for rid in job_run_ids]
        deadline = time.monotonic() + wait
        while True:
            left = sorted({k.removeprefix("databuild-run-")
                           for found in client.run(_running_keys, keys=keys).values() for k in found})
            if not left or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        for rid in set(job_run_ids) - set(left):  # kept while a task runs: a rescheduled one must not start the job
            Variable(started_mark(rid), client=client).delete()
        return left
    except (OSError, TimeoutError) as e:  # the scheduler went away meanwhile: as if it never answered
        raise UnavailableError(f"Dask scheduler {address} stopped answering: {e}") from e
    finally:
        client.close(timeout=5)


#: ``LOCAL=REMOTE[,LOCAL=REMOTE...]``: where paths under the service host's LOCAL
#: directory (the graph's ``.build`` artefact) are on the workers, when not at the same path.
PATH_MAP_ENV = "DATABUILD_DASK_PATH_MAP"


def parse_path_map(text: str) -> tuple[tuple[str, str], ...]:
    """The (local, remote) directory pairs of a ``DATABUILD_DASK_PATH_MAP`` value, longest
    local first; InvalidArgumentError naming a pair that is not two absolute paths."""
    pairs = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        local, sep, remote = item.partition("=")
        if not sep or not os.path.isabs(local) or not os.path.isabs(remote):
            raise InvalidArgumentError(f"{PATH_MAP_ENV} entry {item!r} is not LOCAL=REMOTE (two absolute paths)")
        pairs.append((os.path.normpath(local), os.path.normpath(remote)))
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


def _map_path(path: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for local, remote in pairs:
        if path == local or path.startswith(local.rstrip("/") + "/"):
            return remote + path[len(local):]
    return path


def map_invocation(argv: list[str], env: dict[str, str], pairs: tuple[tuple[str, str], ...]
                   ) -> tuple[list[str], dict[str, str]]:
    """``argv`` and ``env`` with paths under a local directory of ``pairs`` moved to its
    remote one: each argument, and each ``:``-separated part of each variable (the
    runfiles variables, ``PYTHONPATH``, ...)."""
    if not pairs:
        return argv, env
    return ([_map_path(a, pairs) for a in argv],
            {k: ":".join(_map_path(p, pairs) for p in v.split(":")) for k, v in env.items()})
