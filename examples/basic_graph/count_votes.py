"""Multi-output job: one run per day counts raw votes into one partition per color.

raw/votes/DATE (external; one color per line) -> daily_votes/DATE/{red,green,blue}
"""

from collections import Counter

from databuild.job import Job, JobRun, materialize
from examples.common import data

COLORS = ("red", "green", "blue")
job = Job(outputs="daily_votes/{date}/{color}")


@job.config_batch
def plan(refs):
    dates = sorted({job.fields(r)["date"] for r in refs})
    return [JobRun(outputs=[f"daily_votes/{d}/{c}" for c in COLORS], inputs=[materialize(f"raw/votes/{d}")], args=[d])
            for d in dates]


@job.exec
def run(ctx):
    (date,) = ctx.args
    counts = Counter(data.read_lines(f"raw/votes/{date}"))
    for color in COLORS:
        data.write(f"daily_votes/{date}/{color}", f"{counts[color]}\n")


if __name__ == "__main__":
    job.main()
