"""Named errors shared by every layer.

Each class carries what every front end needs to report it, declared once: a short
machine-readable ``code`` (the ``{"error": {"code", "message"}}`` body), the HTTP
status the service answers with, and the exit code of the CLI. The categories:

=====================  ======  ====  =========================================
category               HTTP    exit  meaning
=====================  ======  ====  =========================================
InvalidArgumentError   400     2     the request is wrong as given
UnauthorizedError      401     4     a token is missing or wrong
ForbiddenError         403     4     the request is not allowed from there
NotFoundError          404     2     an id or ref names nothing known
ConflictError          409     2     the state does not allow it (now)
LogResetError          410     2     a follower's log is gone: the log was replaced
TooLargeError          413     2     a body or a value is over a limit
JobProtocolError       422     1     a job or lookup binary failed or misbehaved
UnavailableError       503     3     storage or the service cannot serve now
=====================  ======  ====  =========================================

Exit code 1 is also a want that failed, expired or was cancelled; 130 a follow stopped.
"""

from __future__ import annotations


class DataBuildError(Exception):
    """Base of every error DataBuild raises on purpose."""

    code = "databuild_error"
    http_status = 500
    exit_code = 1


class InvalidArgumentError(DataBuildError, ValueError):
    """A caller passed a value that is not acceptable (the message names it)."""

    code = "invalid_argument"
    http_status = 400
    exit_code = 2


class NotFoundError(InvalidArgumentError):
    """An id or ref names nothing the event log knows."""

    code = "not_found"
    http_status = 404


class ConflictError(InvalidArgumentError):
    """The request is well-formed but the current state does not allow it."""

    code = "conflict"
    http_status = 409


class CursorDivergedError(ConflictError):
    """A feed cursor's event id differs from the event at its index: the log was
    restored from a copy that was written past the cursor."""

    code = "cursor_diverged"


class LogResetError(DataBuildError):
    """A feed request names a log that is not this one (another ``log_id``, or a cursor
    beyond its head): the log was replaced, so the follower must read it from the start."""

    code = "log_reset"
    http_status = 410
    exit_code = 2


class TooLargeError(InvalidArgumentError):
    """A request body or a batch is over the service's limit."""

    code = "too_large"
    http_status = 413


class InvalidRefError(InvalidArgumentError):
    """A partition ref or pattern is empty, too long, or contains whitespace."""

    code = "invalid_ref"


class InvalidEventError(InvalidArgumentError):
    """An event lacks its payload or a required field; nothing was written."""

    code = "invalid_event"


class InvalidUriError(InvalidArgumentError):
    """A BEL URI names no known backend or is malformed."""

    code = "invalid_uri"


class UnauthorizedError(DataBuildError):
    """The request needs a token (``Authorization: Bearer ...``) it did not carry."""

    code = "unauthorized"
    http_status = 401
    exit_code = 4


class ForbiddenError(DataBuildError):
    """The request is refused whatever its token (e.g. a foreign ``Host`` on a loopback bind)."""

    code = "forbidden"
    http_status = 403
    exit_code = 4


class UnsupportedBackendError(InvalidArgumentError):
    """The BEL URI names a backend this build of DataBuild does not ship yet."""

    code = "unsupported_backend"


class UnavailableError(DataBuildError):
    """Storage or the service cannot serve the request now; retrying later may work."""

    code = "unavailable"
    http_status = 503
    exit_code = 3


class StorageError(UnavailableError):
    """The event log cannot be read or written (disk full, read-only, replaced, corrupt)."""

    code = "storage_error"


class EventLogLostError(StorageError):
    """The event log's file was deleted or replaced under the open log: nothing more is recorded."""

    code = "event_log_lost"


class SchemaTooNewError(StorageError):
    """The database was written by a newer DataBuild; opening it would corrupt it."""

    code = "schema_too_new"


class EventLogBusyError(UnavailableError):
    """Another writer held the event log for longer than the configured timeout."""

    code = "event_log_busy"


class EventLogClosedError(UnavailableError):
    """The event log was used after ``close()``."""

    code = "event_log_closed"


class AppendConflictError(ConflictError):
    """A conditional append found that the log had moved on (nothing was written)."""

    code = "append_conflict"


class LeaseLostError(UnavailableError):
    """A leading replica lost its leader lease while alive (its database connection
    dropped): it stops, so that it decides nothing more, and is started again as a follower."""

    code = "lease_lost"


class ServiceUnavailableError(UnavailableError):
    """The service could not be reached, or its daemon could not be started."""

    code = "service_unavailable"


class DeclarationError(DataBuildError):
    """DataBuild's own declarations disagree (e.g. a proto event type without its
    declaration): a bug, raised at import so it cannot ship unnoticed."""

    code = "declaration_error"


def error_document(error: DataBuildError) -> dict:
    """The JSON body every non-2xx answer (and ``--json`` CLI error) carries."""
    return {"error": {"code": error.code, "message": str(error)}}
