"""`bel export|import|verify` as users run them (``python -m databuild.cli``), on SQLite logs
(and one move to PostgreSQL and back)."""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from cli_harness import echo_job, graph_cli
from databuild.events import RowQuery
from databuild.state import PARTITION, WANT, open_state_store
from eventgen import random_events

pytestmark = pytest.mark.slow

JOB = echo_job()


@pytest.fixture
def cli(tmp_path):
    job = tmp_path / "job.sh"
    job.write_text(JOB)
    job.chmod(0o755)
    with graph_cli(tmp_path, {"version": 1, "label": "//t:bel", "lookup": None, "upstreams": [],
                              "jobs": [{"label": "//t:job", "executable": str(job), "outputs": ["talk/*"]}]}) as run:
        yield run


@pytest.fixture
def source(cli, tmp_path) -> str:
    """A state directory's log with a real build (wants, builds, job runs, partitions) and
    random valid events of every type after it."""
    built = cli("--local", "build", "talk/1", "talk/2")
    assert built.returncode == 0, built.stderr
    assert cli("--local", "want", "create", "talk/3", "--ttl", "1h", "--comment", "later").returncode == 0
    path = tmp_path / "state" / "bel.sqlite3"
    store = open_state_store(f"sqlite://{path}")
    try:
        rng = random.Random(3)
        for _ in range(3):
            store.log.append(random_events(rng, 100))
    finally:
        store.close()
    return str(path)


def _events(path: str) -> list[tuple]:
    store = open_state_store(f"sqlite://{path}")
    try:
        return [(e.index, e.event_id, e.timestamp.ToMicroseconds(), e.schema_version, e.SerializeToString())
                for e in store.log.list_events(0, limit=10_000).events]
    finally:
        store.close()


def _log_id(path: str) -> str:
    store = open_state_store(f"sqlite://{path}")
    try:
        return store.log.log_id
    finally:
        store.close()


