"""The Starlark rules (rules/): what `bazel build` of a databuild_graph produces.

Runs Bazel 4.2.3 offline (tools/bazel_setup must have run): builds the fixtures in
tests/rules, runs the generated `<graph>.build` from a bare environment, checks the
manifest (jobs, upstreams, triggers) against the Python loader, expects the analysis-time errors of
tests/rules/failures, builds the graph of examples/consumer_workspace, which
loads the rules as the external repository @databuild, and the two graphs of
examples/two_graphs (reports declares ingest as its upstream).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from databuild.graph import load_manifest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bazel") is None, reason="bazel is not installed (run tools/setup)"),
]

ROOT = Path(__file__).resolve().parents[1]
CONSUMER = ROOT / "examples" / "consumer_workspace"
TWO_GRAPHS = ROOT / "bazel-bin" / "examples" / "two_graphs"


def bazel(command: str, *args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["bazel", command, "--noshow_progress", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"bazel {command} {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def run_clean(binary: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run like a user's fresh shell: no virtualenv, no Bazel variables, another directory."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run([str(binary), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    bazel("build", "//tests/rules:g", "//tests/rules:g_lookup", "//tests/rules:g_env")
    return ROOT / "bazel-bin" / "tests" / "rules"


def runfiles(bin_dir: Path, graph: str) -> Path:
    return bin_dir / f"{graph}.build.runfiles"


def manifest(bin_dir: Path, graph: str) -> dict:
    return json.loads((bin_dir / f"{graph}.manifest.json").read_text())


def test_graph_binary_is_an_executable(bin_dir):
    for graph in ("g", "g_lookup"):
        binary = bin_dir / f"{graph}.build"
        assert binary.is_file() and os.access(binary, os.X_OK), binary
        # the manifest sits in the runfiles where the launcher looks for it
        assert (runfiles(bin_dir, graph) / "databuild" / "tests" / "rules" / f"{graph}.manifest.json").is_file()


def test_jobs_list_from_a_clean_environment(bin_dir, tmp_path):
    proc = run_clean(bin_dir / "g.build", "--json", "jobs", "list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["graph"] == "//tests/rules:g"
    assert {j["label"]: j["outputs"] for j in doc["jobs"]} == {
        "//tests/rules:ingest": ["raw_votes/*"],
        "//tests/rules:summary": ["daily_votes/*/*", "totals/*"],
    }


def test_jobs_list_of_a_graph_with_lookup(bin_dir, tmp_path):
    proc = run_clean(bin_dir / "g_lookup.build", "--json", "jobs", "list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["graph"] == "//tests/rules:g_lookup"
    assert {j["label"]: j["outputs"] for j in doc["jobs"]} == {
        "//tests/rules:ingest_any": [],
        "//tests/rules:py_any": [],
        "//tests/rules:summary": ["daily_votes/*/*", "totals/*"],
    }


def test_manifest_content(bin_dir):
    doc = manifest(bin_dir, "g")
    assert doc["version"] == 1 and doc["label"] == "//tests/rules:g"
    assert doc["lookup"] is None
    assert doc["defaults"] == {"ttl_seconds": 2 * 86400, "sla_seconds": 6 * 3600}
    assert doc["limits"] == {"job_timeout_seconds": 6 * 3600, "config_timeout_seconds": 120, "max_log_bytes": 1 << 20}
    jobs = {j["label"]: (j["timeout_seconds"], j["config_timeout_seconds"], j["persistent_config"]) for j in doc["jobs"]}
    assert jobs == {"//tests/rules:ingest": (2 * 3600, 30, False), "//tests/rules:summary": (None, None, False)}
    assert manifest(bin_dir, "g_lookup")["limits"] == {
        "job_timeout_seconds": None, "config_timeout_seconds": None, "max_log_bytes": None}
    assert doc["upstreams"] == [{
        "name": "raw_events", "label": "//tests/rules:raw_events",
        "url": "http://127.0.0.1:8101", "patterns": ["events/**"],
    }]
    assert manifest(bin_dir, "g_lookup")["lookup"] == {
        "label": "//tests/rules:lookup_bin", "executable": "databuild/tests/rules/lookup_bin",
    }
    assert manifest(bin_dir, "g_lookup")["triggers"] == []


def test_manifest_triggers(bin_dir):
    assert manifest(bin_dir, "g")["triggers"] == [
        {"name": "nightly", "label": "//tests/rules:nightly", "cron": "30 1 * * MON-FRI",
         "timezone": "Europe/Amsterdam", "on": [], "partitions": [], "executable": "databuild/tests/rules/trigger_bin",
         "ttl_seconds": 0, "sla_seconds": 0, "data_timestamp": "", "max_catchup": 3, "timeout_seconds": 45,
         "comment": "tomorrow's totals"},
        {"name": "on_raw", "label": "//tests/rules:on_raw", "cron": None, "timezone": "UTC",
         "on": ["raw_votes/{day}"], "partitions": ["daily_votes/{day}/red", "totals/{date-1d}"], "executable": None,
         "ttl_seconds": 86400, "sla_seconds": 21600, "data_timestamp": "{day}", "max_catchup": 1,
         "timeout_seconds": None, "comment": ""},
    ]


def test_the_loader_reads_the_triggers_and_their_binary_is_in_the_runfiles(bin_dir):
    nightly, on_raw = load_manifest(bin_dir / "g.manifest.json", runfiles(bin_dir, "g")).triggers
    assert (nightly.name, nightly.cron, nightly.timeout_seconds, on_raw.timeout_seconds) == (
        "nightly", "30 1 * * MON-FRI", 45, 60)
    proc = run_clean(Path(nightly.executable), "fire", "2025-01-01T01:30:00Z", cwd=bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"wants": []}


@pytest.mark.parametrize("graph", ["g", "g_lookup"])
def test_manifest_executables_are_in_the_runfiles(bin_dir, graph):
    rf = runfiles(bin_dir, graph)
    spec = load_manifest(bin_dir / f"{graph}.manifest.json", rf)  # the Python loader accepts it
    executables = [Path(j.executable) for j in spec.jobs]
    if spec.lookup:
        executables.append(Path(spec.lookup.executable))
    for exe in executables:
        assert exe.is_file() and os.access(exe, os.X_OK), exe
    # a job's own runfiles (its data) come along, and so does the databuild package
    assert (rf / "databuild" / "tests" / "rules" / "job_data.txt").is_file()
    assert (rf / "databuild" / "databuild" / "cli" / "__main__.py").is_file()


def test_the_loader_applies_the_limits_job_over_graph(bin_dir):
    spec = load_manifest(bin_dir / "g.manifest.json")
    limits = {j.label: (j.timeout_seconds, j.config_timeout_seconds) for j in spec.jobs}
    assert limits == {"//tests/rules:ingest": (7200, 30), "//tests/rules:summary": (6 * 3600, 120)}
    assert spec.max_log_bytes == 1 << 20


def test_jobs_run_from_the_graph_runfiles(bin_dir, tmp_path):
    """sh_binary and py_binary jobs start from the graph's runfiles tree, in a bare environment."""
    spec = load_manifest(bin_dir / "g_lookup.manifest.json", runfiles(bin_dir, "g_lookup"))
    for job in spec.jobs:
        proc = run_clean(Path(job.executable), "config", "raw_votes/2025-01-01", cwd=tmp_path)
        assert proc.returncode == 0, (job.label, proc.stderr)
        assert json.loads(proc.stdout) == {"configs": []}, job.label


