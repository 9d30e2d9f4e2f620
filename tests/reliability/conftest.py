"""The reliability tier: a real daemon process per test, driven the way users and attackers do."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

#: A job for every test here: config maps ref -> one run; exec by ref prefix.
#: slow/* waits for $DATA/release; hang/* never ends (and its child neither); flood/* prints without end;
#: hangconfig/* hangs in config (and its child holds stdout); chainT/N needs chainT/N-1 and takes a moment.
JOB = r"""#!/bin/sh
if [ "$1" = config ]; then
  shift
  case "$1" in hangconfig/*) sleep 1000 & sleep 1000;; esac
  printf '{"configs": ['; sep=
  for r in "$@"; do
    n=${r##*/}; prefix=${r%/*}
    case "$r" in
      chain*/0) printf '%s{"outputs": ["%s"], "args": ["%s"]}' "$sep" "$r" "$r";;
      chain*) printf '%s{"outputs": ["%s"], "inputs": [{"ref": "%s/%s", "dep_type": "materialize"}], "args": ["%s"]}' \
              "$sep" "$r" "$prefix" "$((n - 1))" "$r";;
      *) printf '%s{"outputs": ["%s"], "args": ["%s"]}' "$sep" "$r" "$r";;
    esac
    sep=,
  done
  printf ']}\n'; exit 0
fi
echo "$2" >> "$DATA/runs.log"
case "$2" in
  slow/*) while [ ! -e "$DATA/release" ]; do sleep 0.05; done;;
  hang/*) sleep 1000 & sleep 1000;;
  flood/*) yes "flooding the log with one line after another"; exit 0;;
  chain*) sleep 0.2;;
esac
exit 0
"""
OUTPUTS = ["daily/*", "slow/*", "hang/*", "flood/*", "hangconfig/*", "chain*/*"]


@dataclass
class Daemon:
    """A graph's daemon, started through the CLI as users start it."""

    root: Path
    env: dict = field(default_factory=dict)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "databuild.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    @property
    def info(self) -> dict:
        return json.loads((self.root / "state" / "daemon.json").read_text())

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.info['token']}"}

    def start(self) -> None:
        started = self.cli("daemon", "start")
        assert started.returncode == 0, started.stderr

    def want(self, *refs: str, **fields) -> str:
        r = requests.post(f"{self.url}/api/v1/wants", json={"partitions": list(refs), **fields}, headers=self.auth,
                          timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["want_id"]

    def wait_want(self, want_id: str, *statuses: str, timeout: float = 60) -> dict:
        """Follow the event feed until the want reaches one of ``statuses``."""
        deadline = time.monotonic() + timeout
        since = 0
        while True:
            want = requests.get(f"{self.url}/api/v1/wants/{want_id}", timeout=30).json()
            if want["status"] in statuses:
                return want
            assert time.monotonic() < deadline, want
            since = requests.get(f"{self.url}/api/v1/events", params={"since": since, "wait": 1},
                                 timeout=30).json()["next"]

    def pid(self) -> int:
        return self.info["pid"]

    def job_processes(self) -> list[int]:
        """Pids of this graph's job processes still running (found by their environment),
        the daemon itself left out."""
        mine = f"DATA={self.root / 'data'}".encode()
        daemon = self.pid() if (self.root / "state" / "daemon.json").exists() else None
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
                    if mine in (entry / "environ").read_bytes().split(b"\0") and b"Z" not in (
                            entry / "stat").read_bytes().rsplit(b")", 1)[1][:3]:
                        found.append(int(entry.name))
        return [pid for pid in found if pid != daemon]

    def stop(self) -> None:
        info = self.root / "state" / "daemon.json"
        if info.exists():
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(json.loads(info.read_text())["pid"], signal.SIGKILL)


def start_daemon(tmp_path: Path, limits: dict | None = None) -> Daemon:
    """A fresh graph (the job above, with the graph's ``limits`` of the manifest) in
    ``tmp_path`` and its running daemon."""
    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    (tmp_path / "data").mkdir()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({
        "version": 1, "label": "//reliability:graph", "lookup": None, "upstreams": [],
        "jobs": [{"label": "//reliability:job", "executable": str(job), "outputs": OUTPUTS}],
        **({"limits": limits} if limits else {})}))
    env = dict(os.environ, DATABUILD_GRAPH_MANIFEST=str(manifest), DATABUILD_STATE_DIR=str(tmp_path / "state"),
               DATA=str(tmp_path / "data"))
    env.pop("DATABUILD_TOKEN", None)
    d = Daemon(tmp_path, env)
    d.start()
    return d


@pytest.fixture
def daemon(tmp_path) -> Daemon:
    d = start_daemon(tmp_path)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory) -> Daemon:
    """One daemon for a whole module (fuzzing)."""
    d = start_daemon(tmp_path_factory.mktemp("shared"))
    yield d
    d.stop()


def pytest_collection_modifyitems(items) -> None:
    """Everything here starts processes: the reliability tier is also slow."""
    for item in items:
        if "tests/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.reliability)
