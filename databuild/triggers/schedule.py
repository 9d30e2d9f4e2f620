"""Cron schedules read in a timezone: the next tick after a time, the newest ticks up to one.

A cron expression is what ``databuild.triggers.cron.check_cron`` accepts (5 fields, or 6
with seconds first, or an alias such as ``@daily``); croniter reads it. The expression is
read on the wall clock of the trigger's timezone (an IANA name such as ``Europe/Amsterdam``):

- a wall-clock time that happens twice (autumn, the clock goes back) fires once, the
  first time;
- a wall-clock time that does not exist (spring, the clock jumps forward) fires at the
  moment the clock jumps over it: ``30 2 * * *`` in Europe/Amsterdam fires at 03:00 CEST
  on the last Sunday of March; several such times collapse into that one tick.

Mapped this way, later wall-clock times never give earlier instants, which is what lets
the search walk wall-clock ticks in order. Times are UTC microseconds; ticks are whole seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from databuild.errors import InvalidArgumentError
from databuild.triggers.cron import check_cron

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
#: Longer than any change of a timezone's offset: where the newest wall-clock time before an instant can be.
_OFFSET_WINDOW = timedelta(hours=3)
#: Wall-clock ticks one search may pass over (those of an hour repeated in autumn, for a per-second cron).
_MAX_STEPS = 100_000


def us_of(moment: datetime) -> int:
    """An aware datetime as UTC microseconds."""
    return (moment - _EPOCH) // _US


def utc_of(us: int) -> datetime:
    """UTC microseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


class Schedule:
    """A cron expression in a timezone (see the module docstring)."""

    def __init__(self, expr: str, timezone_name: str = "UTC") -> None:
        """InvalidArgumentError naming the value unless ``check_cron`` accepts both."""
        check_cron(expr, timezone_name)
        self.expr, self.tz = " ".join(expr.split()), ZoneInfo(timezone_name)
        self._seconds_first = len(expr.split()) == 6

    def __repr__(self) -> str:
        return f"Schedule({self.expr!r}, {self.tz.key!r})"

    def _iter(self, start: datetime) -> croniter:
        return croniter(self.expr, start, second_at_beginning=self._seconds_first)

    def wall(self, us: int) -> datetime:
        """The naive wall-clock time in this timezone at ``us``."""
        return utc_of(us).astimezone(self.tz).replace(tzinfo=None, fold=0)

    def instant(self, wall: datetime) -> int:
        """The tick a naive wall-clock time stands for (see the module docstring), in UTC microseconds."""
        first = us_of(wall.replace(tzinfo=self.tz, fold=0))
        if self.wall(first) == wall:
            return first  # it exists; for a time that happens twice, fold 0 is its first occurrence
        # In a gap: the earliest instant whose wall-clock time is past it is when the clock jumps.
        low, high = sorted((us_of(wall.replace(tzinfo=self.tz, fold=1)), first))
        while low < high:
            middle = (low + high) // 2
            if self.wall(middle) > wall:
                high = middle
            else:
                low = middle + 1
        return low

    def next_after(self, us: int) -> int:
        """The first tick strictly after ``us``."""
        ticks = self._iter(self.wall(us))
        for _ in range(_MAX_STEPS):
            tick = self.instant(ticks.get_next(datetime))
            if tick > us:
                return tick
        raise InvalidArgumentError(f"cron {self.expr!r} found no tick after {utc_of(us).isoformat()}")

    def newest(self, after_us: int, until_us: int, count: int) -> list[int]:
        """Up to ``count`` of the newest ticks in ``(after_us, until_us]``, oldest first."""
        if count <= 0 or until_us <= after_us:
            return []
        # Start past every wall-clock time reached by ``until_us`` (a clock set back recently was ahead).
        moment = utc_of(until_us)
        ahead = max(moment.astimezone(self.tz).utcoffset(), (moment - _OFFSET_WINDOW).astimezone(self.tz).utcoffset())
        ticks = self._iter((moment + ahead).replace(tzinfo=None) + _US)
        found: list[int] = []
        for _ in range(_MAX_STEPS + count):
            try:
                tick = self.instant(ticks.get_prev(datetime))
            except CroniterBadDateError:  # no earlier tick within croniter's search horizon
                break
            if tick <= after_us:
                break
            if tick <= until_us and (not found or tick != found[-1]):
                found.append(tick)
                if len(found) == count:
                    break
        return found[::-1]

    def ticks(self, after_us: int, until_us: int, limit: int) -> list[int]:
        """The first ``limit`` ticks in ``(after_us, until_us]``, oldest first."""
        found: list[int] = []
        tick = after_us
        while len(found) < limit:
            tick = self.next_after(tick)
            if tick > until_us:
                break
            found.append(tick)
        return found