@pytest.mark.parametrize("user_path", [None, "/opt/user/lib"])
def test_jobs_inherit_the_users_pythonpath_not_the_clis(bin_dir, tmp_path, user_path):
    """The launcher puts the databuild package on the CLI's sys.path without exporting it:
    a job's own Python must not import DataBuild's copy of its modules."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATABUILD_STATE_DIR": str(tmp_path / "state"),
           **({"PYTHONPATH": user_path} if user_path else {})}
    proc = subprocess.run([str(bin_dir / "g_env.build"), "--local", "build", "env/a"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    [log] = (tmp_path / "state" / "logs").glob("*/*.log")
    assert log.read_text() == f"PYTHONPATH={user_path or '<unset>'}\n"


def test_lookup_runs_from_the_runfiles(bin_dir):
    spec = load_manifest(bin_dir / "g_lookup.manifest.json", runfiles(bin_dir, "g_lookup"))
    proc = subprocess.run([spec.lookup.executable, "raw/x"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"raw/x": None}


def test_graph_binary_found_through_a_symlink(bin_dir, tmp_path):
    link = tmp_path / "bin" / "votes"
    link.parent.mkdir()
    link.symlink_to(bin_dir / "g.build")
    proc = run_clean(link, "--json", "jobs", "list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["graph"] == "//tests/rules:g"


@pytest.mark.parametrize(
    "target, fragments",
    [
        ("overlap", [
            "graph //tests/rules/failures:overlap: output patterns overlap",
            '"daily/*/red" of //tests/rules/failures:daily_red and "daily/2025/**" of //tests/rules/failures:daily_2025',
        ]),
        ("no_lookup", [
            "job //tests/rules:ingest_any declares no outputs and graph //tests/rules/failures:no_lookup has no lookup",
        ]),
        ("not_a_job", [
            "//tests/rules:summary_bin in the jobs of graph //tests/rules/failures:not_a_job is not a databuild_job",
        ]),
        ("bad_duration", [
            'graph //tests/rules/failures:bad_duration: default_ttl: invalid duration "2 days": '
            "use a number with a unit s, m, h, d or w, e.g. 90s, 15m, 6h, 2d",
        ]),
        ("zero_sla", [
            'graph //tests/rules/failures:zero_sla: default_sla: invalid duration "0s": must be longer than zero',
        ]),
        ("bad_pattern", [
            'databuild_job //tests/rules/failures:bad_pattern: output pattern "daily votes/*" contains whitespace',
        ]),
        ("bad_timeout", [
            'databuild_job //tests/rules/failures:bad_timeout: timeout: invalid duration "2 hours"',
        ]),
        ("zero_config_timeout", [
            'databuild_job //tests/rules/failures:zero_config_timeout: config_timeout: invalid duration "0s": must be longer than zero',
        ]),
        ("bad_job_timeout", [
            'graph //tests/rules/failures:bad_job_timeout: job_timeout: invalid duration "forever"',
        ]),
        ("upstream_overlaps_output", [
            "graph //tests/rules/failures:upstream_overlaps_output: upstream patterns overlap",
            'upstream pattern "daily/2025/**" of //tests/rules/failures:feed_2025 and '
            'output pattern "daily/*/red" of //tests/rules/failures:daily_red',
        ]),
        ("upstreams_overlap", [
            "graph //tests/rules/failures:upstreams_overlap: upstream patterns overlap",
            'upstream pattern "feed/**" of //tests/rules/failures:feed_2025 and '
            'upstream pattern "feed/*/clicks" of //tests/rules/failures:clicks',
        ]),
        ("bad_url", [
            'databuild_upstream //tests/rules/failures:bad_url: url "http://" must be an http:// or https:// URL',
        ]),
        ("bad_max_log_bytes", [
            "graph //tests/rules/failures:bad_max_log_bytes: max_log_bytes -1 must be a positive number of bytes",
        ]),
        ("bad_executor", [
            """graph //tests/rules/failures:bad_executor: executor "http://scheduler:8786" is neither 'local' nor """
            "dask://HOST:PORT",
        ]),
        *[(name, [f"databuild_trigger //tests/rules/failures:{name}: {message}"]) for name, message in [
            ("cron_and_on", 'give either cron = "..." (a schedule) or on = [...] (ref templates of partitions that '
                            "fire it when they land), not both"),
            ("no_cron_no_on", 'give either cron = "..." (a schedule) or on = [...]'),
            ("partitions_and_binary", "give either partitions = [...] (templates of the refs each firing wants) or "
                                      'binary = "..." (a trigger binary that answers them), not both'),
            ("bad_cron", 'cron "0 25 * * *": hour "25" is out of range 0-23'),
            ("four_fields", 'cron "0 2 * *": has 4 fields; write 5 (minute hour day-of-month month day-of-week) or 6'),
            ("bad_weekday", 'cron "0 2 * * MONDAY": day of week "monday" is not a number, range, step or name'),
            ("hashed_cron", 'cron "H 2 * * *": field "h": hashed (H) and random (R) values are not supported'),
            ("never_fires", 'cron "0 2 30 2 *": day of month "30" never occurs in month "2"'),
            ("bad_timezone", 'timezone "Europe Amsterdam" is not an IANA time zone name'),
            ("offset_in_on", 'on template "raw/{date-1d}": field "date" has an offset; an on template captures '
                             "fields as they are"),
            ("stray_brace", """on template "raw/{date": '{' is not part of a {field}; braces only enclose fields"""),
            ("unknown_field", 'partitions template "daily/{day}/red": field "day" is neither a tick field '
                              "(date, hour, minute, datetime) nor captured by an on template"),
            ("not_captured_by_all", 'partitions template "daily/{date}/{color}": field "color" is neither a tick '
                                    "field (date, hour, minute, datetime) nor captured by every on template (date)"),
            ("offset_on_capture", 'partitions template "daily/{date-1d}/red": field "date" has an offset, which only '
                                  "the tick fields date, hour, minute, datetime may have (it is a captured field here)"),
            ("bad_offset", 'partitions template "daily/{date-1x}/red": offset of {date-1x}: invalid duration "1x"'),
            ("not_a_ref", 'partitions template "daily votes/{date}": once filled in it contains whitespace'),
            ("bad_data_timestamp", 'data_timestamp "{day}": field "day" is neither a tick field'),
            ("bad_ttl", 'ttl: invalid duration "1 day"'),
            ("negative_catchup", "max_catchup -1 must be 0 or more"),
            ("timeout_without_binary", 'timeout "30s" limits calls of the trigger binary, and there is no binary'),
            ("daily+report", 'name "daily+report" may only hold ASCII letters, digits, _, . and -'),
        ]],
        ("duplicate_trigger_names", [
            "graph //tests/rules/failures:duplicate_trigger_names: triggers //tests/rules/failures:on_raw and "
            '//tests/rules:on_raw have the same name "on_raw"; trigger names must be unique within a graph',
        ]),
        ("not_a_trigger", [
            "//tests/rules:trigger_bin in the triggers of graph //tests/rules/failures:not_a_trigger is not a "
            "databuild_trigger",
        ]),
    ],
)
def test_analysis_errors(target, fragments):
    proc = bazel("build", f"//tests/rules/failures:{target}", check=False)
    assert proc.returncode != 0, f"//tests/rules/failures:{target} built, expected an analysis error"
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr[-3000:]


