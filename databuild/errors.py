"""Named errors shared by every layer.

Each carries a short machine-readable ``code`` so the service can map it to an HTTP
status and ``{"error": {"code", "message"}}`` body, and the CLI to exit code 2.
"""

from __future__ import annotations


class DataBuildError(Exception):
    """Base of every error DataBuild raises on purpose."""

    code = "databuild_error"


class InvalidArgumentError(DataBuildError, ValueError):
    """A caller passed a value that is not acceptable (the message names it)."""

    code = "invalid_argument"


class NotFoundError(InvalidArgumentError):
    """An id or ref names nothing the event log knows."""

    code = "not_found"


class InvalidRefError(InvalidArgumentError):
    """A partition ref or pattern is empty, too long, or contains whitespace."""

    code = "invalid_ref"


class InvalidEventError(InvalidArgumentError):
    """An event lacks its payload or a required field; nothing was written."""

    code = "invalid_event"


class InvalidUriError(InvalidArgumentError):
    """A BEL URI names no known backend or is malformed."""

    code = "invalid_uri"


class UnsupportedBackendError(DataBuildError):
    """The BEL URI names a backend this build of DataBuild does not ship yet."""

    code = "unsupported_backend"


class SchemaTooNewError(DataBuildError):
    """The database was written by a newer DataBuild; opening it would corrupt it."""

    code = "schema_too_new"


class EventLogBusyError(DataBuildError):
    """Another writer held the event log for longer than the configured timeout."""

    code = "event_log_busy"


class EventLogClosedError(DataBuildError):
    """The event log was used after ``close()``."""

    code = "event_log_closed"


class AppendConflictError(DataBuildError):
    """A conditional append found that the log had moved on (nothing was written)."""

    code = "append_conflict"
