"""reports/daily/DATE: how often each value occurs in the ingest graph's ingest/raw/DATE.

ingest/raw/DATE belongs to the upstream graph `ingest` (BUILD.bazel): this graph
never builds it, it waits for the upstream to have it.
"""

from collections import Counter

from databuild.job import Job, JobRun, materialize
from examples.common import data

job = Job(outputs="reports/daily/{date}")


@job.config
def plan(ref):
    date = job.fields(ref)["date"]
    return JobRun(outputs=[ref], inputs=[materialize(f"ingest/raw/{date}")], args=[date])


@job.exec
def run(ctx):
    (date,) = ctx.args
    counts = Counter(data.read_lines(f"ingest/raw/{date}"))
    data.write(f"reports/daily/{date}", "".join(f"{value} {n}\n" for value, n in sorted(counts.items())))
    print(f"report for {date}: {sum(counts.values())} values, {len(counts)} distinct")


if __name__ == "__main__":
    job.main()
