"""In-memory stand-ins for the planner's and executor's I/O."""

from __future__ import annotations

import contextlib
import itertools

from databuild.executor.launcher import RunExit
from databuild.proto import databuild_pb2 as pb


def cfg(outputs, inputs=(), query=()):
    return pb.JobConfig(
        outputs=list(outputs),
        inputs=[pb.DataDep(ref=r, dep_type=pb.materialize) for r in inputs]
        + [pb.DataDep(ref=r, dep_type=pb.query) for r in query],
    )


class FakeResolver:
    """Jobs as functions ref -> config; records every call to prove batching."""

    def __init__(self, jobs: dict, produces: dict):
        self.jobs, self.produces = jobs, produces  # label -> fn(ref) -> config; label -> predicate
        self.lookups, self.config_calls = [], []

    def lookup(self, refs):
        self.lookups.append(list(refs))
        return {r: next((label for label, p in self.produces.items() if p(r)), None) for r in refs}

    def session(self):
        return contextlib.nullcontext()

    def configs(self, label, refs):
        self.config_calls.append((label, list(refs)))
        out, seen = [], set()
        for ref in refs:
            c = self.jobs[label](ref)
            if c.outputs[0] not in seen:
                seen.update(c.outputs)
                out.append(c)
        return out


def ids():
    counter = itertools.count(1)
    return lambda: f"run{next(counter)}"




class FakeLauncher:
    """Runs nothing: each started run 'exits' on the next wait with a scripted code.

    ``exit_codes`` maps a job label to its exit code (default 0). ``on_wait`` is
    called before each wait, to let a test change the world (e.g. another build
    finishing) at a well-defined point.
    """

    def __init__(self, exit_codes=None, on_wait=None, hang=(), ignore_term=()):
        self.exit_codes = exit_codes or {}
        self.on_wait = on_wait or (lambda launcher: None)
        self.hang = set(hang)  # job labels whose runs only end when terminated
        self.ignore_term = set(ignore_term)  # job labels whose runs only end when killed (force)
        self.running: dict[str, str] = {}  # job_run_id -> label
        self.started: list[str] = []
        self.max_concurrent = 0
        self.terminated: list[tuple[str, bool]] = []
        self.log_paths = {}

    def start(self, run, log_path):
        self.running[run.job_run_id] = run.job_label
        self.started.append(run.job_label)
        self.log_paths[run.job_run_id] = log_path
        self.max_concurrent = max(self.max_concurrent, len(self.running))

    def wait(self, timeout):
        self.on_wait(self)
        for rid, label in list(self.running.items()):
            if label not in self.hang:
                del self.running[rid]
                return [RunExit(rid, self.exit_codes.get(label, 0))]
        return []

    def terminate(self, job_run_id, force=False):
        self.terminated.append((job_run_id, force))
        label = self.running.get(job_run_id)
        if label is not None and (force or label not in self.ignore_term):
            self.hang.discard(label)
            self.exit_codes[label] = -9 if force else -15

    def wake(self):
        pass
