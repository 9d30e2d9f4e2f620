"""The service gives a finished build's memory back: cycles are collected and the trim runs
once no build runs any more."""

from __future__ import annotations

import gc
import threading
import weakref

from databuild.service.memory import MemoryReleaser, release_freed_memory


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
