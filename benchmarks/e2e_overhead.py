"""Per-job overhead on the path users take: the generated binary, its daemon, Bazel-built jobs.

``bazel build //benchmarks/e2e:overhead``, then, in a fresh state directory per workload
and from a clean environment, ``overhead.build build REF...``: the CLI creates the want
through the daemon (started before timing, with ``DATABUILD_PARALLELISM``) and follows it
until it is satisfied. Each job run spawns ``python3 -c pass``
(``benchmarks/e2e/trivial_job.sh``). The baseline spawns the same job binary with the
same arguments (``trivial_bin exec REF``) from this process with the same parallelism, in
the same run, once before and once after DataBuild's run: their mean is the baseline, so a
machine speeding up or slowing down during the run biases neither way. Overhead per job =
(DataBuild wall time - baseline wall time) / jobs.

Workloads: ``--sizes`` independent refs ``flat/<i>`` (default 250, 1,000 and 10,000) at
``--parallelism`` (default 2), and a chain ``chain/0 <- ... <- chain/<n-1>`` of
``--chain`` (default 200) one at a time. Targets: <= 2 ms per job for both, and flat in N
(the largest and smallest flat figures within 1.5x of each other). Also printed per
workload: the daemon's resident size before and 2 s after the build (target: within
20 MB), events and bytes per job run in the log (by type), the log files left, and where
the wall time went (from the log's timestamps): the CLI until its want is recorded,
planning (one ``config`` call per level of the graph: 200 sequential calls for the
chain), from the want's satisfaction to the CLI's exit, and the rest per job.

Usage: python benchmarks/e2e_overhead.py [--sizes 250,1000,10000] [--chain 200] [--parallelism 2]
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "bazel-bin" / "benchmarks" / "e2e"
TARGET_MS = 2.0
#: The daemon's resident size after a build may exceed its start by at most this much.
RSS_TARGET_MB = 20.0
SETTLE_S = 2.0


def clean_env(home: Path) -> dict[str, str]:
    """A user's fresh shell: the same for the baseline and DataBuild (``python3`` is /usr/bin's)."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home)}


def bare(refs: list[str], parallelism: int, home: Path) -> float:
    """Wall time of spawning the job binary for ``refs`` directly, ``parallelism`` at a time."""
    job, env = str(BIN / "trivial_bin"), clean_env(home)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallelism) as pool:
        for done in pool.map(lambda r: subprocess.run([job, "exec", r], env=env, capture_output=True), refs):
            if done.returncode:
                raise RuntimeError(f"{job} exec failed: {done.stderr.decode()[-500:]}")
    return time.perf_counter() - t0


def rss_mb(pid: int) -> float:
    """Resident size of ``pid`` in MB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds ``pid`` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def phases(db: sqlite3.Connection, started_us: int, ended_us: int) -> dict:
    """Where the wall time went, from the log's timestamps (the same clock as ``started_us``):
    the CLI until the want was recorded, planning (want → job graph recorded, one ``config``
    call per level of the graph) and from the want's satisfaction to the CLI's exit."""
    def first(event_type: str) -> int:
        (ts,) = db.execute("SELECT min(ts) FROM events WHERE type = ?", (event_type,)).fetchone()
        if ts is None:
            raise RuntimeError(f"the log has no {event_type} event")
        return ts
    wanted, planned, satisfied = first("want_created"), first("job_graph_recorded"), first("want_satisfied")
    return {"start_s": (wanted - started_us) / 1e6, "plan_s": (planned - wanted) / 1e6,
            "end_s": (ended_us - satisfied) / 1e6}


def log_footprint(state: Path, started_us: int, ended_us: int) -> dict:
    """What the build left in the state directory: events by type (count, body bytes), log
    files, and the phases of the wall time."""
    with sqlite3.connect(f"file:{state / 'bel.sqlite3'}?mode=ro", uri=True) as db:
        timing = phases(db, started_us, ended_us)
        by_type = {t: {"events": n, "bytes": b} for t, n, b in db.execute(
            "SELECT type, count(*), sum(length(body)) FROM events GROUP BY type ORDER BY type")}
        # The database's own size (events, keys, read models), not the WAL's high-water mark.
        (pages,), (page_size,) = db.execute("PRAGMA page_count").fetchone(), db.execute("PRAGMA page_size").fetchone()
    logs = state / "logs"
    return {**timing, "by_type": by_type, "log_files": sum(1 for _ in logs.rglob("*") if _.is_file()) if logs.exists() else 0,
            "file_bytes": pages * page_size}


def databuild(refs: list[str], parallelism: int, state: Path) -> dict:
    """``overhead.build build REFS`` through a warm daemon, following the want: wall time, the
    daemon's resident size before and after, and what the log holds afterwards."""
    env = {**clean_env(state), "DATABUILD_STATE_DIR": str(state / "state"), "DATABUILD_PARALLELISM": str(parallelism)}
    binary = str(BIN / "overhead.build")
    subprocess.run([binary, "daemon", "start"], env=env, check=True, capture_output=True)
    try:
        pid = json.loads((state / "state" / "daemon.json").read_text())["pid"]
        rss_start, daemon_cpu, cli_cpu = rss_mb(pid), cpu_s(pid), children_cpu_s()
        started_us, t0 = time.time_ns() // 1000, time.perf_counter()
        done = subprocess.run([binary, "build", *refs], env=env, capture_output=True, text=True)
        elapsed, ended_us = time.perf_counter() - t0, time.time_ns() // 1000
        daemon_cpu, cli_cpu = cpu_s(pid) - daemon_cpu, children_cpu_s() - cli_cpu
        if done.returncode:
            raise RuntimeError(f"build exited {done.returncode}: {done.stderr[-2000:]}")
        time.sleep(SETTLE_S)  # the build's threads let go of what they held
        # The daemon's CPU includes its jobs' only until they are reaped: jobs are its children,
        # counted in its cutime, not in utime + stime read here.
        return {"databuild_s": elapsed, "daemon_cpu_s": daemon_cpu, "cli_cpu_s": cli_cpu,
                "rss_start_mb": rss_start, "rss_after_mb": rss_mb(pid),
                **log_footprint(state / "state", started_us, ended_us)}
    finally:
        subprocess.run([binary, "daemon", "stop"], env=env, capture_output=True)


