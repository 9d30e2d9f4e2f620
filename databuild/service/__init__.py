"""The service: one interface (``DataBuildService``) used in-process and over HTTP."""

from databuild.service.core import DataBuildService

__all__ = ["DataBuildService"]
