"""The job and lookup protocols: validation of what binaries print, and the Python SDK."""

from __future__ import annotations

import io
import json
import stat
import sys
import time
from pathlib import Path

import pytest

from databuild.graph import GraphSpec, JobSpec, LookupSpec
from databuild.job import Job, JobRun, materialize, query
from databuild.jobs.protocol import (
    MAX_OUTPUT_BYTES, JobConfigError, JobOutputError, JobProtocolError, call_config, call_lookup, chunk_refs,
    exec_invocation, parse_configs, parse_lookup,
)
from databuild.planner import GraphResolver, PlanningError, plan
from databuild.procs import process_alive
from databuild.proto import databuild_pb2 as pb


@pytest.mark.parametrize(
    "stdout, fragment",
    [
        ("not json", "invalid JSON"),
        ('{"nope": []}', '{"configs": [...]}'),
        ('{"configs": [{"outputs": []}]}', "config #0 lists no outputs"),
        ('{"configs": [{"outputs": ["a b"]}]}', "'a b'"),
        ('{"configs": [{"outputs": ["x/1"], "inputs": [{"ref": "y"}]}]}', "no dep_type"),
        ('{"configs": [{"outputs": ["x/1"], "inputs": [{"ref": "y", "dep_type": "eager"}]}]}', "job protocol"),
        ('{"configs": [{"outputs": ["x/2"]}]}', "asked for x/1 but no config produces it"),
    ],
)
def test_bad_config_output_names_the_job_and_shows_stderr(stdout, fragment):
    with pytest.raises(JobOutputError) as info:
        parse_configs("//pkg:job", ["x/1"], stdout, "Traceback: something broke")
    message = str(info.value)
    assert message.startswith("//pkg:job: ") and fragment in message
    assert "--- stderr of //pkg:job ---\nTraceback: something broke" in message


def test_config_output_parses_the_protocol():
    doc = {"configs": [{"outputs": ["x/1", "x/2"], "inputs": [{"ref": "r/1", "dep_type": "query"}],
                        "args": ["--a"], "env": {"K": "V"}}]}
    (config,) = parse_configs("//pkg:job", ["x/2"], json.dumps(doc))
    assert list(config.outputs) == ["x/1", "x/2"] and config.inputs[0].dep_type == pb.query
    assert dict(config.env) == {"K": "V"}


@pytest.mark.parametrize(
    "stdout, fragment",
    [("[]", "JSON object"), ('{"a/1": "//j"}', "no entry for a/2"), ('{"a/1": 3, "a/2": null}', "job label or null")],
)
def test_bad_lookup_output(stdout, fragment):
    with pytest.raises(JobOutputError, match=fragment):
        parse_lookup("//pkg:lookup", ["a/1", "a/2"], stdout)


def script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\nimport json, sys\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_config_failure_exit_code_and_stderr(tmp_path):
    job = JobSpec("//pkg:job", script(tmp_path / "job", "print('bad input', file=sys.stderr); sys.exit(4)"))
    with pytest.raises(JobConfigError, match=r"exited with code 4 for x/1(.|\n)*bad input"):
        call_config(job, ["x/1"])
    with pytest.raises(JobConfigError, match="does not exist"):
        call_config(JobSpec("//pkg:gone", str(tmp_path / "missing")), ["x/1"])


