"""Moving a log between backends: NDJSON export and import, and verification by replay.

The file format (docs/event-log.md, "Moving a log between backends"): line 1 is a header
``{"databuild_bel": 1, "log_id": ..., "head": N, "exported_at": ...}``, then one event per
line in index order, each the JSON contract's event document (docs/json.md) with its
``index``, ``event_id``, ``timestamp`` and ``schema_version``. Everything here streams
page by page: memory stays bounded by a page, whatever the size of the log (verify also
holds the replayed read models, which are as big as they are).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence, TextIO

from databuild.errors import ConflictError, DataBuildError, InvalidArgumentError, UnsupportedBackendError
from databuild.events.log import EventLog
from databuild.events.readmodel import Row, RowQuery, Term
from databuild.proto import databuild_pb2 as pb
from databuild.proto.jsonmap import message_dict, parse_dict, timestamp_text

#: The format version written in (and required of) the header line.
FORMAT_VERSION = 1
#: Events read per page by export and verify, rows per page by verify.
PAGE = 1000
_HEADER_FIELDS = {"databuild_bel", "log_id", "head", "exported_at"}


def _json_line(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"


def export_log(log: EventLog, out: TextIO, now_us: int) -> int:
    """Write ``log`` to ``out`` as NDJSON (header, then its events in index order); return
    how many events were written. The export is of the log as it was when it started: events
    appended meanwhile (a live log) are past the header's ``head`` and left out."""
    head = log.head().index
    stamp = pb.Event()
    stamp.timestamp.FromMicroseconds(now_us)
    out.write(_json_line({"databuild_bel": FORMAT_VERSION, "log_id": log.log_id, "head": head,
                          "exported_at": timestamp_text(stamp.timestamp)}))
    since = written = 0
    while since < head:
        page = log.list_events(since, limit=PAGE)
        for event in page.events:
            if event.index > head:
                return written
            out.write(_json_line(message_dict(event)))
            written += 1
        if not page.events:
            break
        since = page.events[-1].index
    return written


@dataclass(frozen=True)
class Header:
    """The first line of an export."""

    log_id: str
    head: int
    exported_at: str


class ImportFileError(InvalidArgumentError):
    """A line of an import file is not what the format says (the message names the line)."""


def read_header(line: str | bytes) -> Header:
    """The header of an export, from its first line; ImportFileError naming what is wrong."""
    doc = _json(line, 1)
    if not isinstance(doc, dict) or doc.get("databuild_bel") != FORMAT_VERSION:
        found = doc.get("databuild_bel") if isinstance(doc, dict) else None
        raise ImportFileError(f"line 1: not a DataBuild event log export: the header needs "
                              f'"databuild_bel": {FORMAT_VERSION}, got {found!r}')
    unknown = sorted(set(doc) - _HEADER_FIELDS)
    if unknown:
        raise ImportFileError(f"line 1: unknown header field(s) {', '.join(unknown)}")
    log_id, head = doc.get("log_id"), doc.get("head")
    if not isinstance(log_id, str) or not log_id:
        raise ImportFileError(f"line 1: the header's log_id must be a non-empty string, got {log_id!r}")
    if isinstance(head, bool) or not isinstance(head, int) or head < 0:
        raise ImportFileError(f"line 1: the header's head must be a non-negative integer, got {head!r}")
    return Header(log_id, head, str(doc.get("exported_at", "")))


def _json(line: str | bytes, number: int) -> object:
    try:
        return json.loads(line)
    except ValueError as e:
        raise ImportFileError(f"line {number}: not JSON ({e})") from None


class _Lines:
    """The events of an export's lines, parsed as they are pulled; remembers which line it
    is at, so an error raised by the log about the latest event can name its line."""

    def __init__(self, lines: Iterator[str | bytes], header: Header) -> None:
        self._lines, self.header, self.line = lines, header, 1

    def __iter__(self) -> Iterator[pb.Event]:
        for text in self._lines:
            self.line += 1
            if not text.strip():
                raise ImportFileError(f"line {self.line}: empty line (an export has one event per line)")
            doc = _json(text, self.line)
            if not isinstance(doc, dict):
                raise ImportFileError(f"line {self.line}: an event must be a JSON object, got {_kind(doc)}")
            try:
                event = parse_dict(doc, pb.Event())
            except InvalidArgumentError as e:
                raise ImportFileError(f"line {self.line}: {e}") from None
            if event.WhichOneof("payload") is None:
                raise ImportFileError(f"line {self.line}: the event has no payload (an event type such as "
                                      "want_created)")
            if event.index > self.header.head:
                raise ImportFileError(f"line {self.line}: event index {event.index} is past the header's "
                                      f"head {self.header.head}")
            yield event


