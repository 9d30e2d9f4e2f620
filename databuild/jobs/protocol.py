"""The job and lookup protocols: invoking binaries and validating what they print.

Everything a job prints is checked; a violation raises a named error that names the
job, the refs it was asked for, and shows the job's stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Iterator, Sequence

from google.protobuf import json_format

from databuild.errors import DataBuildError, InvalidRefError
from databuild.graph import JobSpec, LookupSpec
from databuild.proto import databuild_pb2 as pb
from databuild.refs import validate_ref

#: Refs per `config`/lookup call, well under the kernel's argument-size limit.
MAX_ARG_BYTES = 512 * 1024
STDERR_TAIL = 2000


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


def _run(argv: list[str], refs: Sequence[str], who: str, error: type[JobProtocolError], timeout: float
         ) -> tuple[str, str]:
    """Run a protocol call; return (stdout, stderr) or raise ``error``."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise error(who, f"executable {argv[0]} does not exist") from None
    except PermissionError:
        raise error(who, f"executable {argv[0]} is not executable") from None
    except subprocess.TimeoutExpired as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise error(who, f"did not finish within {timeout:.0f}s", stderr) from None
    if done.returncode != 0:
        raise error(who, f"exited with code {done.returncode} for {_show(refs)}",
                    done.stderr)
    return done.stdout, done.stderr


def _show(refs: Sequence[str]) -> str:
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
        raise JobOutputError(who, f"was asked for {_show(missing)} but no config produces it", stderr)
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
        raise JobOutputError(who, f"lookup output has no entry for {_show(missing)}", stderr)
    bad = {r: doc[r] for r in requested if doc[r] is not None and not isinstance(doc[r], str)}
    if bad:
        raise JobOutputError(who, f"lookup must map refs to a job label or null, got {bad}", stderr)
    return {r: doc[r] for r in requested}


def call_config(job: JobSpec, refs: Sequence[str], timeout: float = 300.0) -> list[pb.JobConfig]:
    """Run ``JOB config REF...`` (in as few calls as the command line allows)."""
    configs: list[pb.JobConfig] = []
    for chunk in chunk_refs(refs):
        stdout, stderr = _run([job.executable, "config", *chunk], chunk, job.label, JobConfigError, timeout)
        configs += parse_configs(job.label, chunk, stdout, stderr)
    return configs


def call_lookup(lookup: LookupSpec, refs: Sequence[str], timeout: float = 60.0) -> dict[str, str | None]:
    """Run ``LOOKUP REF...``."""
    found: dict[str, str | None] = {}
    for chunk in chunk_refs(refs):
        stdout, stderr = _run([lookup.executable, *chunk], chunk, lookup.label, JobConfigError, timeout)
        found.update(parse_lookup(lookup.label, chunk, stdout, stderr))
    return found


def exec_invocation(job: JobSpec, job_run_id: str, config: pb.JobConfig, base_env: dict[str, str] | None = None
                    ) -> tuple[list[str], dict[str, str], bytes]:
    """argv, environment and stdin of ``JOB exec ARGS...`` for one job run."""
    env = dict(os.environ if base_env is None else base_env)
    env.update(config.env)
    env["DATABUILD_JOB_RUN_ID"] = job_run_id
    env["DATABUILD_OUTPUTS"] = json.dumps(list(config.outputs))
    stdin = json_format.MessageToJson(config, preserving_proto_field_name=True, indent=None).encode()
    return [job.executable, "exec", *config.args], env, stdin