def measure(name: str, refs: list[str], wanted: list[str], parallelism: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="e2e_overhead_") as tmp:
        before = bare(refs, parallelism, Path(tmp))
        run = databuild(wanted, parallelism, Path(tmp))
        after = bare(refs, parallelism, Path(tmp))
    baseline = (before + after) / 2
    events = sum(t["events"] for t in run["by_type"].values())
    body = sum(t["bytes"] for t in run["by_type"].values())
    return {"workload": name, "jobs": len(refs), "parallelism": parallelism, "baseline_s": baseline,
            "baseline_before_s": before, "baseline_after_s": after, **run,
            "overhead_ms_per_job": (run["databuild_s"] - baseline) / len(refs) * 1000,
            "run_overhead_ms_per_job": (run["databuild_s"] - run["start_s"] - run["plan_s"] - run["end_s"] - baseline)
            / len(refs) * 1000,
            "daemon_cpu_ms_per_job": run["daemon_cpu_s"] / len(refs) * 1000,
            "cli_cpu_ms_per_job": run["cli_cpu_s"] / len(refs) * 1000,
            "events_per_run": events / len(refs), "event_bytes_per_run": body / len(refs),
            "file_bytes_per_run": run["file_bytes"] / len(refs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250,1000,10000", help="comma-separated numbers of independent refs")
    parser.add_argument("--chain", type=int, default=200)
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args()
    subprocess.run(["bazel", "build", "--noshow_progress", "//benchmarks/e2e:overhead"], cwd=ROOT, check=True,
                   capture_output=True)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        refs = [f"flat/{i}" for i in range(n)]
        results.append(measure(f"{n:,} independent, {args.parallelism}-way", refs, refs, args.parallelism))
    if args.chain:
        chain = [f"chain/{i}" for i in range(args.chain)]
        results.append(measure(f"chain of {args.chain}, 1-way", chain, chain[-1:], 1))
    print(f"{'workload':<32} {'jobs':>6} {'bare s':>8} {'(before, after)':>15} {'databuild s':>12} {'overhead ms/job':>16}  target"
          f"       {'daemon CPU ms/job':>17} {'CLI CPU ms/job':>14}")
    for r in results:
        ok = "ok" if r["overhead_ms_per_job"] <= TARGET_MS else "MISSED"
        spread = f"({r['baseline_before_s']:.2f}, {r['baseline_after_s']:.2f})"
        print(f"{r['workload']:<32} {r['jobs']:>6} {r['baseline_s']:>8.2f} {spread:>15} {r['databuild_s']:>12.2f} "
              f"{r['overhead_ms_per_job']:>16.2f}  <= {TARGET_MS} {ok:<6} {r['daemon_cpu_ms_per_job']:>17.2f} "
              f"{r['cli_cpu_ms_per_job']:>14.2f}")
    print(f"\n{'workload':<32} {'rss start MB':>12} {'after MB':>9} {'grew MB':>8}  target    "
          f"{'events/run':>10} {'event B/run':>11} {'db B/run':>10} {'log files':>9}")
    for r in results:
        grew = r["rss_after_mb"] - r["rss_start_mb"]
        ok = "ok" if grew <= RSS_TARGET_MB else "MISSED"
        print(f"{r['workload']:<32} {r['rss_start_mb']:>12.1f} {r['rss_after_mb']:>9.1f} {grew:>8.1f}  <= "
              f"{RSS_TARGET_MB:.0f} {ok:<6} {r['events_per_run']:>10.2f} {r['event_bytes_per_run']:>11.0f} "
              f"{r['file_bytes_per_run']:>10.0f} {r['log_files']:>9}")
    print(f"\n{'workload':<32} {'CLI to want s':>13} {'planning s':>10} {'satisfied to exit s':>19} "
          f"{'the rest: ms/job':>16}")
    for r in results:
        print(f"{r['workload']:<32} {r['start_s']:>13.3f} {r['plan_s']:>10.3f} {r['end_s']:>19.3f} "
              f"{r['run_overhead_ms_per_job']:>16.2f}")
    print("events by type (largest workload):")
    for t, v in max(results, key=lambda r: r["jobs"])["by_type"].items():
        print(f"  {t:<32} {v['events']:>8} events {v['bytes']:>12,} bytes")
    flat = [r["overhead_ms_per_job"] for r in results if r["workload"].endswith("independent, "
                                                                                f"{args.parallelism}-way")]
    if len(flat) > 1:
        low, high = min(flat), max(flat)
        ok = low > 0 and high / low <= 1.5
        print(f"flat in N: independent workloads' overhead from {low:.2f} to {high:.2f} ms/job "
              f"(target: within 1.5x: {'ok' if ok else 'MISSED'})")
    print(json.dumps({"benchmark": "e2e_overhead", "results": results}))


if __name__ == "__main__":
    main()
