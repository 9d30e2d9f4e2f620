"""report/DATE: red's share of the day's votes. Shares daily_votes with daily_total."""

from databuild.job import Job, JobRun, materialize
from examples.common import data

job = Job(outputs="report/{date}")


@job.config
def plan(ref):
    date = job.fields(ref)["date"]
    return JobRun(outputs=[ref], inputs=[materialize(f"daily_total/{date}"), materialize(f"daily_votes/{date}/red")],
                  args=[date])


@job.exec
def run(ctx):
    (date,) = ctx.args
    total = int(data.read_lines(f"daily_total/{date}")[0])
    red = int(data.read_lines(f"daily_votes/{date}/red")[0])
    share = red / total if total else 0.0
    data.write(f"report/{date}", f"date={date} total={total} red={red} red_share={share:.3f}\n")
    print(f"report for {date}: {total} votes, {share:.1%} red")


if __name__ == "__main__":
    job.main()
