"""A small SDK that makes a Python program a DataBuild job (docs/job-protocol.md).

Example::

    from databuild.job import Job, JobRun, materialize

    job = Job(outputs="daily_votes/{date}/{color}")

    @job.config
    def plan(ref):                       # called once per requested ref
        f = job.fields(ref)              # {"date": "2025-01-01", "color": "red"}
        return JobRun(outputs=[ref], inputs=[materialize(f"raw/votes/{f['date']}")], args=[ref])

    @job.exec
    def run(ctx):                        # ctx.args, ctx.outputs, ctx.inputs, ctx.env, ctx.job_run_id
        ...write ctx.outputs...

    if __name__ == "__main__":
        job.main()

A config function may also take the whole list of refs (``@job.config_batch``) and
return several runs, e.g. one run producing many outputs. An output template is a
ref pattern whose ``{name}`` fields each match one or more characters within a
segment (``databuild.refs.RefTemplate``). This module imports only the standard
library and ``databuild.refs`` (itself standard-library only) so jobs start fast.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Callable, Sequence

from databuild.refs import RefTemplate


@dataclass(frozen=True)
class Input:
    """An input partition: ``materialize`` ones must exist before the run."""

    ref: str
    dep_type: str = "materialize"


def materialize(ref: str) -> Input:
    return Input(ref, "materialize")


def query(ref: str) -> Input:
    return Input(ref, "query")


@dataclass(frozen=True)
class JobRun:
    """One config: a job run that produces ``outputs``."""

    outputs: Sequence[str]
    inputs: Sequence[Input] = ()
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "outputs": list(self.outputs),
            "inputs": [{"ref": i.ref, "dep_type": i.dep_type} for i in self.inputs],
            "args": list(self.args),
            "env": dict(self.env),
        }


@dataclass(frozen=True)
class ExecContext:
    """What ``exec`` receives: the config (from stdin) and the run's identity."""

    job_run_id: str
    outputs: list[str]
    inputs: list[Input]
    args: list[str]
    env: dict[str, str]


class JobUsageError(Exception):
    """The job was invoked in a way the protocol does not allow."""


class Job:
    """A job binary's two entry points, ``config`` and ``exec``."""

    def __init__(self, outputs: str | Sequence[str] = ()) -> None:
        self.templates = [outputs] if isinstance(outputs, str) else list(outputs)
        self._templates = [RefTemplate(t) for t in self.templates]
        self._config_batch: Callable[[list[str]], Sequence[JobRun]] | None = None
        self._exec: Callable[[ExecContext], None] | None = None

    def fields(self, ref: str) -> dict[str, str]:
        """Named fields of ``ref`` by the first matching output template."""
        for template in self._templates:
            found = template.fields(ref)
            if found is not None:
                return found
        raise JobUsageError(f"ref {ref!r} matches none of this job's outputs {self.templates}")

    def config(self, fn: Callable[[str], JobRun | Sequence[JobRun]]) -> Callable:
        """Register a per-ref config function (returns one JobRun or a list)."""

        def batch(refs: list[str]) -> list[JobRun]:
            runs: list[JobRun] = []
            for ref in refs:
                result = fn(ref)
                runs += [result] if isinstance(result, JobRun) else list(result)
            return runs

        self._config_batch = batch
        return fn

    def config_batch(self, fn: Callable[[list[str]], Sequence[JobRun]]) -> Callable:
        """Register a config function that sees all requested refs at once."""
        self._config_batch = fn
        return fn

    def exec(self, fn: Callable[[ExecContext], None]) -> Callable:
        """Register the function that produces a run's outputs."""
        self._exec = fn
        return fn

    def main(self, argv: Sequence[str] | None = None) -> None:
        """Dispatch ``config REF...`` / ``exec ARGS...``; exit non-zero on failure."""
        argv = list(sys.argv[1:] if argv is None else argv)
        try:
            if not argv or argv[0] not in ("config", "exec"):
                raise JobUsageError(f"usage: {sys.argv[0]} config REF... | exec ARGS... (got {argv[:1]})")
            if argv[:2] == ["config", "--persistent"]:
                self._serve_config()
            elif argv[0] == "config":
                self._run_config(argv[1:])
            else:
                self._run_exec(argv[1:])
        except JobUsageError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except Exception:  # a job's own failure: show it and exit non-zero, as the protocol says
            traceback.print_exc()
            sys.exit(1)

    def _serve_config(self) -> None:
        """``config --persistent``: one request per stdin line (refs separated by spaces), one
        answer line each, until stdin ends (declare the job with ``persistent_config = True``)."""
        for line in sys.stdin:
            self._run_config(line.split())
            sys.stdout.flush()

    def _run_config(self, refs: list[str]) -> None:
        if self._config_batch is None:
            raise JobUsageError("this job registered no @job.config function")
        unknown = [r for r in refs if self.templates and not any(t.matches(r) for t in self._templates)]
        if unknown:
            raise JobUsageError(f"refs {unknown} match none of this job's outputs {self.templates}")
        runs = self._config_batch(refs)
        json.dump({"configs": [r.to_json() for r in runs]}, sys.stdout)
        sys.stdout.write("\n")

    def _run_exec(self, args: list[str]) -> None:
        if self._exec is None:
            raise JobUsageError("this job registered no @job.exec function")
        config = json.load(sys.stdin) if not sys.stdin.isatty() else {}
        outputs = json.loads(os.environ.get("DATABUILD_OUTPUTS", "null")) or config.get("outputs", [])
        ctx = ExecContext(
            job_run_id=os.environ.get("DATABUILD_JOB_RUN_ID", ""),
            outputs=list(outputs),
            inputs=[Input(i["ref"], i.get("dep_type", "materialize")) for i in config.get("inputs", [])],
            args=args,
            env=dict(config.get("env", {})),
        )
        self._exec(ctx)
