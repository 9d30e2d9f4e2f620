"""votes_7d/DATE: votes over the 7 days ending on DATE, a time-range input of 7 daily partitions."""

from datetime import date as Date, timedelta

from databuild.job import Job, JobRun, materialize
from examples.common import data

job = Job(outputs="votes_7d/{date}")
WINDOW = 7


def window(day: str) -> list[str]:
    end = Date.fromisoformat(day)
    return [(end - timedelta(days=n)).isoformat() for n in range(WINDOW - 1, -1, -1)]


@job.config
def plan(ref):
    day = job.fields(ref)["date"]
    return JobRun(outputs=[ref], inputs=[materialize(f"votes_daily/{d}") for d in window(day)], args=[day])


@job.exec
def run(ctx):
    (day,) = ctx.args
    daily = [int(data.read_lines(f"votes_daily/{d}")[0]) for d in window(day)]
    data.write(f"votes_7d/{day}", f"{sum(daily)}\n")
    print(f"{day}: {sum(daily)} votes in the 7 days ending that day ({daily})")


if __name__ == "__main__":
    job.main()
