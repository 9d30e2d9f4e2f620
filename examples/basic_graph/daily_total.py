"""Fan-in job: daily_total/DATE = sum of daily_votes/DATE/{red,green,blue}."""

from databuild.job import Job, JobRun, materialize
from examples.common import data
from examples.basic_graph.count_votes import COLORS

job = Job(outputs="daily_total/{date}")


@job.config
def plan(ref):
    date = job.fields(ref)["date"]
    return JobRun(outputs=[ref], inputs=[materialize(f"daily_votes/{date}/{c}") for c in COLORS], args=[date])


@job.exec
def run(ctx):
    (date,) = ctx.args
    total = sum(int(data.read_lines(f"daily_votes/{date}/{c}")[0]) for c in COLORS)
    data.write(f"daily_total/{date}", f"{total}\n")


if __name__ == "__main__":
    job.main()