def gone(pid: int) -> bool:
    """True once ``pid`` is dead (a SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not process_alive(pid)


HOLD_STDOUT = """
import subprocess, time
child = subprocess.Popen(["sleep", "300"])  # inherits stdout: the pipe stays open while it lives
open(sys.argv[0] + ".child", "w").write(str(child.pid))
"""


def test_a_hung_config_whose_child_holds_stdout_is_killed_at_its_timeout(tmp_path):
    path = tmp_path / "job"
    job = JobSpec("//pkg:hangs", script(path, HOLD_STDOUT + "print('thinking', file=sys.stderr, flush=True)\n"
                                        "time.sleep(300)"), config_timeout_seconds=1)
    with pytest.raises(JobConfigError) as info:
        call_config(job, ["x/1"])
    assert isinstance(info.value, JobProtocolError) and info.value.http_status == 422
    assert str(info.value).startswith("//pkg:hangs: did not finish within 1s") and "thinking" in str(info.value)
    assert gone(int(Path(f"{path}.child").read_text()))  # its whole process group was killed


def test_a_config_that_exits_leaving_a_child_on_stdout_is_answered(tmp_path):
    path = tmp_path / "job"
    job = JobSpec("//pkg:leaves", script(path, HOLD_STDOUT + "print(json.dumps({'configs': [{'outputs': ['x/1']}]}))"))
    (config,) = call_config(job, ["x/1"])
    assert list(config.outputs) == ["x/1"]
    assert gone(int(Path(f"{path}.child").read_text()))


def test_a_config_printing_without_end_is_stopped_at_the_output_cap(tmp_path):
    job = JobSpec("//pkg:chatty", script(tmp_path / "job", "while True: sys.stdout.write('x' * 65536)"))
    with pytest.raises(JobOutputError, match=f"//pkg:chatty: printed more than {MAX_OUTPUT_BYTES >> 20} MiB"):
        call_config(job, ["x/1"])


def test_a_hung_lookup_fails_at_the_lookup_timeout(tmp_path):
    lookup = LookupSpec("//pkg:lookup", script(tmp_path / "lookup", "import time; time.sleep(300)"), 0.5)
    with pytest.raises(JobConfigError, match="//pkg:lookup: did not finish within 0.5s"):
        call_lookup(lookup, ["x/1"])


def test_config_and_lookup_calls_do_not_get_the_service_token(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABUILD_TOKEN", "s3cret")
    monkeypatch.setenv("DATABUILD_UPSTREAM_RAW_TOKEN", "up-s3cret")
    monkeypatch.setenv("DATABUILD_UPSTREAM_RAW_URL", "http://127.0.0.1:1")
    shows_env = "print(json.dumps({'configs': [{'outputs': [sys.argv[2]], 'env': dict(os.environ)}]}))"
    (config,) = call_config(JobSpec("//pkg:job", script(tmp_path / "job", "import os\n" + shows_env)), ["x/1"])
    assert config.env["DATABUILD_UPSTREAM_RAW_URL"] == "http://127.0.0.1:1"
    assert not {"DATABUILD_TOKEN", "DATABUILD_UPSTREAM_RAW_TOKEN"} & set(config.env)
    lookup = script(tmp_path / "lookup", "import os\nprint(json.dumps({sys.argv[1]: ' '.join(sorted(os.environ))}))")
    (seen,) = call_lookup(LookupSpec("//pkg:lookup", lookup), ["x/1"]).values()
    assert "DATABUILD_UPSTREAM_RAW_URL" in seen.split() and "DATABUILD_TOKEN" not in seen.split()


def test_lookup_binary_drives_planning(tmp_path):
    lookup = script(tmp_path / "lookup", "print(json.dumps({r: ('//g:a' if r.startswith('a/') else None)"
                                         " for r in sys.argv[1:]}))")
    job = script(tmp_path / "job", "print(json.dumps({'configs': [{'outputs': [r], 'inputs': "
                                   "[{'ref': 'raw/' + r, 'dep_type': 'materialize'}]} for r in sys.argv[2:]]}))")
    graph = GraphSpec("//g:g", (JobSpec("//g:a", job),), LookupSpec("//g:lookup", lookup))
    planned = plan(graph.label, ["a/1", "a/2"], GraphResolver(graph))
    assert [r.job_label for r in planned.runs] == ["//g:a", "//g:a"]
    assert sorted(planned.external) == ["raw/a/1", "raw/a/2"]
    rogue = GraphSpec("//g:g", (JobSpec("//g:b", job),), LookupSpec("//g:lookup", lookup))
    with pytest.raises(PlanningError, match="named job\\(s\\) //g:a that graph //g:g does not have"):
        plan(rogue.label, ["a/1"], GraphResolver(rogue))


def test_refs_are_chunked_to_fit_a_command_line():
    refs = [f"part/{n:06d}/" + "x" * 100 for n in range(20_000)]
    chunks = list(chunk_refs(refs))
    assert len(chunks) > 1 and [r for c in chunks for r in c] == refs
    assert all(sum(len(r) + 1 for r in c) <= 512 * 1024 for c in chunks)


def test_exec_invocation_passes_env_outputs_and_config():
    config = pb.JobConfig(outputs=["x/1"], args=["--day", "1"], env={"MODE": "fast"})
    argv, env, stdin = exec_invocation(JobSpec("//j", "/bin/job"), "run-1", config,
                                       {"PATH": "/bin", "DATABUILD_TOKEN": "t", "DATABUILD_UPSTREAM_A_TOKEN": "u"})
    assert argv == ["/bin/job", "exec", "--day", "1"]
    assert env == {"PATH": "/bin", "MODE": "fast", "DATABUILD_JOB_RUN_ID": "run-1", "DATABUILD_OUTPUTS": '["x/1"]'}
    assert json.loads(stdin)["outputs"] == ["x/1"]


def make_sdk_job(seen: list) -> Job:
    job = Job(outputs="daily/{date}/{color}")

    @job.config
    def _plan(ref):
        f = job.fields(ref)
        return JobRun(outputs=[ref], inputs=[materialize(f"raw/{f['date']}"), query("meta")], args=[f["color"]])

    @job.exec
    def _run(ctx):
        seen.append(ctx)

    return job


def test_sdk_config_prints_protocol_json(capsys):
    make_sdk_job([]).main(["config", "daily/2025-01-01/red"])
    (config,) = parse_configs("//sdk", ["daily/2025-01-01/red"], capsys.readouterr().out)
    assert [(i.ref, i.dep_type) for i in config.inputs] == [("raw/2025-01-01", pb.materialize), ("meta", pb.query)]
    assert list(config.args) == ["red"]


def test_sdk_exec_receives_config(monkeypatch):
    seen = []
    monkeypatch.setenv("DATABUILD_JOB_RUN_ID", "run-9")
    monkeypatch.setenv("DATABUILD_OUTPUTS", '["daily/2025-01-01/red"]')
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"inputs": [{"ref": "raw/2025-01-01", "dep_type": "materialize"}]}'))
    make_sdk_job(seen).main(["exec", "red"])
    (ctx,) = seen
    assert ctx.job_run_id == "run-9" and ctx.outputs == ["daily/2025-01-01/red"] and ctx.args == ["red"]
    assert ctx.inputs[0].ref == "raw/2025-01-01"


def test_sdk_rejects_foreign_refs_and_bad_usage(capsys):
    job = make_sdk_job([])
    for argv in (["config", "weekly/1"], ["explode"]):
        with pytest.raises(SystemExit) as info:
            job.main(argv)
        assert info.value.code == 2
    assert "weekly/1" in capsys.readouterr().err
