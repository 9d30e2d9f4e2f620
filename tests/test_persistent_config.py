"""``config --persistent``: one process per plan, asked line by line, checked like a call."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from databuild.graph import GraphSpec, JobSpec
from databuild.jobs.persistent import ConfigWorker
from databuild.jobs.protocol import JobConfigError, JobOutputError, parse_configs
from databuild.planner import GraphResolver, plan
from test_job_protocol import gone, make_sdk_job, script

#: A chain job: chain/<i> needs chain/<i-1>. Each process start and each request is logged.
CHAIN = """
import os
log = open(sys.argv[0] + ".log", "a")
log.write(f"start {os.getpid()} {' '.join(sys.argv[1:])}\\n"); log.flush()
def configs(refs):
    out = []
    for r in refs:
        i = int(r.split("/")[1])
        inputs = [{"ref": f"chain/{i - 1}", "dep_type": "materialize"}] if i else []
        out.append({"outputs": [r], "inputs": inputs, "args": [r]})
    return {"configs": out}
if sys.argv[1:] == ["config", "--persistent"]:
    for line in sys.stdin:
        log.write(f"ask {line}"); log.flush()
        print(json.dumps(configs(line.split())), flush=True)
    log.write("eof\\n")
else:
    print(json.dumps(configs(sys.argv[2:])))
"""


def chain_graph(tmp_path: Path, persistent: bool = True) -> tuple[GraphSpec, Path]:
    path = tmp_path / "chain"
    job = JobSpec("//pkg:chain", script(path, CHAIN), ("chain/*",), persistent_config=persistent)
    return GraphSpec("//pkg:graph", (job,)), Path(f"{path}.log")


def test_a_plan_starts_a_persistent_job_once_and_ends_it_with_the_plan(tmp_path):
    graph, log = chain_graph(tmp_path)
    resolver = GraphResolver(graph)
    planned = plan(graph.label, ["chain/9"], resolver)
    assert [list(r.config.outputs) for r in planned.runs] == [[f"chain/{i}"] for i in range(10)]
    lines = log.read_text().splitlines()
    assert lines[0].startswith("start ") and lines[0].endswith(" config --persistent")
    assert lines[1:] == [f"ask chain/{i}" for i in range(9, -1, -1)] + ["eof"]  # stdin closed with the plan
    assert gone(int(lines[0].split()[1]))
    plan(graph.label, ["chain/1"], resolver)  # the next plan starts its own
    assert sum(line.startswith("start ") for line in log.read_text().splitlines()) == 2


def test_without_persistent_config_each_level_is_a_call(tmp_path):
    graph, log = chain_graph(tmp_path, persistent=False)
    plan(graph.label, ["chain/2"], GraphResolver(graph))
    starts = [line for line in log.read_text().splitlines() if line.startswith("start ")]
    assert [s.split(" ", 2)[2] for s in starts] == ["config chain/2", "config chain/1", "config chain/0"]


def test_outside_a_plan_a_persistent_job_is_called_as_usual(tmp_path):
    graph, log = chain_graph(tmp_path)
    (config,) = GraphResolver(graph).configs("//pkg:chain", ["chain/0"])
    assert list(config.outputs) == ["chain/0"]
    assert log.read_text().splitlines()[0].endswith(" config chain/0")


@pytest.mark.parametrize("body, error, fragment", [
    ("print('not json', flush=True); sys.stdin.read()", JobOutputError, "invalid JSON"),
    ("print('dying', file=sys.stderr, flush=True); sys.exit(3)", JobConfigError,
     r"exited \(code 3\) before answering for x/1(.|\n)*dying"),
    ("import time; time.sleep(300)", JobConfigError, "did not answer for x/1 within 1s"),
    ("sys.stdout.write('x' * (17 << 20)); sys.stdout.flush(); sys.stdin.read()", JobOutputError,
     "more than 16 MiB on stdout"),
])
def test_a_misbehaving_persistent_job_fails_the_call_and_is_killed(tmp_path, body, error, fragment):
    path = tmp_path / "job"
    script(path, f"open(sys.argv[0] + '.pid', 'w').write(str(__import__('os').getpid()))\n{body}")
    worker = ConfigWorker(JobSpec("//pkg:bad", str(path), config_timeout_seconds=1))
    with pytest.raises(error, match=fragment) as info:
        worker.configs(["x/1"])
    assert str(info.value).startswith("//pkg:bad: ")
    assert gone(int(Path(f"{path}.pid").read_text()))
    worker.close()  # after a failure: nothing left to close


def test_a_missing_persistent_executable_is_named(tmp_path):
    with pytest.raises(JobConfigError, match="does not exist"):
        ConfigWorker(JobSpec("//pkg:gone", str(tmp_path / "missing"), persistent_config=True))


def test_a_persistent_job_that_ignores_eof_is_killed_at_close(tmp_path, monkeypatch):
    monkeypatch.setattr("databuild.jobs.persistent.EXIT_GRACE_SECONDS", 0.2)
    path = tmp_path / "job"
    script(path, "open(sys.argv[0] + '.pid', 'w').write(str(__import__('os').getpid()))\n"
                 "line = sys.stdin.readline()\n"
                 "print(json.dumps({'configs': [{'outputs': line.split()}]}), flush=True)\n"
                 "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)")
    worker = ConfigWorker(JobSpec("//pkg:stays", str(path)))
    assert [list(c.outputs) for c in worker.configs(["x/1"])] == [["x/1"]]
    worker.close()
    assert gone(int(Path(f"{path}.pid").read_text()))


def test_the_sdk_answers_config_persistent_line_by_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("daily/2025-01-01/red\ndaily/2025-01-02/blue daily/2025-01-02/red\n"))
    make_sdk_job([]).main(["config", "--persistent"])
    first, second = capsys.readouterr().out.splitlines()
    assert [list(c.outputs) for c in parse_configs("//sdk", ["daily/2025-01-01/red"], first)] == [
        ["daily/2025-01-01/red"]]
    assert len(parse_configs("//sdk", ["daily/2025-01-02/blue", "daily/2025-01-02/red"], second)) == 2


def test_the_service_environment_tokens_stay_out(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABUILD_TOKEN", "secret")
    path = tmp_path / "job"
    script(path, "import os\nfor line in sys.stdin:\n"
                 "    print(json.dumps({'configs': [{'outputs': line.split(), 'args': [os.environ.get("
                 "'DATABUILD_TOKEN', 'none')]}]}), flush=True)")
    worker = ConfigWorker(JobSpec("//pkg:env", str(path)))
    assert [list(c.args) for c in worker.configs(["x/1"])] == [["none"]]
    worker.close()
    assert os.environ["DATABUILD_TOKEN"] == "secret"
