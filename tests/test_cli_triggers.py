"""`triggers list|fire|pause|resume` and `want status` of a triggered want, as users run them:
real `python -m databuild.cli` processes on a graph written as a manifest, a real daemon
(over HTTP) firing the triggers, real job processes; and `build --local`, which fires none."""

from __future__ import annotations

import json
import re
import time

import pytest

from cli_harness import echo_job, graph_cli

pytestmark = pytest.mark.slow

# A job that builds any ref it is asked for, after sleeping $1 seconds (written into the script).
JOB = echo_job("sleep SLEEP")

DAILY = {"name": "daily_report", "label": "//t:daily_report", "cron": "0 2 * * *", "timezone": "Europe/Amsterdam",
         "partitions": ["reports/daily/{date-1d}"], "ttl_seconds": 3600}
ON_RAW = {"name": "on_raw", "label": "//t:on_raw", "on": ["raw/{date}"], "partitions": ["derived/{date}"],
          "ttl_seconds": 3600}
EVERY_SECOND = {"name": "every_second", "label": "//t:every_second", "cron": "*/1 * * * * *",
                "partitions": ["ticks/{datetime}"], "ttl_seconds": 3600}


def manifest(tmp_path, triggers: list[dict], sleep: float = 0) -> dict:
    job = tmp_path / "job.sh"
    job.write_text(JOB.replace("SLEEP", str(sleep)))
    job.chmod(0o755)
    return {"version": 1, "label": "//t:triggers", "lookup": None, "upstreams": [], "triggers": triggers,
            "jobs": [{"label": "//t:job", "executable": str(job),
                      "outputs": ["reports/*", "derived/*", "ticks/*", "other/*"]}]}


@pytest.fixture
def cli(tmp_path):
    with graph_cli(tmp_path, manifest(tmp_path, [DAILY, ON_RAW])) as run:
        yield run


def ok(done) -> str:
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def by_name(doc: dict) -> dict[str, dict]:
    return {t["name"]: t for t in doc["triggers"]}


def test_list_shows_each_trigger_its_schedule_or_templates_and_next_fire_time(cli):
    listed = ok(cli("triggers", "list"))
    lines = listed.splitlines()
    assert lines[0].split() == ["trigger", "kind", "when", "next", "fire", "last", "firing", "last", "error", "paused"]
    daily = next(line for line in lines if line.startswith("daily_report"))
    assert "schedule" in daily and "0 2 * * * (Europe/Amsterdam)" in daily and daily.rstrip().endswith("no")
    # The next tick: 02:00 in Amsterdam is 00:00 or 01:00 UTC, as RFC 3339 UTC.
    assert re.search(r"\d{4}-\d\d-\d\dT0[01]:00:00Z", daily), daily
    on_raw = next(line for line in lines if line.startswith("on_raw"))
    assert "reactive" in on_raw and "on raw/{date}" in on_raw

    doc = json.loads(ok(cli("--json", "triggers", "list")))
    triggers = by_name(doc)
    assert set(triggers) == {"daily_report", "on_raw"}
    assert triggers["daily_report"]["kind"] == "schedule" and triggers["daily_report"]["cron"] == "0 2 * * *"
    assert triggers["daily_report"]["timezone"] == "Europe/Amsterdam"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT0[01]:00:00Z", triggers["daily_report"]["next_fire_time"])
    assert triggers["on_raw"]["kind"] == "reactive" and triggers["on_raw"]["on"] == ["raw/{date}"]
    assert triggers["on_raw"]["paused"] is False and triggers["on_raw"]["last_error"] == ""


def test_fire_a_schedule_trigger_at_a_time_and_want_status_names_the_firing(cli):
    fired = ok(cli("triggers", "fire", "daily_report", "--at", "2026-12-02T02:00:00+01:00"))
    firing_id = re.search(r"^firing (daily_report!\S+): 1 want\(s\)$", fired, re.M).group(1)
    want_id = re.search(r"^want (\S+) \S+ reports/daily/2026-12-01$", fired, re.M).group(1)

    status = ok(cli("want", "status", want_id))
    assert re.search(rf"^created .* by cli:daily_report \(firing {re.escape(firing_id)}\)$", status, re.M), status
    doc = json.loads(ok(cli("--json", "want", "status", want_id)))
    assert doc["source"] == {"type": "cli", "name": "daily_report", "firing_id": firing_id}
    assert doc["partitions"] == ["reports/daily/2026-12-01"]
    assert doc["data_timestamp"] == "2026-12-02T01:00:00Z"  # the tick time it fired for

    # The firing is the trigger's last firing, with who asked for it.
    daily = by_name(json.loads(ok(cli("--json", "triggers", "list"))))["daily_report"]
    assert daily["last_firing"]["firing_id"] == firing_id
    assert daily["last_firing"]["requested_by"].startswith("cli:")
    assert daily["last_firing"]["want_ids"] == [want_id]
    assert firing_id in ok(cli("triggers", "list"))

    again = json.loads(ok(cli("--json", "triggers", "fire", "daily_report", "--at", "2026-12-03")))
    assert again["firing"]["firing_id"].startswith("daily_report!") and again["firing"]["firing_id"] != firing_id
    assert [w["partitions"] for w in again["wants"]] == [["reports/daily/2026-12-02"]]
    assert again["wants"][0]["source"]["firing_id"] == again["firing"]["firing_id"]


