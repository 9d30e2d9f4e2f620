"""CLI start-up: a read command of a Bazel-built graph binary to its warm daemon.

Builds ``//benchmarks/e2e:overhead``, starts its daemon in a temporary state directory,
builds ``flat/0`` through a want, then times ``--calls`` (default 50) fresh
processes each of ``overhead.build partitions show flat/0`` and ``overhead.build want
status WANT_ID`` from a clean environment (``PATH=/usr/bin:/bin``, ``HOME`` the temp
dir), as a user's shell would run them. Target: p50 <= 120 ms wall (issue 12).

Printed in the same run, for the machine's noise: a bare ``python3 -c pass`` and the
graph's interpreter (the one the launcher execs) running ``-c pass``; CPU time (user +
system of the child) next to wall time, as it is steadier on a shared machine; and the
imports of one ``partitions show`` by cumulative time (``-X importtime``). Ends with
one JSON line.

Usage: python benchmarks/cli_startup.py [--calls 50] [--top 15]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINARY = ROOT / "bazel-bin" / "benchmarks" / "e2e" / "overhead.build"
TARGET_P50_MS = 120.0
#: What a read to the daemon must not import (the server side's layers).
HEAVY = ("google.protobuf", "peewee", "sqlite3", "databuild.events.sqlite", "databuild.state", "databuild.planner",
         "databuild.executor", "uvicorn", "starlette", "croniter", "databuild.graph.manifest")


def timed(command: list[str], env: dict, calls: int) -> dict:
    """Wall and CPU milliseconds of ``calls`` fresh runs of ``command``: p50, p95, max."""
    wall, cpu = [], []
    for _ in range(calls):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
        wall.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    wall.sort()
    return {"n": calls, "p50_ms": round(statistics.median(wall), 1),
            "p95_ms": round(wall[min(calls - 1, int(calls * 0.95))], 1), "max_ms": round(wall[-1], 1),
            "cpu_p50_ms": round(statistics.median(cpu), 1)}


def import_profile(command: list[str], env: dict) -> list[tuple[int, int, str]]:
    """``-X importtime`` of one run (through the launcher's ``exec``): (cumulative us, self us,
    module with its nesting indent) per import."""
    done = subprocess.run(command, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        rows.append((int(cumulative), int(own), name.rstrip()))
    return rows


def interpreter() -> str:
    """The python the graph's launcher execs (``python_abs`` in the generated script)."""
    for line in BINARY.read_text().splitlines():
        if line.startswith("python_abs="):
            return line.split("=", 1)[1].strip("'\"") or "python3"
    return "python3"


def cli(env: dict, *args: str) -> str:
    return subprocess.run([str(BINARY), *args], env=env, check=True, capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="fresh processes per command (default 50)")
    parser.add_argument("--top", type=int, default=15, help="imports listed by cumulative time (default 15)")
    args = parser.parse_args()

    subprocess.run(["bazel", "build", "--noshow_progress", "//benchmarks/e2e:overhead"], cwd=ROOT, check=True,
                   capture_output=True)
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as tmp:
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "DATABUILD_STATE_DIR": str(Path(tmp) / "state")}
        cli(env, "daemon", "start")
        try:
            # follows the want until flat/0 is built: a want and a partition with a history to show
            want_id = json.loads(cli(env, "--json", "build", "flat/0"))["want_id"]
            cli(env, "partitions", "show", "flat/0")  # warm: the daemon's read path and the OS caches
            commands = {
                "python3 -c pass": ["python3", "-c", "pass"],
                "graph python -c pass": [interpreter(), "-c", "pass"],
                "partitions show flat/0": [str(BINARY), "partitions", "show", "flat/0"],
                "want status WANT_ID": [str(BINARY), "want", "status", want_id],
            }
            results = {name: timed(command, env, args.calls) for name, command in commands.items()}
            imports = import_profile(commands["partitions show flat/0"], env)
        finally:
            cli(env, "daemon", "stop")

    print(f"CLI start-up, warm daemon, {args.calls} fresh processes each (target p50 <= {TARGET_P50_MS:.0f} ms)")
    for name, r in results.items():
        verdict = ("" if "pass" in name else
                   "  OK" if r["p50_ms"] <= TARGET_P50_MS else "  OVER TARGET")
        print(f"  {name:24s} p50 {r['p50_ms']:6.1f}  p95 {r['p95_ms']:6.1f}  max {r['max_ms']:6.1f} ms wall;"
              f"  cpu p50 {r['cpu_p50_ms']:6.1f} ms{verdict}")
    loaded = {name.strip() for _, _, name in imports}
    heavy = sorted(h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in loaded))
    print(f"\nimports of one `partitions show` ({len(imports)} modules; heavyweight: {', '.join(heavy) or 'none'}),"
          f" top {args.top} by cumulative time:")
    for cumulative, own, name in sorted(imports, reverse=True)[:args.top]:
        print(f"  {cumulative / 1000:7.1f} ms cumulative {own / 1000:6.1f} ms self  {name.strip()}"
              f" (depth {(len(name) - len(name.lstrip())) // 2})")
    print(json.dumps({"benchmark": "cli_startup", "target_p50_ms": TARGET_P50_MS, "results": results,
                      "modules_imported": len(imports), "heavy_imports": heavy,
                      "top_imports_ms": {name.strip(): round(c / 1000, 1)
                                         for c, _, name in sorted(imports, reverse=True)[:args.top]}}))


if __name__ == "__main__":
    main()
