"""Leadership among replicas: of the services sharing one event log, only the holder of
the log's ``leader`` lease runs the singletons (the want evaluator and the builds it
starts, the upstream syncs, the triggers); every replica serves reads and writes.

A follower tries the lease every ``POLL_S``. A leader that is SIGKILLed frees it at once
(``databuild.events.lease``), so another replica leads within about ``POLL_S``. On being
elected a replica first closes the builds left running by executors that are gone: on
this host those whose process died, on other hosts every one (only the leader runs
builds, and it was not this replica), as a crash: their wants retry without using up
an attempt. A leader that loses its lease while alive (a server's connection dropped)
stops leading through ``on_lost``: it must not decide anything more.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Callable

from databuild.events.lease import Lease
from databuild.procs import process_alive

log = logging.getLogger(__name__)

#: How often a follower tries the lease and a leader checks it still holds it (seconds).
POLL_S = 1.0
#: The lease's name in the log.
LEADER_LEASE = "leader"


def leader_gone(identity: str) -> bool:
    """Whether the executor ``identity`` (``host:pid``) cannot be running a build once this
    replica holds the lease: its process ended, or it ran on another host."""
    host, _, pid = identity.rpartition(":")
    if host != socket.gethostname():
        return True
    return not (pid.isdigit() and process_alive(int(pid)))


class Leadership:
    """Holds ``lease`` when it can: ``on_elected()`` once it is taken, ``on_lost()`` if it
    is lost while this process lives. ``leader`` says which it is now."""

    def __init__(self, lease: Lease, on_elected: Callable[[], None], on_lost: Callable[[], None],
                 poll_s: float = POLL_S) -> None:
        self.lease, self.on_elected, self.on_lost, self.poll_s = lease, on_elected, on_lost, poll_s
        self.leader = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadership", daemon=True)

    def start(self) -> None:
        """Try at once (a lone replica leads from its first moment), then in the background."""
        self._step()
        self._thread.start()

    def stop(self) -> None:
        """Stop trying; give the lease up (the next replica leads within ``poll_s``)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.lease.release()
        self.leader = False

    def _run(self) -> None:
        while not self._stopped.wait(self.poll_s):
            try:
                self._step()
            except Exception:  # a storage fault: tried again at the next poll; said each time
                log.exception("leadership: trying the %s lease failed", self.lease.name)

    def _step(self) -> None:
        if self.leader:
            if not self.lease.held():
                self.leader = False
                log.error("lost the %s lease: this replica stops leading", self.lease.name)
                self.on_lost()
            return
        if self.lease.try_acquire():
            log.info("holds the %s lease: this replica leads", self.lease.name)
            try:
                self.on_elected()
            except BaseException:  # e.g. the storage failed closing the old leader's builds: lead later
                self.lease.release()
                raise
            self.leader = True
