"""End to end: `bazel build` a graph, build partitions with its .build binary, then move its
event log to another file with `bel export` / `bel import` and check both with `bel verify`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def binary() -> Path:
    subprocess.run(["bazel", "build", "--noshow_progress", "//tests/e2e:chaos_graph"], cwd=ROOT, check=True,
                   capture_output=True)
    found = ROOT / "bazel-bin" / "tests" / "e2e" / "chaos_graph.build"
    assert os.access(found, os.X_OK)
    return found


def test_a_built_log_moves_to_another_file_and_verifies(binary, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATABUILD_STATE_DIR": str(tmp_path / "state"),
           "DATABUILD_DATA_DIR": str(tmp_path / "data"), "DATABUILD_MAX_ATTEMPTS": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(binary), *args], env=env, cwd="/", capture_output=True, text=True, timeout=120)

    built = run("--local", "build", "ok/a", "ok/b")
    assert built.returncode == 0, built.stdout + built.stderr
    assert run("--local", "build", "fail/c").returncode == 1  # a failed build's events move too

    dump = tmp_path / "bel.ndjson"
    exported = run("bel", "export", "--output", str(dump))
    assert exported.returncode == 0, exported.stderr
    header = json.loads(dump.read_text().splitlines()[0])
    copy = f"sqlite://{tmp_path}/copy.sqlite3"
    imported = run("--bel", copy, "bel", "import", str(dump))
    assert imported.returncode == 0, imported.stderr
    assert f"imported {header['head']} events of log {header['log_id']}" in imported.stdout

    for args in (["partitions", "show", "ok/a"], ["partitions", "show", "fail/c"], ["want", "list"],
                 ["builds", "list"], ["events"]):
        mine, theirs = run("--local", "--json", *args), run("--local", "--json", "--bel", copy, *args)
        assert mine.returncode == 0 and mine.stdout == theirs.stdout, args
    assert json.loads(run("--local", "--json", "--bel", copy, "partitions", "show", "ok/a").stdout)[
        "partition"]["status"] == "available"
    for bel in ([], ["--bel", copy]):
        verified = run(*bel, "bel", "verify")
        assert verified.returncode == 0 and f"consistent: {header['head']} events" in verified.stdout, verified.stdout

    db = sqlite3.connect(f"{tmp_path}/copy.sqlite3")
    with db:
        db.execute("UPDATE read_model SET status = 1 WHERE kind = 'partition' AND key = 'ok/b'")
    db.close()
    tampered = run("--bel", copy, "bel", "verify")
    assert tampered.returncode == 1 and "partition ok/b: stored status 1, the events give" in tampered.stdout
    refused = run("--bel", copy, "bel", "import", str(dump))
    assert refused.returncode == 2 and "needs an empty event log" in refused.stderr