def _kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def import_log(log: EventLog, lines: Iterable[str | bytes]) -> Header:
    """Import the export in ``lines`` (text, or UTF-8 bytes: then a line that is not UTF-8
    is bad JSON, named by its number) into the empty ``log`` (one transaction: on an error
    nothing is kept); ImportFileError naming the line for a bad file, ConflictError for a
    log that is not empty. Returns the file's header."""
    it = iter(lines)
    first = next(it, None)
    if first is None:
        raise ImportFileError("line 1: the file is empty (an export starts with its header line)")
    header = read_header(first)
    events = _Lines(it, header)
    try:
        log.import_events(_until_head(events), header.log_id)
    except (ImportFileError, ConflictError, UnsupportedBackendError):
        raise  # already name their line, or are not about one (a log that is not empty)
    except InvalidArgumentError as e:  # the log refused an event: the latest pulled, unless it says which
        index = getattr(e, "event_index", None)
        raise ImportFileError(f"line {events.line if index is None else index + 1}: {e}") from None
    return header


def _until_head(events: _Lines) -> Iterator[pb.Event]:
    """The events, then a check that the file held all the header announced (a cut file)."""
    last = 0
    for event in events:
        last = event.index
        yield event
    if last != events.header.head:
        raise ImportFileError(f"line {events.line}: the file ends at event index {last}, but its header says "
                              f"the log had {events.header.head} events (a truncated export?)")


# -- verify -----------------------------------------------------------------


@dataclass
class Report:
    """What ``verify_log`` found: counts, and the first ``limit`` differences in words."""

    limit: int
    events: int = 0
    rows: int = 0
    differences: list[str] = field(default_factory=list)
    more: int = 0  # differences found beyond ``limit``
    #: The head when the comparison ended, if appends moved it past the replayed head: the
    #: stored rows may then be ahead of the replay, and differences not conclusive.
    moved_to: int | None = None

    @property
    def consistent(self) -> bool:
        return not self.differences

    def add(self, text: str) -> None:
        if len(self.differences) < self.limit:
            self.differences.append(text)
        else:
            self.more += 1


