"""The web dashboard the service serves at ``/`` (docs/dashboard.md).

Server-rendered pages (Jinja2, ``templates/``) over ``DataBuildService`` methods, kept
current by htmx and its idiomorph extension, vendored in ``static/`` (no build step, no
CDN: every asset comes from the service). ``pages.py`` declares the pages, ``routes.py``
serves them and the forms' actions, ``auth.py`` decides who may read and act.
"""

from __future__ import annotations

from databuild.service.dashboard.auth import Auth
from databuild.service.dashboard.routes import dashboard_routes

__all__ = ["Auth", "dashboard_routes"]
