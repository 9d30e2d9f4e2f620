"""SIGKILL the daemon at random points of multi-job builds: nothing recorded is lost,
nothing is left running, and every want is satisfied with the default settings."""

from __future__ import annotations

import os
import random
import signal
import time

import requests

TRIALS = 10


def test_sigkill_at_random_points_loses_nothing(daemon):
    rng = random.Random(20261202)
    wants: list[str] = []
    for trial in range(TRIALS):
        wants.append(daemon.want(f"chain{trial}/4", f"chain{trial}x/2"))
        time.sleep(rng.uniform(0.0, 1.5))
        before = requests.get(f"{daemon.url}/api/v1/events", params={"limit": 10_000}, timeout=30).json()["events"]
        os.kill(daemon.pid(), signal.SIGKILL)
        time.sleep(0.2)
        daemon.start()  # a command after a crash: recovery closes the dead builds and kills their jobs
        after = requests.get(f"{daemon.url}/api/v1/events", params={"limit": 10_000}, timeout=30).json()["events"]
        assert after[: len(before)] == before, f"trial {trial}: recorded events changed"
    for want_id in wants:
        want = daemon.wait_want(want_id, "satisfied", "failed", "expired", timeout=120)
        assert want["status"] == "satisfied", want
    deadline = time.monotonic() + 10
    while daemon.job_processes():
        assert time.monotonic() < deadline, f"left running: {daemon.job_processes()}"
        time.sleep(0.1)
