"""A real Dask cluster on loopback for the Dask launcher's tests: one ``dask scheduler``
and three ``dask worker`` processes (one thread each), stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKERS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler at ``uri`` (dask://127.0.0.1:PORT) and its workers, each its own process."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.port = tmp, free_port()
        self.uri, self.address = f"dask://127.0.0.1:{self.port}", f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        out = open(self.tmp / f"{name}.log", "ab")
        return subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                start_new_session=True)

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn("scheduler", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                     "--port", str(self.port), "--no-dashboard")

    def start_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        w = self._spawn(f"worker{n}", "distributed.cli.dask_worker", self.address, "--nthreads", "1",
                        "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{n}",
                        "--local-directory", str(self.tmp / f"w{n}"))
        self.workers.append(w)
        return w

    def wait_ready(self, workers: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + 60
        with Client(self.address, timeout=60, set_as_default=False) as c:
            while len(c.scheduler_info()["workers"]) < workers:
                assert time.monotonic() < deadline, (self.tmp / "scheduler.log").read_text()
                time.sleep(0.1)

    def worker_addresses(self) -> dict[str, int]:
        """Worker address -> pid of the worker process serving it."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as c:
            return c.run(os.getpid)

    def restart_scheduler(self) -> None:
        self.stop_all()
        self.workers = []
        self.start_scheduler()
        for _ in range(WORKERS):
            self.start_worker()
        self.wait_ready(WORKERS)

    def stop_all(self) -> None:
        for p in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A started cluster of three one-thread workers; killed at the end of the module."""
    c = Cluster(tmp_path_factory.mktemp("dask"))
    c.start_scheduler()
    for _ in range(WORKERS):
        c.start_worker()
    try:
        c.wait_ready(WORKERS)
        yield c
    finally:
        c.stop_all()
