"""One job binary whose behaviour depends on the ref, for end-to-end tests.

ok/X     succeeds                    fail/X    exec exits 3 with a message on stderr
slow/N   sleeps N seconds            garbage/X config prints something that is not JSON
cycle/a  needs cycle/b (and back)    fan/X     needs ok/X-1, ok/X-2, slow/0 and ext/X
hang/N   starts a child, both sleep N seconds (its pid in pids/<job_run_id>.child)
flood/N  prints N bytes              stuck/X   config hangs, a child holding its stdout
env/X    prints its environment        drip/X    prints 60 lines, then a line every 0.2 s until
                                       $DATABUILD_DATA_DIR/release/X exists
Every exec appends "<job_run_id> <outputs>" to $DATABUILD_DATA_DIR/runs.log and writes
its pid to $DATABUILD_DATA_DIR/pids/<job_run_id>.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from databuild.job import Job, JobRun, materialize

job = Job(outputs=["ok/*", "fail/*", "slow/*", "garbage/*", "cycle/*", "fan/*", "hang/*", "flood/*", "stuck/*",
                   "env/*", "drip/*"])


@job.config
def plan(ref):
    kind, name = ref.split("/", 1)
    if kind == "garbage":
        print("this is not JSON")
        sys.exit(0)
    if kind == "stuck":
        subprocess.Popen(["sleep", "600"])
        time.sleep(600)
    inputs = {
        "cycle": [f"cycle/{'b' if name == 'a' else 'a'}"],
        "fan": [f"ok/{name}-1", f"ok/{name}-2", "slow/0", f"ext/{name}"],
    }.get(kind, [])
    return JobRun(outputs=[ref], inputs=[materialize(i) for i in inputs], args=[kind, name])


@job.exec
def run(ctx):
    data = Path(os.environ["DATABUILD_DATA_DIR"])
    (data / "pids").mkdir(parents=True, exist_ok=True)
    (data / "pids" / ctx.job_run_id).write_text(str(os.getpid()))
    with open(data / "runs.log", "a") as f:
        f.write(f"{ctx.job_run_id} {' '.join(ctx.outputs)}\n")
    kind, name = ctx.args
    print(f"running {kind}/{name}")
    if kind == "fail":
        print(f"cannot build fail/{name}: the data is broken", file=sys.stderr)
        sys.exit(3)
    if kind == "slow":
        time.sleep(float(name))
    if kind == "hang":
        child = subprocess.Popen(["sleep", name])
        (data / "pids" / f"{ctx.job_run_id}.child").write_text(str(child.pid))
        time.sleep(float(name))
    if kind == "flood":
        sys.stdout.flush()
        sys.stdout.buffer.write(b"z" * int(name))
    if kind == "drip":  # a log written over time, for following it (tests/test_dashboard_browser_logs.py)
        for i in range(60):
            print(f"line {i}")
        ticks = 0
        while not (data / "release" / name).exists():
            ticks += 1
            print(f"tick {ticks}", flush=True)
            time.sleep(0.2)
        print("released", flush=True)
    if kind == "env":
        for key in sorted(os.environ):
            print(f"{key}={os.environ[key]}")


if __name__ == "__main__":
    job.main()