class _ReplayedRows:
    """A ReadModelTx over plain dicts: the read models rebuilt from the events alone."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.terms: dict[tuple[str, str], tuple[Term, ...]] = {}

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Row]:
        return {key: self.rows[(kind, key)] for key in keys if (kind, key) in self.rows}

    def put_many(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self.rows[(row.kind, row.key)] = Row(row.kind, row.key, row.status, row.body)
            if row.terms is not None:
                self.terms[(row.kind, row.key)] = tuple(sorted(set(row.terms)))


class _SeenIds:
    """Event ids seen so far, in a temporary SQLite file: a repeat is found with bounded
    memory however long the log."""

    def __init__(self) -> None:
        fd, self._path = tempfile.mkstemp(prefix="databuild-verify-", suffix=".sqlite3")
        os.close(fd)
        self._db = sqlite3.connect(self._path)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE ids (event_id TEXT PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID")

    def repeats(self, events: Sequence[pb.Event]) -> list[tuple[pb.Event, int]]:
        """Each of ``events`` whose id an earlier event had, with that earlier index."""
        found = []
        for event in events:
            try:
                self._db.execute("INSERT INTO ids VALUES (?, ?)", (event.event_id, event.index))
            except sqlite3.IntegrityError:
                (first,) = self._db.execute("SELECT idx FROM ids WHERE event_id = ?", (event.event_id,)).fetchone()
                found.append((event, first))
        return found

    def close(self) -> None:
        self._db.close()
        os.unlink(self._path)


#: Decodes a row body of a kind for comparison and description (the state layer's messages).
Decoder = Callable[[str, bytes], object]


def verify_log(log: EventLog, limit: int = 20, decode: Decoder | None = None) -> Report:
    """Replay ``log`` through fresh copies of its projections in memory and compare with its
    stored read models (rows, statuses, bodies and terms); check the indices run 1..head
    without a gap and the event ids are unique. ``decode`` (kind, body) -> message lets two
    bodies that serialize differently but mean the same compare equal, and names the fields
    that differ. At most ``limit`` differences are described; the rest are counted."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgumentError(f"the number of differences to show must be a positive integer, got {limit!r}")
    report = Report(limit)
    replayed = _ReplayedRows()
    head = log.head().index
    seen = _SeenIds()
    try:
        since = 0
        while since < head:
            page = log.list_events(since, limit=PAGE)
            events = [e for e in page.events if e.index <= head]
            if not events:
                break
            for event in events:
                expected = report.events + 1
                if event.index != expected:
                    report.add(f"index gap: event {event.index} follows event {report.events}"
                               f" (indices {expected}..{event.index - 1} are missing)")
                report.events = event.index
            for event, first in seen.repeats(events):
                report.add(f"event id {event.event_id} is at index {first} and again at index {event.index}")
            for projection in log.projections:
                projection.apply(replayed, events)
            since = events[-1].index
        if report.events != head:
            report.add(f"the log's head is {head}, but its events end at index {report.events}")
    finally:
        seen.close()
    for projection in log.projections:
        for kind in projection.kinds:
            _compare_kind(log, kind, replayed, report, decode)
    now = log.head().index
    if now != head:
        report.moved_to = now
    return report


def _compare_kind(log: EventLog, kind: str, replayed: _ReplayedRows, report: Report, decode: Decoder | None) -> None:
    """Walk the stored rows of ``kind`` in key order against the replayed ones (taking each
    replayed row out as it is matched: what is left was never stored)."""
    after: str | None = None
    while True:
        rows = log.query_rows(RowQuery(kind, after_key=after, limit=PAGE))
        if not rows:
            break
        stored_terms = log.get_terms(kind, [r.key for r in rows])
        for row in rows:
            report.rows += 1
            want = replayed.rows.pop((kind, row.key), None)
            want_terms = replayed.terms.pop((kind, row.key), ())
            if want is None:
                report.add(f"{kind} {row.key}: stored, but no event makes it")
                continue
            if row.status != want.status:
                report.add(f"{kind} {row.key}: stored status {row.status}, the events give {want.status}")
            if row.body != want.body:
                difference = _body_difference(kind, row.body, want.body, decode)
                if difference:
                    report.add(f"{kind} {row.key}: {difference}")
            got_terms = stored_terms.get(row.key, ())
            if got_terms != want_terms:
                missing = sorted(set(want_terms) - set(got_terms))
                extra = sorted(set(got_terms) - set(want_terms))
                report.add(f"{kind} {row.key}: index terms differ: missing {_terms(missing)}, extra {_terms(extra)}")
        after = rows[-1].key
        if len(rows) < PAGE:
            break
    for (k, key) in [id for id in replayed.rows if id[0] == kind]:
        del replayed.rows[(k, key)]
        replayed.terms.pop((k, key), None)
        report.add(f"{kind} {key}: the events make it, but it is not stored")


def _terms(terms: Sequence[Term]) -> str:
    return ", ".join(f"{name}={value}" for name, value in terms) or "none"


def _body_difference(kind: str, stored: bytes, replayed: bytes, decode: Decoder | None) -> str:
    """Words for how two row bodies differ; "" if they decode to equal messages."""
    if decode is None:
        return f"stored body ({len(stored)} bytes) differs from the one the events give ({len(replayed)} bytes)"
    try:
        got = decode(kind, stored)
    except DataBuildError as e:
        return f"stored body cannot be decoded: {e}"
    want = decode(kind, replayed)
    if got == want:
        return ""
    fields = getattr(want, "DESCRIPTOR", None)
    names = [f.name for f in fields.fields if getattr(got, f.name) != getattr(want, f.name)] if fields else []
    return f"stored body differs from the one the events give in {', '.join(names) or 'its encoding'}"
