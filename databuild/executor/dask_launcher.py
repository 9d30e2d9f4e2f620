"""Job runs as Dask tasks: the ``dask://HOST:PORT`` execution backend.

Each job run is ONE task (``pure=False``, a key naming the run) whose function starts
the same job binary with the same argv, environment and stdin as ``ProcessLauncher``,
in its own process group on the worker. Its output comes back while it runs as chunks
on one Dask ``Queue`` per launcher, followed by an end record carrying the exit code;
the launcher writes the chunks into the run's local log file through ``RunLog`` (the
same cap). Control (SIGTERM/SIGKILL) goes to the worker on a per-run ``Queue``.

Dask must not retry behind the service's back: when a worker dies the scheduler
reschedules its tasks, so each task first marks its run as started (a ``Variable``);
an attempt that finds the mark does not start the job again but ends the run with
"worker lost", and the want's retry policy decides what happens next.
"""

from __future__ import annotations

import contextlib
import os
import queue as stdqueue
import signal
import socket
import subprocess
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from databuild.errors import InvalidArgumentError, UnavailableError
from databuild.executor.launcher import RunExit, RunLog, run_invocation
from databuild.graph import GraphSpec
from databuild.planner import PlannedRun
from databuild.procs import DRAIN_GRACE_SECONDS

#: How long connecting to the scheduler may take before it counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 5
#: How often the launcher looks for runs whose task failed without an end record
#: (a lost scheduler, a worker lost for good); end records themselves arrive at once.
POLL_SECONDS = 0.1
#: Bytes per log chunk read on the worker.
CHUNK_BYTES = 65536
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


_PRCTL: list[Any] = []  # libc's prctl, looked up once per worker process (not in each forked child)


def _die_with_parent() -> None:
    """In the job (before exec): its own session, and SIGKILL if the worker thread that
    started it dies, so a killed worker leaves no job running behind it (Linux)."""
    os.setsid()
    if _PRCTL:
        _PRCTL[0](1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _load_prctl() -> None:
    if not _PRCTL:
        import ctypes  # in the worker only: the service never needs it

        with contextlib.suppress(OSError, AttributeError):
            _PRCTL.append(ctypes.CDLL(None, use_errno=True).prctl)


def _kill_left_behind(mark: dict[str, Any]) -> None:
    """Kill what the lost attempt's job left running (its process group) when this attempt
    runs on the same host: the job itself died with its worker, its children did not."""
    if mark.get("pgid") and mark.get("host") == socket.gethostname():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(mark["pgid"], signal.SIGKILL)


def run_job_task(rid: str, argv: list[str], env: dict[str, str], stdin: bytes, log_queue: str, cap: int,
                 drain_grace: float) -> dict[str, Any]:
    """The task body on the worker: run the job, stream its output, return how it ended."""
    from distributed import Queue, Variable, get_client, get_worker

    _load_prctl()
    here = get_worker()
    client, worker, key = get_client(), here.address, here.get_current_task()
    out = Queue(log_queue, client=client)
    started = Variable(f"databuild-started-{rid}", client=client)
    try:
        earlier = started.get(timeout=0)
    except TimeoutError:
        earlier = None
    if earlier is not None:  # rescheduled after the worker of the first attempt died
        _kill_left_behind(earlier)
        end = {"rid": rid, "kind": "end", "lost": earlier["worker"], "worker": worker}
        out.put(end)
        out.close()  # queues are reference-counted per handle on the scheduler
        return end
    mark = {"worker": worker, "host": socket.gethostname(), "pgid": 0}
    started.set(mark)  # before the job starts: a later attempt must never start it again
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent, close_fds=True)
    started.set({**mark, "pgid": proc.pid})
    out.put({"rid": rid, "kind": "started", "worker": worker, "pid": proc.pid})
    sent, dropped = 0, 0

    def feed() -> None:  # a job may exit without reading its config
        with contextlib.suppress(BrokenPipeError, OSError):
            proc.stdin.write(stdin)
        with contextlib.suppress(BrokenPipeError, OSError):
            proc.stdin.close()

    def pump() -> None:
        nonlocal sent, dropped
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, CHUNK_BYTES):
            keep = chunk[:max(0, cap - sent)]
            dropped += len(chunk) - len(keep)
            if keep:
                sent += len(keep)
                out.put({"rid": rid, "kind": "log", "data": keep})

    done = threading.Event()

    def control() -> None:
        ctl = Queue(f"databuild-ctl-{rid}", client=client)
        while not done.is_set():
            try:
                sig = ctl.get(timeout=0.5)
            except TimeoutError:
                # Nobody waits for the run any more (the service died, its client with it,
                # and the scheduler released the task): stop the job rather than orphan it.
                task = here.state.tasks.get(key)
                sig = "KILL" if task is None or task.state == "cancelled" else None
            except Exception:  # the scheduler is gone: the service cannot hear of the run
                sig = "KILL"
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL if sig == "KILL" else signal.SIGTERM)
        with contextlib.suppress(Exception):
            ctl.close()

    threads = [threading.Thread(target=f, daemon=True) for f in (feed, pump, control)]
    for t in threads:
        t.start()
    code = proc.wait()
    threads[1].join(drain_grace)
    if threads[1].is_alive():  # something it left behind holds the pipe: cut it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        threads[1].join()
    done.set()
    proc.stdout.close()
    end = {"rid": rid, "kind": "end", "exit_code": code, "dropped": dropped, "worker": worker}
    out.put(end)
    out.close()
    return end