def test_basic_graph_example_declares_a_schedule_and_a_reactive_trigger():
    bazel("build", "//examples/basic_graph")
    doc = json.loads((ROOT / "bazel-bin" / "examples" / "basic_graph" / "basic_graph.manifest.json").read_text())
    assert [(t["name"], t["cron"], t["on"], t["partitions"], t["data_timestamp"]) for t in doc["triggers"]] == [
        ("daily_report", "0 2 * * *", [], ["report/{date-1d}"], "{date-1d}"),
        ("report_on_raw_votes", None, ["raw/votes/{date}"], ["report/{date}"], "{date}"),
    ]
    assert {j["label"]: j["persistent_config"] for j in doc["jobs"]} == {
        "//examples/basic_graph:count_votes": False, "//examples/basic_graph:daily_total": True,
        "//examples/basic_graph:report": True}


def wait_for_want(graph: Path, env: dict, ref: str, status: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        proc = subprocess.run([str(graph), "--json", "want", "status", ref], env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        want = json.loads(proc.stdout)
        if want["status"] == status:
            return want
        assert time.monotonic() < deadline, want
        time.sleep(0.2)


def test_two_graphs_example(tmp_path):
    """reports waits for ingest/raw/D, owned by its upstream ingest, and builds once it is there.

    Upstream sync is not used here: the test records the upstream's partition in the
    reports graph itself, as `partitions mark-available` does for any external data.
    """
    bazel("build", "//examples/two_graphs/...")
    ingest, reports = TWO_GRAPHS / "ingest" / "ingest.build", TWO_GRAPHS / "reports" / "reports.build"
    reports_manifest = json.loads((TWO_GRAPHS / "reports" / "reports.manifest.json").read_text())
    assert reports_manifest["upstreams"] == [{
        "name": "ingest", "label": "//examples/two_graphs/reports:ingest", "url": "http://127.0.0.1:8101",
        "patterns": ["ingest/raw/*"]}]
    assert [(t["name"], t["on"], t["partitions"]) for t in reports_manifest["triggers"]] == [
        ("report_on_ingest", ["ingest/raw/{date}"], ["reports/daily/{date}"])]
    data = tmp_path / "data"
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "DATABUILD_DATA_DIR": str(data)}
    ingest_env, reports_env = ({**env, "DATABUILD_STATE_DIR": str(tmp_path / name)} for name in ("i", "r"))

    planned = subprocess.run([str(reports), "--local", "--json", "analyze", "reports/daily/2025-01-01"],
                             env=reports_env, capture_output=True, text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["job_graph"]["external_partitions"] == ["ingest/raw/2025-01-01"]
    try:
        created = subprocess.run([str(reports), "want", "create", "reports/daily/2025-01-01"], env=reports_env,
                                 capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        waiting = wait_for_want(reports, reports_env, "reports/daily/2025-01-01", "waiting")
        assert [(b["ref"], b["upstream"]) for b in waiting["blocked_by"]] == [("ingest/raw/2025-01-01", "ingest")]
        assert "ingest/raw/2025-01-01 (owned by upstream 'ingest': unreachable since" in waiting["explanation"]

        (data / "landing").mkdir(parents=True)
        (data / "landing" / "2025-01-01").write_text("Red\nblue\nRED\n")
        for args in (["partitions", "mark-available", "landing/2025-01-01"], ["build", "ingest/raw/2025-01-01"]):
            proc = subprocess.run([str(ingest), "--local", *args], env=ingest_env, capture_output=True, text=True,
                                  timeout=120)
            assert proc.returncode == 0, proc.stderr
        assert (data / "ingest" / "raw" / "2025-01-01").read_text() == "red\nblue\nred\n"

        marked = subprocess.run([str(reports), "partitions", "mark-available", "ingest/raw/2025-01-01"],
                                env=reports_env, capture_output=True, text=True, timeout=60)
        assert marked.returncode == 0, marked.stderr
        wait_for_want(reports, reports_env, "reports/daily/2025-01-01", "satisfied")
        assert (data / "reports" / "daily" / "2025-01-01").read_text() == "blue 1\nred 2\n"
    finally:
        subprocess.run([str(reports), "daemon", "stop"], env=reports_env, capture_output=True, timeout=60)


def test_consumer_workspace(tmp_path):
    """The rules work when loaded as @databuild from another workspace."""
    try:
        bazel("build", "//:graph", cwd=CONSUMER)
        bin_dir = CONSUMER / "bazel-bin"
        binary = bin_dir / "graph.build"
        assert binary.is_file() and os.access(binary, os.X_OK)
        proc = run_clean(binary, "--json", "jobs", "list", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["graph"] == "//:graph"
        assert {j["label"]: j["outputs"] for j in doc["jobs"]} == {
            "//:daily_votes": ["daily_votes/*/*"],
            "//:vote_totals": ["vote_totals/*"],
        }
        rf = bin_dir / "graph.build.runfiles"
        spec = load_manifest(bin_dir / "graph.manifest.json", rf)
        assert all(Path(j.executable).is_file() for j in spec.jobs)
        # the databuild package comes from the @databuild repository
        assert (rf / "databuild" / "databuild" / "cli" / "__main__.py").is_file()
    finally:
        subprocess.run(["bazel", "shutdown"], cwd=CONSUMER, capture_output=True, timeout=120)
