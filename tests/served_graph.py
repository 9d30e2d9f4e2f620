"""A Bazel-built graph's ``<name>.build serve`` as a user runs it, for end-to-end tests.

Shared by the cross-graph and trigger end-to-end suites: a clean environment (``PATH``
of /usr/bin and /bin, its own ``HOME`` and state directory, a write token), the address
read from ``daemon.json`` (a restart comes back on the same port), and HTTP helpers
that assert the status they expect.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import requests

ROOT = Path(__file__).resolve().parent.parent


def build_binaries(package: str, names: list[str]) -> Path:
    """``bazel build //<package>:all``; the directory of its ``<name>.build`` commands."""
    subprocess.run(["bazel", "build", "--noshow_progress", f"//{package}:all"], cwd=ROOT, check=True,
                   capture_output=True)
    out = ROOT / "bazel-bin" / package
    for name in names:
        assert os.access(out / f"{name}.build", os.X_OK), f"{out / name}.build was not built"
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class ServedGraph:
    """One graph's ``serve`` process; ``serve_options`` says how it is started."""

    def __init__(self, binaries: Path, root: Path, name: str, upstream: "ServedGraph | None" = None,
                 host: str = "127.0.0.1") -> None:
        self.binary, self.root, self.name = binaries / f"{name}.build", root / name, name
        self.upstream, self.host = upstream, host
        self.root.mkdir(parents=True)
        self.token = f"{name}-write-t0k"
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root), "DATABUILD_STATE_DIR": str(self.root / "state"),
                    "DATABUILD_TOKEN": self.token}
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.url = ""

    def serve_options(self) -> tuple[list[str], dict[str, str]]:
        """Arguments after ``serve --host H --port P`` and extra environment: the upstream by flag."""
        return (["--upstream", f"{self.upstream.name}={self.upstream.url}"] if self.upstream else []), {}

    def start(self) -> "ServedGraph":
        args, env = self.serve_options()
        self.proc = subprocess.Popen([str(self.binary), "serve", "--host", self.host, "--port", str(self.port), *args],
                                     env={**self.env, **env}, cwd="/", stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        record = self.root / "state" / "daemon.json"
        deadline = time.monotonic() + 60
        while not (record.exists() and json.loads(record.read_text())["pid"] == self.proc.pid):
            assert self.proc.poll() is None and time.monotonic() < deadline, self.proc.stderr.read().decode()
            time.sleep(0.05)
        self.url = json.loads(record.read_text())["url"]
        self.port = int(self.url.rsplit(":", 1)[1])  # a restart comes back on the same address
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args], env=self.env, cwd="/", capture_output=True, text=True,
                              timeout=120)

    def get(self, path: str, **params) -> dict:
        r = requests.get(f"{self.url}/api/v1/{path}", params=params, headers=bearer(self.token), timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: dict | None = None, expect: int = 201) -> dict:
        r = requests.post(f"{self.url}/api/v1/{path}", json=body or {}, headers=bearer(self.token), timeout=30)
        assert r.status_code == expect, r.text
        return r.json()

    def land(self, *refs: str) -> None:
        self.post("partitions:mark-available", {"refs": list(refs)})

    def partition(self, ref: str) -> str:
        return self.get(f"partitions/{ref}")["partition"]["status"]

    def events(self, *types: str) -> list[dict]:
        """Every event of these types, oldest first, each whole (``index``, ``timestamp``, the payload)."""
        out, since = [], 0
        while True:
            page = self.get("events", types=",".join(types), since=since, limit=1000)
            out += page["events"]
            if not page["has_more"]:
                return out
            since = page["next"]

    def payloads(self, type_: str) -> list[dict]:
        """The payloads of every event of ``type_``, oldest first."""
        return [e[type_] for e in self.events(type_)]


class DataGraph(ServedGraph):
    """A served graph whose jobs read and write under its own ``data`` directory
    (``DATABUILD_DATA_DIR``, as the example and e2e jobs do)."""

    def __init__(self, binaries: Path, root: Path, name: str) -> None:
        super().__init__(binaries, root, name)
        self.data = self.root / "data"
        self.env["DATABUILD_DATA_DIR"] = str(self.data)


class BasicGraph(DataGraph):
    """``examples/basic_graph`` with its example data under its own root."""

    def land_votes(self, day: str) -> None:
        """An outside system writes the raw votes, then records them through the API."""
        path = self.data / "raw" / "votes" / day
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("red\nblue\nred\n")
        self.land(f"raw/votes/{day}")


G = TypeVar("G", bound=ServedGraph)


@contextlib.contextmanager
def served_graphs(cls: type[G], binaries: Path, root: Path) -> Iterator[Callable[..., G]]:
    """A maker of ``cls(binaries, root, ...)`` graphs; every one made is SIGKILLed at the end."""
    made: list[G] = []

    def make(*args, **kwargs) -> G:
        made.append(cls(binaries, root, *args, **kwargs))
        return made[-1]
    try:
        yield make
    finally:
        for g in made:
            g.stop(signal.SIGKILL)
