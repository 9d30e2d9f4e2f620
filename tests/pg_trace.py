"""What a piece of code asks PostgreSQL: its statements (and where in DataBuild each comes
from) and its round trips, for the tests and benchmarks that count them.

psycopg has no tracer, so ``Trace`` wraps, while it is active, the cursor methods that
send SQL (``execute``, ``executemany``, ``copy``) and ``Connection.wait``, through which
psycopg does all its network waiting. A round trip is a wait that blocks for the server's
answer (a read wait): a statement outside pipeline mode, or a fetch (or the sync at
commit) of a pipeline, however many statements went out before it. Only the threads
``Trace`` was asked to watch are counted (a benchmark's build threads run alongside).
"""

from __future__ import annotations

import collections
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Generator, TextIO

import psycopg
from psycopg._enums import Wait

#: The event log's own modules: a statement's origin is the first caller outside them.
_OWN = ("databuild/events/postgres.py", "databuild/events/pg_readmodel.py", "databuild/events/sqlcommon.py",
        "databuild/events/log.py", "databuild/state/store.py")


@dataclass
class Statement:
    """One statement sent: its SQL (whitespace folded) and the DataBuild frames that sent it."""

    sql: str
    origin: tuple[str, ...]

    def where(self) -> str:
        """The nearest caller outside the event log's modules, the state store and the backend function."""
        return " <- ".join(reversed(self.origin))


@dataclass
class Trace:
    """Records statements and round trips of the watched threads while active
    (``with Trace() as t:``; the entering thread by default)."""

    threads: set[int] = field(default_factory=set)
    statements: list[Statement] = field(default_factory=list)
    round_trips: int = 0
    #: Seconds spent in psycopg's waits (sending, the server working, answers coming back).
    wait_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _saved: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> "Trace":
        if not self.threads:
            self.threads.add(threading.get_ident())
        for name in ("execute", "executemany", "copy"):
            self._patch(psycopg.Cursor, name, self._statement)
        self._patch(psycopg.Connection, "wait", self._wait)
        return self

    def __exit__(self, *exc: object) -> None:
        for (owner, name), original in self._saved.items():
            setattr(owner, name, original)
        self._saved.clear()

    def _patch(self, owner: type, name: str, wrapper: Any) -> None:
        original = getattr(owner, name)
        self._saved[(owner, name)] = original
        setattr(owner, name, lambda obj, *args, **kwargs: wrapper(original, obj, *args, **kwargs))

    def _watched(self) -> bool:
        return threading.get_ident() in self.threads

    def _statement(self, original: Any, cur: psycopg.Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        if self._watched():
            self._record(query)
        return original(cur, query, *args, **kwargs)

    def _wait(self, original: Any, conn: psycopg.Connection, gen: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._watched():
            return original(conn, gen, *args, **kwargs)
        blocked = [False]
        start = time.perf_counter()
        try:
            return original(conn, _noting_reads(gen, blocked), *args, **kwargs)
        finally:
            with self._lock:
                self.wait_s += time.perf_counter() - start
                self.round_trips += blocked[0]

    def _record(self, query: Any) -> None:
        sql = re.sub(r"\s+", " ", query if isinstance(query, str) else str(query)).strip()
        frames = [f for f in traceback.extract_stack()[:-4] if "/databuild/" in f.filename]
        backend = next((f for f in reversed(frames) if f.filename.endswith(_OWN[:4])), None)
        store = next((f for f in reversed(frames) if f.filename.endswith(_OWN[4])), None)
        caller = next((f for f in reversed(frames) if not f.filename.endswith(_OWN)), None)
        origin = tuple(f"{_short(f.filename)}:{f.name}" for f in (backend, store, caller) if f is not None)
        with self._lock:
            self.statements.append(Statement(sql, origin))

    def clear(self) -> None:
        with self._lock:
            self.statements.clear()
            self.round_trips = 0
            self.wait_s = 0.0

    def by_origin(self) -> list[tuple[str, str, int]]:
        """(origin, start of the SQL, count), most frequent first."""
        counts = collections.Counter((s.where(), s.sql[:100]) for s in self.statements)
        return [(where, sql, n) for (where, sql), n in counts.most_common()]

    def report(self, runs: int, out: TextIO) -> None:
        """Statements and round trips per run (averaged over ``runs``), and where they come from."""
        print(f"  {len(self.statements) / runs:.1f} statements, {self.round_trips / runs:.1f} round trips"
              f" per run (over {runs}); {self.wait_s / runs * 1e3:.2f} ms in psycopg's waits", file=out)
        for where, sql, n in self.by_origin():
            print(f"  {n / runs:5.1f}  {where}\n         {sql}", file=out)


def _noting_reads(gen: Generator[Any, Any, Any], blocked: list[bool]) -> Generator[Any, Any, Any]:
    """``gen``, noting in ``blocked`` whether it waited to read (for the server's answer)."""
    try:
        wait = next(gen)
        while True:
            if wait == Wait.R:
                blocked[0] = True
            ready = yield wait
            wait = gen.send(ready)
    except StopIteration as stop:
        return stop.value


def _short(path: str) -> str:
    return path[path.rindex("/databuild/") + 1:]
