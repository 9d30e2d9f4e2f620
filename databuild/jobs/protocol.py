"""The job and lookup protocols: invoking binaries and validating what they print.

``run_call`` is how every protocol call runs (the trigger protocol's too, ``databuild.triggers.protocol``).

Everything a job prints is checked; a violation raises a named error that names the
job, the refs it was asked for, and shows the job's stderr.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import time
from typing import Iterator, Mapping, Sequence

from google.protobuf import json_format

from databuild.errors import DataBuildError, InvalidRefError
from databuild.graph import JobSpec, LookupSpec
from databuild.procs import GroupChild, Sink, Stdin
from databuild.proto import databuild_pb2 as pb
from databuild.refs import validate_ref

#: Refs per `config`/lookup call, well under the kernel's argument-size limit.
MAX_ARG_BYTES = 512 * 1024
STDERR_TAIL = 2000
#: Most a `config` or lookup call may print on stdout; past it the call is killed.
MAX_OUTPUT_BYTES = 16 << 20
#: How much of a call's stderr is kept (its end) to show in errors.
STDERR_KEEP_BYTES = 64 << 10
_SECRET_ENV = re.compile(r"DATABUILD_TOKEN|DATABUILD_UPSTREAM_.+_TOKEN")


class JobProtocolError(DataBuildError):
    """A job or lookup binary failed or printed something the protocol forbids."""

    code = "job_protocol_error"
    http_status = 422

    def __init__(self, who: str, message: str, stderr: str = "") -> None:
        tail = stderr.strip()[-STDERR_TAIL:]
        super().__init__(f"{who}: {message}" + (f"\n--- stderr of {who} ---\n{tail}" if tail else ""))
        self.who, self.stderr = who, stderr


class JobConfigError(JobProtocolError):
    """`JOB config` exited non-zero."""

    code = "job_config_failed"


class JobOutputError(JobProtocolError):
    """A job or lookup printed malformed or inconsistent output."""

    code = "job_output_invalid"


def chunk_refs(refs: Sequence[str]) -> Iterator[list[str]]:
    """Split refs into argument lists that each fit in one command line."""
    chunk: list[str] = []
    size = 0
    for ref in refs:
        if chunk and size + len(ref) + 1 > MAX_ARG_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(ref)
        size += len(ref) + 1
    if chunk:
        yield chunk


class CallOutput:
    """A pipe's bytes in memory: all of them up to ``limit`` (then ``over`` is set), or
    only the last ``limit`` with ``keep_tail``."""

    def __init__(self, limit: int, keep_tail: bool = False) -> None:
        self.limit, self.keep_tail = limit, keep_tail
        self.data = bytearray()
        self.over = False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            if self.keep_tail:
                del self.data[:-self.limit]
            else:
                self.over = True

    def text(self) -> str:
        return self.data.decode(errors="replace")


def job_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without the service's credentials: jobs, ``config`` and lookups never
    see ``DATABUILD_TOKEN`` or an upstream's ``DATABUILD_UPSTREAM_<NAME>_TOKEN``."""
    return {k: v for k, v in base.items() if not _SECRET_ENV.fullmatch(k)}


def start_call(who: str, argv: list[str], selector: selectors.BaseSelector, stdout: Sink, stderr: Sink,
               error: type[JobProtocolError], stdin: Stdin = subprocess.DEVNULL) -> GroupChild:
    """``argv`` started as a protocol call's process (its own process group, without the
    service's tokens) with its pipes in ``selector``; a missing or non-executable binary is ``error``."""
    try:
        return GroupChild(who, argv, job_environment(os.environ), selector, stdout, stderr, stdin=stdin)
    except FileNotFoundError:
        raise error(who, f"executable {argv[0]} does not exist") from None
    except PermissionError:
        raise error(who, f"executable {argv[0]} is not executable") from None


def run_call(argv: list[str], refs: Sequence[str], who: str, error: type[JobProtocolError], timeout: float
             ) -> tuple[str, str]:
    """Run a protocol call (of a job, lookup or trigger binary, about ``refs``) in its own
    process group, without the service's tokens; return (stdout, stderr) or raise ``error``.

    Past ``timeout``, or once stdout passes MAX_OUTPUT_BYTES, the whole group is killed;
    a child left holding the pipes after the call exited is killed after a short drain.
    """
    stdout, stderr = CallOutput(MAX_OUTPUT_BYTES), CallOutput(STDERR_KEEP_BYTES, keep_tail=True)
    with selectors.DefaultSelector() as selector:
        child = start_call(who, argv, selector, stdout.add, stderr.add, error)
        deadline = time.monotonic() + timeout
        try:
            while not child.ended:
                now = time.monotonic()
                if now >= deadline:
                    raise error(who, f"did not finish within {timeout:g}s", stderr.text())
                drain = child.drain_deadline
                if drain is not None and now >= drain:
                    child.cut()
                    break
                for key, _ in selector.select(min(deadline, drain or deadline) - now):
                    child.ready(key.fd)
                if stdout.over:
                    raise JobOutputError(who, f"printed more than {MAX_OUTPUT_BYTES >> 20} MiB on stdout",
                                         stderr.text())
        finally:  # on a deadline, a limit or an interrupt: kill what still runs
            if child.ended:
                child.reap()
            else:
                child.kill()
    if child.code != 0:
        raise error(who, f"exited with code {child.code} for {show_refs(refs)}", stderr.text())
    return stdout.text(), stderr.text()


