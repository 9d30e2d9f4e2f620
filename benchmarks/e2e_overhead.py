"""Per-job overhead on the path users take: the generated binary, its daemon, Bazel-built jobs.

``bazel build //benchmarks/e2e:overhead``, then, in a fresh state directory per workload
and from a clean environment, ``overhead.build build REF...``: the CLI creates the want
through the daemon (started before timing, with ``DATABUILD_PARALLELISM``) and follows it
until it is satisfied. Each job run spawns ``python3 -c pass``
(``benchmarks/e2e/trivial_job.sh``). The baseline spawns the same job binary with the
same arguments (``trivial_bin exec REF``) from this process with the same parallelism, in
the same run. Overhead per job = (DataBuild wall time - baseline wall time) / jobs.

Workloads: ``--sizes`` independent refs ``flat/<i>`` (default 250, 1,000 and 10,000) at
``--parallelism`` (default 2), and a chain ``chain/0 <- ... <- chain/<n-1>`` of
``--chain`` (default 200) one at a time. Targets: <= 2 ms per job for both, and flat in N
(the largest and smallest flat figures within 1.5x of each other).

Usage: python benchmarks/e2e_overhead.py [--sizes 250,1000,10000] [--chain 200] [--parallelism 2]
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "bazel-bin" / "benchmarks" / "e2e"
TARGET_MS = 2.0


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


def databuild(refs: list[str], parallelism: int, state: Path) -> float:
    """Wall time of ``overhead.build build REFS`` through a warm daemon, following the want."""
    env = {**clean_env(state), "DATABUILD_STATE_DIR": str(state / "state"), "DATABUILD_PARALLELISM": str(parallelism)}
    binary = str(BIN / "overhead.build")
    subprocess.run([binary, "daemon", "start"], env=env, check=True, capture_output=True)
    try:
        t0 = time.perf_counter()
        done = subprocess.run([binary, "build", *refs], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if done.returncode:
            raise RuntimeError(f"build exited {done.returncode}: {done.stderr[-2000:]}")
        return elapsed
    finally:
        subprocess.run([binary, "daemon", "stop"], env=env, capture_output=True)


def measure(name: str, refs: list[str], wanted: list[str], parallelism: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="e2e_overhead_") as tmp:
        baseline = bare(refs, parallelism, Path(tmp))
        total = databuild(wanted, parallelism, Path(tmp))
    return {"workload": name, "jobs": len(refs), "parallelism": parallelism, "baseline_s": baseline,
            "databuild_s": total, "overhead_ms_per_job": (total - baseline) / len(refs) * 1000}


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
    print(f"{'workload':<32} {'jobs':>6} {'bare s':>8} {'databuild s':>12} {'overhead ms/job':>16}  target")
    for r in results:
        ok = "ok" if r["overhead_ms_per_job"] <= TARGET_MS else "MISSED"
        print(f"{r['workload']:<32} {r['jobs']:>6} {r['baseline_s']:>8.2f} {r['databuild_s']:>12.2f} "
              f"{r['overhead_ms_per_job']:>16.2f}  <= {TARGET_MS} {ok}")
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
