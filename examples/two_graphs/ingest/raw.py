"""ingest/raw/DATE: the day's landed file, cleaned (one lower-cased value per line, blanks dropped).

landing/DATE is external: whatever delivers the file records it
(`partitions mark-available landing/DATE`). The reports graph consumes ingest/raw/*
as its upstream.
"""

from databuild.job import Job, JobRun, materialize
from examples.common import data

job = Job(outputs="ingest/raw/{date}")


@job.config
def plan(ref):
    date = job.fields(ref)["date"]
    return JobRun(outputs=[ref], inputs=[materialize(f"landing/{date}")], args=[date])


@job.exec
def run(ctx):
    (date,) = ctx.args
    values = [v.lower() for v in data.read_lines(f"landing/{date}")]
    data.write(f"ingest/raw/{date}", "".join(f"{v}\n" for v in values))
    print(f"ingested {len(values)} values for {date}")


if __name__ == "__main__":
    job.main()
