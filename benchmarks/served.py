"""What the benchmarks that run Bazel-built graphs share: building them, one graph's
``<graph>.build serve`` from a clean environment, percentile summaries, stamp files."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[1]


def build_package(package: str) -> Path:
    """``bazel build //<package>:all``; the directory of its outputs."""
    subprocess.run(["bazel", "build", "--noshow_progress", f"//{package}:all"], cwd=ROOT, check=True,
                   capture_output=True)
    return ROOT / "bazel-bin" / package


class ServedGraph:
    """``binary serve`` in the foreground (its own state directory under ``root``), from a clean environment."""

    def __init__(self, binary: Path, root: Path, env: dict | None = None) -> None:
        self.binary, self.root = binary, root
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root), "DATABUILD_STATE_DIR": str(self.root / "state"),
                    **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        self.proc = subprocess.Popen([str(self.binary), "serve", "--port", "0", "--token", TOKEN],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        record = self.root / "state" / "daemon.json"
        deadline = time.monotonic() + 60
        while not (record.exists() and json.loads(record.read_text())["pid"] == self.proc.pid):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.root.name} did not start: {self.proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        self.url = json.loads(record.read_text())["url"]
        return self.url

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def summary(samples: list[float]) -> dict:
    """n, p50, p99 and max of ``samples`` (seconds), in milliseconds."""
    samples = sorted(samples)
    return {"n": len(samples), "p50_ms": statistics.median(samples) * 1000,
            "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000, "max_ms": samples[-1] * 1000}


def wait_file(path: Path, timeout: float = 60, poll: float = 0.002) -> float:
    """The number a job stamped into ``path`` (the time it started), once it is there."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""  # absent or empty: the job has not stamped it yet
        if text:
            return float(text)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never written")
        time.sleep(poll)
