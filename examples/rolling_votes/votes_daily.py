"""votes_daily/DATE: number of raw votes that landed for DATE (raw/votes/DATE is external)."""

from databuild.job import Job, JobRun, materialize
from examples.common import data

job = Job(outputs="votes_daily/{date}")


@job.config
def plan(ref):
    date = job.fields(ref)["date"]
    return JobRun(outputs=[ref], inputs=[materialize(f"raw/votes/{date}")], args=[date])


@job.exec
def run(ctx):
    (date,) = ctx.args
    data.write(f"votes_daily/{date}", f"{len(data.read_lines(f'raw/votes/{date}'))}\n")


if __name__ == "__main__":
    job.main()