def show_refs(refs: Sequence[str]) -> str:
    shown = ", ".join(refs[:5])
    return shown + (f" and {len(refs) - 5} more" if len(refs) > 5 else "")


def parse_configs(who: str, requested: Sequence[str], stdout: str, stderr: str = "") -> list[pb.JobConfig]:
    """Validate `JOB config` output: JSON per protocol, valid refs, every requested ref produced."""
    try:
        doc = json.loads(stdout)
    except ValueError as e:
        raise JobOutputError(who, f"config printed invalid JSON ({e}): {stdout[:200]!r}", stderr) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("configs"), list):
        raise JobOutputError(who, f'config must print {{"configs": [...]}}, got {stdout[:200]!r}', stderr)
    try:
        response = json_format.ParseDict(doc, pb.JobConfigResponse())
    except json_format.ParseError as e:
        raise JobOutputError(who, f"config output does not follow the job protocol: {e}", stderr) from None
    produced: set[str] = set()
    for n, config in enumerate(response.configs):
        if not config.outputs:
            raise JobOutputError(who, f"config #{n} lists no outputs", stderr)
        try:
            for ref in config.outputs:
                validate_ref(ref, "output ref")
            for dep in config.inputs:
                validate_ref(dep.ref, "input ref")
                if dep.dep_type == pb.DEP_TYPE_UNSPECIFIED:
                    raise JobOutputError(who, f"input {dep.ref!r} of config #{n} has no dep_type", stderr)
        except InvalidRefError as e:
            raise JobOutputError(who, f"config #{n}: {e}", stderr) from None
        produced.update(config.outputs)
    missing = [r for r in requested if r not in produced]
    if missing:
        raise JobOutputError(who, f"was asked for {show_refs(missing)} but no config produces it", stderr)
    return list(response.configs)


def parse_lookup(who: str, requested: Sequence[str], stdout: str, stderr: str = "") -> dict[str, str | None]:
    """Validate lookup output: a JSON object mapping every requested ref to a job label or null."""
    try:
        doc = json.loads(stdout)
    except ValueError as e:
        raise JobOutputError(who, f"lookup printed invalid JSON ({e}): {stdout[:200]!r}", stderr) from None
    if not isinstance(doc, dict):
        raise JobOutputError(who, f"lookup must print a JSON object, got {stdout[:200]!r}", stderr)
    missing = [r for r in requested if r not in doc]
    if missing:
        raise JobOutputError(who, f"lookup output has no entry for {show_refs(missing)}", stderr)
    bad = {r: doc[r] for r in requested if doc[r] is not None and not isinstance(doc[r], str)}
    if bad:
        raise JobOutputError(who, f"lookup must map refs to a job label or null, got {bad}", stderr)
    return {r: doc[r] for r in requested}


def call_config(job: JobSpec, refs: Sequence[str]) -> list[pb.JobConfig]:
    """Run ``JOB config REF...`` (in as few calls as the command line allows), each call
    within the job's ``config_timeout_seconds``."""
    configs: list[pb.JobConfig] = []
    for chunk in chunk_refs(refs):
        stdout, stderr = run_call([job.executable, "config", *chunk], chunk, job.label, JobConfigError,
                              job.config_timeout_seconds)
        configs += parse_configs(job.label, chunk, stdout, stderr)
    return configs


def call_lookup(lookup: LookupSpec, refs: Sequence[str]) -> dict[str, str | None]:
    """Run ``LOOKUP REF...``, each call within the lookup's ``timeout_seconds``."""
    found: dict[str, str | None] = {}
    for chunk in chunk_refs(refs):
        stdout, stderr = run_call([lookup.executable, *chunk], chunk, lookup.label, JobConfigError,
                              lookup.timeout_seconds)
        found.update(parse_lookup(lookup.label, chunk, stdout, stderr))
    return found


def exec_invocation(job: JobSpec, job_run_id: str, config: pb.JobConfig, base_env: dict[str, str] | None = None
                    ) -> tuple[list[str], dict[str, str], bytes]:
    """argv, environment and stdin of ``JOB exec ARGS...`` for one job run."""
    env = job_environment(os.environ if base_env is None else base_env)
    env.update(config.env)
    env["DATABUILD_JOB_RUN_ID"] = job_run_id
    env["DATABUILD_OUTPUTS"] = json.dumps(list(config.outputs))
    stdin = json_format.MessageToJson(config, preserving_proto_field_name=True, indent=None).encode()
    return [job.executable, "exec", *config.args], env, stdin