class DaskLauncher:
    """Runs each job run as a task on the Dask cluster at ``address`` (``tcp://HOST:PORT``).

    The client connects at the first ``start``: a scheduler that cannot be reached fails
    that run (OSError naming it), like a job binary that cannot be started."""

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
        self._runs: dict[str, tuple[Any, RunLog]] = {}  # job run id -> (future, log)
        self._controls: dict[str, Any] = {}  # job run id -> its control Queue, once terminated
        self._workers: dict[str, str] = {}  # job run id -> worker address
        self._exits: stdqueue.Queue[RunExit | None] = stdqueue.Queue()
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
                self._client = Client(self.address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise ConnectionError(f"Dask scheduler {self.address} is unreachable: {e}") from e
            from distributed import Queue

            # Held until close: the queue lives on the scheduler while some handle is open,
            # so records a task puts are kept even before the pump reads them.
            self._logs = Queue(self._log_queue, client=self._client)
            self._pump = threading.Thread(target=self._pump_loop, name="dask-logs", daemon=True)
            self._pump.start()
        return self._client

    def start(self, run: PlannedRun, log_path: str) -> None:
        argv, env, stdin = run_invocation(self.graph, run, self.base_env)
        argv, env = map_invocation(argv, env, self.path_map)
        client = self._connect()
        log = RunLog(log_path, self.max_log_bytes)
        with self._lock:
            self._runs[run.job_run_id] = (None, log)
        try:
            future = client.submit(run_job_task, run.job_run_id, argv, env, stdin, self._log_queue,
                                   self.max_log_bytes, self.drain_grace, key=f"databuild-run-{run.job_run_id}",
                                   pure=False, retries=0)
        except Exception as e:
            with self._lock:
                self._runs.pop(run.job_run_id, None)
            log.close()
            raise ConnectionError(f"could not submit to Dask scheduler {self.address}: {e}") from e
        with self._lock:
            self._runs[run.job_run_id] = (future, log)
        return None

    def worker(self, job_run_id: str) -> str | None:
        """The address of the worker running (or that ran) ``job_run_id``, once known."""
        return self._workers.get(job_run_id)

    def _pump_loop(self) -> None:
        q = self._logs
        while not self._closing.is_set():
            try:
                records = [q.get(timeout=POLL_SECONDS)]
                records += q.get(batch=True)
            except TimeoutError:
                records = []
            except Exception:  # the scheduler went away: the futures say how each run ended
                if self._closing.is_set():
                    return
                records = []
                time.sleep(POLL_SECONDS)
            for r in records:
                self._record(r)
            self._check_futures()

    def _record(self, r: dict[str, Any]) -> None:
        rid = r["rid"]
        with self._lock:
            entry = self._runs.get(rid)
        if entry is None:
            return
        log = entry[1]
        if r["kind"] == "log":
            log.write(r["data"])
        elif r["kind"] == "started":
            self._workers[rid] = r["worker"]
        elif r["kind"] == "end":
            if "lost" in r:
                self._end(rid, -signal.SIGKILL, f"{WORKER_LOST}: {r['lost']}")
            else:
                log.received += r["dropped"]
                self._end(rid, r["exit_code"])

    def _check_futures(self) -> None:
        with self._lock:
            failed = [(rid, f) for rid, (f, _) in self._runs.items() if f is not None and f.status in ("error", "cancelled", "lost")]
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
            entry = self._runs.pop(rid, None)
        if entry is None:
            return
        future, log = entry
        control = self._controls.pop(rid, None)
        if control is not None:
            with contextlib.suppress(Exception):
                control.close()
        if future is not None:
            future.release()
            from distributed import Variable

            with contextlib.suppress(Exception):  # the scheduler is gone: nothing is left to clean
                Variable(f"databuild-started-{rid}", client=self._client).delete()
        self._exits.put(RunExit(rid, code, log.close(), error, self._workers.pop(rid, "")))

    def wait(self, timeout: float | None) -> list[RunExit]:
        try:
            first = self._exits.get(timeout=timeout)
        except stdqueue.Empty:
            return []
        ended = [first]
        while True:
            try:
                ended.append(self._exits.get_nowait())
            except stdqueue.Empty:
                break
        return [e for e in ended if e is not None]

    def terminate(self, job_run_id: str, force: bool = False) -> None:
        if job_run_id not in self._runs or self._client is None:
            return
        from distributed import Queue

        with contextlib.suppress(Exception):  # the run ended meanwhile, or the scheduler is gone
            control = self._controls.get(job_run_id)
            if control is None:  # kept open until the run ends: a signal sent before the task started waits
                control = self._controls[job_run_id] = Queue(f"databuild-ctl-{job_run_id}", client=self._client)
            control.put("KILL" if force else "TERM", timeout=5)

    def wake(self) -> None:
        self._exits.put(None)

    @property
    def running(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    def close(self) -> None:
        """Kill runs still going (the executor gave up on them) and disconnect."""
        for rid in self.running:
            self.terminate(rid, force=True)
            self._end(rid, -signal.SIGKILL)
        self._closing.set()
        if self._pump is not None:
            self._pump.join(5)
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._logs.close()
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
    the retry; this says KILL on each run's control queue instead. UnavailableError
    naming ``address`` if no scheduler answers (then the workers kill the jobs on their own)."""
    if not job_run_ids:
        return []
    from distributed import Client, Queue, Variable

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise UnavailableError(f"Dask scheduler {address} is unreachable: {e}") from e
    try:
        for rid in job_run_ids:
            control = Queue(f"databuild-ctl-{rid}", client=client)
            control.put("KILL", timeout=5)
            control.close()  # a queue no running task holds is gone with this handle
        keys = [f"databuild-run-{rid}" for rid in job_run_ids]
        deadline = time.monotonic() + wait
        while True:
            left = sorted({k.removeprefix("databuild-run-")
                           for found in client.run(_running_keys, keys=keys).values() for k in found})
            if not left or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        for rid in set(job_run_ids) - set(left):  # kept while a task runs: a rescheduled one must not start the job
            Variable(f"databuild-started-{rid}", client=client).delete()
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
