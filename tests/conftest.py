import itertools
from typing import Callable

import pytest

from databuild.events import EventLog, MemoryEventLog, SqliteEventLog
from pg_support import pg_cluster, pg_database  # noqa: F401  (fixtures)


class FakeClock:
    """Injected time: starts at 2025-01-01T00:00:00Z, advances 1 ms per reading."""

    def __init__(self, start_us: int = 1_735_689_600_000_000, step_us: int = 1000) -> None:
        self._ticks = itertools.count(start_us, step_us)

    def __call__(self) -> int:
        return next(self._ticks)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_log(backend, tmp_path, clock, request) -> Callable[..., EventLog]:
    """Opens a log of the parametrized backend; every backend runs the contract suite.

    ``path`` names the log: the same path opens the same log again (for PostgreSQL, a
    database of the session's throwaway cluster made for that path)."""
    opened: list[EventLog] = []
    databases: dict[str, str] = {}

    def make(projections=(), path=None) -> EventLog:
        if backend == "memory":
            log = MemoryEventLog(projections, clock)
        elif backend == "postgres":
            from databuild.events.postgres import PostgresEventLog

            name = str(path or tmp_path / "bel.sqlite3")
            if name not in databases:
                databases[name] = request.getfixturevalue("pg_database")()
            log = PostgresEventLog(databases[name], projections, clock)
        else:
            log = SqliteEventLog(str(path or tmp_path / "bel.sqlite3"), projections, clock)
        opened.append(log)
        return log

    yield make
    for log in opened:
        log.close()