def test_export_import_round_trip_keeps_events_log_id_and_read_models(cli, source, tmp_path):
    dump = tmp_path / "dump.ndjson"
    exported = cli("bel", "export", "--output", str(dump))
    assert exported.returncode == 0, exported.stderr
    assert dump.stat().st_mode & 0o777 == 0o600  # the log's events, private as the log is
    lines = dump.read_text().splitlines()
    header = json.loads(lines[0])
    head = len(_events(source))
    assert header["databuild_bel"] == 1 and header["log_id"] == _log_id(source) and header["head"] == head
    assert header["exported_at"].endswith("Z") and len(lines) == head + 1
    first = json.loads(lines[1])
    assert first["index"] == 1 and first["event_id"] and first["schema_version"] == 1 and "want_created" in first
    assert f"exported {head} events" in exported.stderr

    target = tmp_path / "copy.sqlite3"
    imported = cli("--bel", f"sqlite://{target}", "bel", "import", str(dump))
    assert imported.returncode == 0, imported.stderr
    assert f"imported {head} events of log {header['log_id']}" in imported.stdout
    assert _events(str(target)) == _events(source)
    assert _log_id(str(target)) == _log_id(source)
    # the read models the CLI shows are the same
    for args in (["want", "list", "--limit", "1000"], ["partitions", "list", "--limit", "1000"],
                 ["builds", "list"], ["partitions", "show", "talk/1"]):
        mine = cli("--local", "--json", *args)
        theirs = cli("--local", "--json", "--bel", f"sqlite://{target}", *args)
        assert mine.returncode == 0 and json.loads(mine.stdout) == json.loads(theirs.stdout), args
    assert json.loads(cli("--local", "--json", "partitions", "show", "talk/1").stdout)["partition"]["status"] \
        == "available"
    # exporting the copy gives the same file, header's export time aside
    again = cli("--bel", f"sqlite://{target}", "bel", "export")
    assert again.returncode == 0 and again.stdout.splitlines()[1:] == lines[1:]
    assert json.loads(again.stdout.splitlines()[0])["log_id"] == header["log_id"]
    # and verify finds both consistent
    for bel in (f"sqlite://{source}", f"sqlite://{target}"):
        verified = cli("--bel", bel, "bel", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"consistent: {head} events" in verified.stdout


def test_import_from_stdin_and_into_memory(cli, source, tmp_path):
    dump = cli("bel", "export").stdout
    piped = subprocess.run([sys.executable, "-m", "databuild.cli", "--json", "--bel", f"sqlite://{tmp_path}/p.sqlite3",
                            "bel", "import", "-"], input=dump, env=cli.env, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["imported"] == len(dump.splitlines()) - 1
    assert _events(f"{tmp_path}/p.sqlite3") == _events(source)
    memory = subprocess.run([sys.executable, "-m", "databuild.cli", "--bel", "memory://", "bel", "import", "-"],
                            input=dump, env=cli.env, capture_output=True, text=True, timeout=60)
    assert memory.returncode == 0 and "imported" in memory.stdout, memory.stderr


def test_verify_names_a_tampered_row_a_tampered_term_and_an_index_gap(cli, source):
    store = open_state_store(f"sqlite://{source}")
    try:
        want_id = store.log.query_rows(RowQuery(WANT, limit=1)).pop().key
    finally:
        store.close()
    db = sqlite3.connect(source)
    with db:
        db.execute("UPDATE read_model SET status = 99 WHERE kind = ? AND key = ?", (WANT, want_id))
        db.execute("UPDATE read_model SET body = X'' WHERE kind = ? AND key = 'talk/2'", (PARTITION,))
        db.execute("DELETE FROM read_model_terms WHERE kind = ? AND key = ? AND name = 'partition'", (WANT, want_id))
    db.close()
    found = cli("--bel", f"sqlite://{source}", "bel", "verify")
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"want {want_id}: stored status 99, the events give" in found.stdout
    assert "partition talk/2: stored body differs from the one the events give in" in found.stdout
    assert f"want {want_id}: index terms differ: missing partition=" in found.stdout
    assert "NOT consistent" in found.stdout
    as_json = json.loads(cli("--json", "--bel", f"sqlite://{source}", "bel", "verify").stdout)
    assert as_json["consistent"] is False and len(as_json["differences"]) == 3
    assert as_json["appended_meanwhile"] is False
    # output is bounded
    capped = cli("--bel", f"sqlite://{source}", "bel", "verify", "--max-differences", "1")
    assert capped.returncode == 1 and "... and 2 more difference(s)" in capped.stdout

    db = sqlite3.connect(source)
    with db:
        db.execute("DELETE FROM events WHERE idx IN (5, 6)")
    db.close()
    gap = cli("--bel", f"sqlite://{source}", "bel", "verify", "--max-differences", "100")
    assert gap.returncode == 1
    assert "index gap: event 7 follows event 4 (indices 5..6 are missing)" in gap.stdout


def test_verify_names_a_repeated_event_id(cli, source):
    db = sqlite3.connect(source)
    with db:
        (first,) = db.execute("SELECT event_id FROM events WHERE idx = 2").fetchone()
        db.execute("UPDATE events SET event_id = ? WHERE idx = 9", (first,))
    db.close()
    found = cli("--bel", f"sqlite://{source}", "bel", "verify")
    assert found.returncode == 1
    assert f"event id {first} is at index 2 and again at index 9" in found.stdout


def _import(cli, target, text: str | bytes):
    path = target.parent / "bad.ndjson"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return cli("--bel", f"sqlite://{target}", "bel", "import", str(path))


def test_import_refuses_bad_files_naming_the_line_and_keeps_nothing(cli, source, tmp_path):
    lines = cli("bel", "export").stdout.splitlines(keepends=True)
    head = len(lines) - 1
    gap = lines[:10] + lines[11:]
    cases = [
        ("", "line 1: the file is empty"),
        ('{"databuild": 1}\n', 'line 1: not a DataBuild event log export'),
        ("not json\n", "line 1: not JSON"),
        ("".join(lines[:5]) + "{oops\n" + "".join(lines[6:]), "line 6: not JSON"),
        ("".join(gap), "line 11: .*has index 11, expected 10"),
        ("".join(lines[:4] + [lines[4].replace('"index":4', '"index":4,"bogus":1')] + lines[5:]),
         "line 5: .*bogus"),
        ("".join(lines[:3] + ['{"index":3,"event_id":"x","timestamp":"2025-01-01T00:00:00Z",'
                              '"schema_version":1,"not_an_event":{}}\n'] + lines[4:]), "line 4: .*not_an_event"),
        ("".join(lines[:3] + ["[1, 2]\n"] + lines[4:]), "line 4: an event must be a JSON object, got an array"),
        ("".join(lines[:-1]), f"the file ends at event index {head - 1}, but its header says the log had {head}"),
        ("".join(lines[:2]) + "\n" + "".join(lines[2:]), "line 3: empty line"),
        ("".join(lines[:6]).encode() + b'{"index": 6, "\xff"}\n' + "".join(lines[7:]).encode(), "line 7: not JSON"),
        ("".join(lines[:8] + [lines[8].replace(json.loads(lines[8])["event_id"], json.loads(lines[2])["event_id"])]
                 + lines[9:]), "line 9: event #8 of the import has event_id .* which an earlier event has"),
    ]
    for n, (text, message) in enumerate(cases):
        target = tmp_path / f"t{n}.sqlite3"
        done = _import(cli, target, text)
        assert done.returncode == 2, (message, done.stdout, done.stderr)
        assert re.search(message, done.stderr), (message, done.stderr)
        assert _events(str(target)) == []  # nothing half-imported
    # a file that does not exist
    missing = cli("--bel", f"sqlite://{tmp_path}/m.sqlite3", "bel", "import", str(tmp_path / "nope.ndjson"))
    assert missing.returncode == 2 and "nope.ndjson" in missing.stderr


def test_import_refuses_a_log_that_is_not_empty(cli, source, tmp_path):
    dump = tmp_path / "dump.ndjson"
    assert cli("bel", "export", "-o", str(dump)).returncode == 0
    before = _events(source)
    refused = cli("bel", "import", str(dump))  # into the source itself
    assert refused.returncode == 2
    assert f"needs an empty event log, but this one holds events up to index {len(before)}" in refused.stderr
    assert _events(source) == before
    as_json = json.loads(cli("--json", "bel", "import", str(dump)).stdout)
    assert as_json["error"]["code"] == "conflict"


def test_import_refuses_while_the_state_directorys_service_runs(cli, tmp_path):
    assert cli("daemon", "start").returncode == 0
    dump = tmp_path / "dump.ndjson"
    assert cli("bel", "export", "-o", str(dump)).returncode == 0  # exporting a served log is fine
    refused = cli("bel", "import", str(dump))
    assert refused.returncode == 2 and "stop it first" in refused.stderr and "pid" in refused.stderr
    assert cli("daemon", "stop").returncode == 0


def _leads(state_dir, pid: int) -> bool:
    """Whether the service recorded in ``state_dir`` (process ``pid``) serves and leads."""
    record = state_dir / "daemon.json"
    if not record.exists() or json.loads(record.read_text())["pid"] != pid:
        return False
    metrics = requests.get(json.loads(record.read_text())["url"] + "/metrics", timeout=30).text
    return "\ndatabuild_leader 1.0" in metrics


def test_import_refuses_while_any_service_of_the_target_log_runs(cli, tmp_path):
    target = f"sqlite://{tmp_path}/served.sqlite3"
    dump = tmp_path / "dump.ndjson"
    assert cli("bel", "export", "-o", str(dump)).returncode == 0
    other = tmp_path / "replica"
    server = subprocess.Popen([sys.executable, "-m", "databuild.cli", "--state-dir", str(other), "--bel", target,
                               "serve", "--port", "0"], env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not _leads(other, server.pid):
            assert server.poll() is None and time.monotonic() < deadline, server.communicate()
            time.sleep(0.1)
        refused = cli("--bel", target, "bel", "import", str(dump))
        assert refused.returncode == 2 and "holds the log's leader lease" in refused.stderr
        assert "stop every service of this log" in refused.stderr
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert cli("--bel", target, "bel", "import", str(dump)).returncode == 0


def test_export_to_a_missing_directory_names_it_and_leaves_nothing(cli, source, tmp_path):
    done = cli("bel", "export", "--output", str(tmp_path / "no" / "dump.ndjson"))
    assert done.returncode == 2 and str(tmp_path / "no") in done.stderr
    assert not (tmp_path / "no").exists()


def _peak_rss_kib(args: list[str], env: dict) -> int:
    """The peak resident memory (KiB) of one run of the CLI, from its own rusage."""
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "databuild.cli", *args], env=env, stdout=sink,
                                stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read()
    proc.stderr.close()
    return usage.ru_maxrss


def test_export_of_100k_events_runs_in_bounded_memory(cli, tmp_path):
    small, large = tmp_path / "small.sqlite3", tmp_path / "large.sqlite3"
    rng = random.Random(9)
    for path, n in ((small, 1000), (large, 100_000)):
        store = open_state_store(f"sqlite://{path}")
        try:
            for _ in range(n // 1000):
                store.log.append(random_events(rng, 1000))
        finally:
            store.close()
    out = tmp_path / "large.ndjson"
    rss_small = _peak_rss_kib(["--bel", f"sqlite://{small}", "bel", "export"], cli.env)
    rss_large = _peak_rss_kib(["--bel", f"sqlite://{large}", "bel", "export", "-o", str(out)], cli.env)
    size_kib = out.stat().st_size // 1024
    assert sum(1 for _ in out.open()) == 100_001
    # A page at a time: 100 times the events cost far less than the file (tens of MB) they make.
    assert size_kib > 20_000 and rss_large - rss_small < 20_000, (rss_small, rss_large, size_kib)


def test_a_log_moves_to_postgresql_and_back_and_verifies(cli, source, tmp_path, pg_database):
    """`bel export` of a SQLite log, `bel import` into an empty PostgreSQL database (of the
    session's throwaway cluster): the same events, log id and read models; verify agrees."""
    dump = tmp_path / "dump.ndjson"
    assert cli("bel", "export", "--output", str(dump)).returncode == 0
    uri = pg_database()
    imported = cli("--bel", uri, "bel", "import", str(dump))
    assert imported.returncode == 0, imported.stderr
    head = len(_events(source))
    verified = cli("--bel", uri, "bel", "verify")
    assert verified.returncode == 0 and f"consistent: {head} events" in verified.stdout, verified.stdout
    for args in (["want", "list", "--limit", "1000"], ["partitions", "list", "--limit", "1000"],
                 ["builds", "list"], ["partitions", "show", "talk/1"]):
        mine = cli("--local", "--json", *args)
        theirs = cli("--local", "--json", "--bel", uri, *args)
        assert mine.returncode == 0 and json.loads(mine.stdout) == json.loads(theirs.stdout), args
    again = cli("--bel", uri, "bel", "export")
    assert again.returncode == 0 and again.stdout.splitlines()[1:] == dump.read_text().splitlines()[1:]
    back = tmp_path / "back.sqlite3"  # and back to a file
    assert cli("--bel", f"sqlite://{back}", "bel", "import", str(dump)).returncode == 0
    assert _events(str(back)) == _events(source) and _log_id(str(back)) == _log_id(source)
