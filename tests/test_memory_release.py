"""The daemon gives a finished build's memory back: its allocator set-up stays out of its
jobs' environment, and the trim runs once no build runs any more."""

from __future__ import annotations

import gc
import threading
import weakref

from databuild.service.memory import DAEMON_ENV, MemoryReleaser, daemon_environment, release_freed_memory, \
    strip_daemon_env


def test_the_daemon_runs_on_malloc_and_its_jobs_get_the_users_environment_back():
    user = {"PATH": "/usr/bin", "HOME": "/home/u"}
    daemon = daemon_environment(user)
    assert daemon["PYTHONMALLOC"] == DAEMON_ENV["PYTHONMALLOC"] and "PYTHONMALLOC" not in user
    strip_daemon_env(daemon)
    assert daemon == user


def test_a_users_own_pythonmalloc_is_kept_for_the_daemon_and_its_jobs():
    user = {"PATH": "/usr/bin", "PYTHONMALLOC": "pymalloc_debug"}
    daemon = daemon_environment(user)
    assert daemon == user
    strip_daemon_env(daemon)
    assert daemon == user


def test_release_frees_what_cycles_hold():
    class Node:
        pass

    gc.disable()  # no automatic collection in between: the release must do it
    try:
        node = Node()
        node.self = node  # only the garbage collector frees it
        ref = weakref.ref(node)
        del node
        assert ref() is not None
        release_freed_memory()
        assert ref() is None
    finally:
        gc.enable()


def test_memory_is_released_only_once_the_last_running_build_has_ended():
    running = [2]
    released: list[int] = []
    done = threading.Event()

    def release() -> None:
        released.append(running[0])
        if running[0] == 0:
            done.set()

    releaser = MemoryReleaser(lambda: running[0], grace_s=0, release=release)
    releaser.start()
    running[0] = 1
    releaser.build_ended()  # another build still runs: nothing to release yet
    running[0] = 0
    releaser.build_ended()
    assert done.wait(10)
    assert released and all(still_running == 0 for still_running in released)
