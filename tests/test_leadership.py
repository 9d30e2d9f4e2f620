"""Leadership among replicas of one log (``databuild.service.leadership``): one holder of
the leader lease leads, another takes over when it stops, one that loses the lease stops
leading. In memory, with real threads; tests/test_replicas.py kills real replicas."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from databuild.events import MemoryEventLog
from databuild.events.lease import Lease
from databuild.service.leadership import Leadership, leader_gone

POLL_S = 0.02


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(POLL_S)


class Replica:
    """A Leadership that counts its elections and losses."""

    def __init__(self, lease: Lease) -> None:
        self.elected = self.lost = 0
        self.leadership = Leadership(lease, self._elected, self._lost, poll_s=POLL_S)

    def _elected(self) -> None:
        self.elected += 1

    def _lost(self) -> None:
        self.lost += 1


def test_one_replica_leads_and_another_takes_over_when_it_stops():
    log = MemoryEventLog()
    replicas = [Replica(log.lease("leader")) for _ in range(3)]
    for r in replicas:
        r.leadership.start()
    first = replicas[0]
    assert first.leadership.leader and first.elected == 1  # the first to start leads from its first moment
    assert [r.leadership.leader for r in replicas[1:]] == [False, False]
    time.sleep(5 * POLL_S)  # followers keep trying: still one leader
    assert sum(r.leadership.leader for r in replicas) == 1
    first.leadership.stop()
    wait_until(lambda: any(r.leadership.leader for r in replicas[1:]))
    assert sum(r.leadership.leader for r in replicas) == 1
    assert sum(r.elected for r in replicas) == 2 and all(r.lost == 0 for r in replicas)
    for r in replicas:
        r.leadership.stop()


class Droppable(Lease):
    """A lease whose holder can lose it, as a server's advisory lock goes with its connection."""

    def __init__(self) -> None:
        super().__init__("leader")
        self.holder = self.dropped = False

    def try_acquire(self) -> bool:
        if not self.dropped:
            self.holder = True
        return self.holder

    def held(self) -> bool:
        return self.holder

    def release(self) -> None:
        self.holder = False

    def drop(self) -> None:
        self.holder, self.dropped = False, True


def test_a_leader_that_loses_its_lease_stops_leading_and_tries_again():
    lease = Droppable()
    replica = Replica(lease)
    replica.leadership.start()
    assert replica.leadership.leader
    lease.drop()
    wait_until(lambda: replica.lost == 1)
    assert not replica.leadership.leader
    lease.dropped = False  # the server is back: it may lead again
    wait_until(lambda: replica.elected == 2)
    replica.leadership.stop()


def test_leader_gone_says_which_executors_cannot_be_running_a_build():
    host = socket.gethostname()
    assert not leader_gone(f"{host}:{os.getpid()}")
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert leader_gone(f"{host}:{ended.pid}")
    assert leader_gone("another-host:1")  # only the leader runs builds, and it is not there