def test_fire_a_reactive_trigger_for_a_partition(cli):
    doc = json.loads(ok(cli("--json", "triggers", "fire", "on_raw", "--partition", "raw/2026-01-05")))
    assert doc["firing"]["trigger"] == "on_raw" and doc["firing"]["refs"] == ["raw/2026-01-05"]
    assert doc["firing"]["firing_id"].startswith("on_raw!")
    [want] = doc["wants"]
    assert want["partitions"] == ["derived/2026-01-05"]
    assert want["source"] == {"type": "cli", "name": "on_raw", "firing_id": doc["firing"]["firing_id"]}
    assert f"(firing {doc['firing']['firing_id']})" in ok(cli("want", "status", want["want_id"]))


def test_bad_firings_exit_2_naming_the_value(cli):
    unmatched = cli("triggers", "fire", "on_raw", "--partition", "other/2026-01-05")
    assert unmatched.returncode == 2 and "'other/2026-01-05'" in unmatched.stderr, unmatched.stderr
    invalid = cli("triggers", "fire", "on_raw", "--partition", "no spaces allowed")
    assert invalid.returncode == 2 and "no spaces allowed" in invalid.stderr, invalid.stderr
    missing = cli("triggers", "fire", "on_raw")
    assert missing.returncode == 2 and "name the partition" in missing.stderr, missing.stderr
    bad_time = cli("triggers", "fire", "daily_report", "--at", "yesterday-ish")
    assert bad_time.returncode == 2 and "yesterday-ish" in bad_time.stderr, bad_time.stderr
    for command in ("fire", "pause", "resume"):
        unknown = cli("triggers", command, "no_such_trigger")
        assert unknown.returncode == 2 and "'no_such_trigger'" in unknown.stderr, (command, unknown.stderr)
    as_json = cli("--json", "triggers", "fire", "no_such_trigger")
    assert as_json.returncode == 2 and "no_such_trigger" in json.loads(as_json.stdout)["error"]["message"]
    # A refused request is no firing: nothing is recorded against the trigger.
    on_raw = by_name(json.loads(ok(cli("--json", "triggers", "list"))))["on_raw"]
    assert on_raw["last_error"] == "" and on_raw["failures"] == 0 and on_raw["firings"] == 0


def test_pause_then_list_shows_paused_and_resume(cli):
    paused = ok(cli("triggers", "pause", "daily_report", "--reason", "maintenance"))
    assert re.fullmatch(r"trigger daily_report paused by cli:\S+\n", paused), paused
    daily = next(line for line in ok(cli("triggers", "list")).splitlines() if line.startswith("daily_report"))
    assert daily.rstrip().endswith("yes") and " - " in daily  # no next fire time while paused
    doc = by_name(json.loads(ok(cli("--json", "triggers", "list"))))
    assert doc["daily_report"]["paused"] is True and doc["daily_report"]["paused_by"].startswith("cli:")
    assert "next_fire_time" not in doc["daily_report"] and doc["on_raw"]["paused"] is False

    resumed = json.loads(ok(cli("--json", "triggers", "resume", "daily_report")))
    assert resumed["name"] == "daily_report" and resumed["paused"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT0[01]:00:00Z", resumed["next_fire_time"])
    assert not by_name(json.loads(ok(cli("--json", "triggers", "list"))))["daily_report"]["paused"]
    events = [json.loads(line) for line in ok(cli("--json", "events", "--type", "trigger_pause_changed")).splitlines()]
    assert [(e["trigger_pause_changed"]["paused"], e["trigger_pause_changed"]["reason"]) for e in events] == [
        (True, "maintenance"), (False, "")]


def test_want_status_of_a_scheduled_want_names_the_tick_firing(tmp_path):
    with graph_cli(tmp_path, manifest(tmp_path, [EVERY_SECOND])) as cli:
        ok(cli("daemon", "start"))  # the daemon fires the schedule every second
        deadline = time.monotonic() + 30
        while not (last := by_name(json.loads(ok(cli("--json", "triggers", "list"))))["every_second"].get("last_firing")):
            assert time.monotonic() < deadline, "the daemon fired no tick"
            time.sleep(0.2)
        ok(cli("triggers", "pause", "every_second"))
        firing_id, [want_id] = last["firing_id"], last["want_ids"]
        assert re.fullmatch(r"every_second@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", firing_id)
        status = ok(cli("want", "status", want_id))
        assert re.search(rf"^created .* by scheduled:every_second \(firing {re.escape(firing_id)}\)$", status, re.M)
        source = json.loads(ok(cli("--json", "want", "status", want_id)))["source"]
        assert source == {"type": "scheduled", "name": "every_second", "firing_id": firing_id}


def test_build_local_fires_no_triggers(tmp_path):
    # The build takes longer than a tick of the per-second schedule, so a runner in this
    # process would have fired at least once before it ends.
    with graph_cli(tmp_path, manifest(tmp_path, [EVERY_SECOND], sleep=2.5)) as cli:
        built = cli("--local", "build", "other/1")
        assert built.returncode == 0, built.stderr
        assert "satisfied" in built.stdout
        envelope = {"index", "event_id", "timestamp", "schema_version"}
        kinds = [next(k for k in json.loads(line) if k not in envelope)  # the payload's name
                 for line in ok(cli("--local", "--json", "events", "--since", "0")).splitlines()]
        assert "build_requested" in kinds and "want_satisfied" in kinds
        assert not [k for k in kinds if k.startswith("trigger_")], kinds
        assert not (tmp_path / "state" / "daemon.json").exists()  # nor did a daemon run
