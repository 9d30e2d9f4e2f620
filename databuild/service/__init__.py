"""The service: one interface (``DataBuildService``) used in-process and over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from databuild.service.core import DataBuildService

__all__ = ["DataBuildService"]


def __getattr__(name: str):
    # Loaded on first use: a CLI call over HTTP needs the client, never the service's
    # storage stack (peewee, SQLite, the state folds), so it does not pay their import.
    if name == "DataBuildService":
        from databuild.service.core import DataBuildService
        return DataBuildService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
