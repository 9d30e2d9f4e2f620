"""Who a dashboard request is: sign-in sessions, CSRF tokens, and the API's token rules.

The dashboard asks what the API asks (docs/http-api.md#authentication), through the same
check (``http.check_given``): on a loopback bind reading needs no token; every action
needs the write token; off loopback reading needs the read-only or the write token. A
browser cannot send a bearer header on a link, so the token is pasted once on the
sign-in page and the session cookie stands for it:

- the cookie is ``<role>.<nonce>.<mac>``, ``role`` ``write`` or ``read``, the MAC an
  HMAC-SHA256 with the app's secret over the role, the nonce and the role's current
  token. It holds no token, and stops being valid when the token changes; it is
  HttpOnly (no script reads it) and SameSite=Strict (no other site's page sends it);
- every form carries a CSRF token, the HMAC of the session cookie (or of "anonymous"
  before sign-in), checked on every POST: a page elsewhere cannot read it, so it cannot
  forge the form even where the cookie would be sent;
- the secret is made when the app is (a restart signs everyone out; the daemon's
  token is new at every start anyway).

A request with an ``Authorization: Bearer`` header (a script reading a page) is checked
as the API checks it; its POSTs still need the CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from starlette.requests import Request

from databuild.errors import ForbiddenError, UnauthorizedError
from databuild.service.http import check_given

COOKIE = "databuild_session"
WRITE, READ = "write", "read"


@dataclass(frozen=True)
class Auth:
    """The service's tokens and the rules of its bind; ``secret`` signs sessions and CSRF tokens."""

    token: str | None
    read_token: str | None
    loopback_only: bool
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    # -- sessions -----------------------------------------------------------------

    def _role_token(self, role: str) -> str | None:
        return {WRITE: self.token, READ: self.read_token}.get(role)

    def _mac(self, *parts: str) -> str:
        return hmac.new(self.secret, "\0".join(parts).encode(), hashlib.sha256).hexdigest()

    def sign_in(self, pasted: str) -> str:
        """The session cookie's value for a pasted token; UnauthorizedError if it is neither token."""
        given = pasted.strip()
        for role in (WRITE, READ):
            token = self._role_token(role)
            if token and hmac.compare_digest(given.encode(), token.encode()):
                nonce = secrets.token_hex(16)
                return f"{role}.{nonce}.{self._mac(role, nonce, token)}"
        raise UnauthorizedError("that is neither this service's write token nor its read-only token")

    def session_role(self, request: Request) -> str:
        """``write`` or ``read`` for a valid session cookie, else ``""``."""
        role, nonce, mac = (request.cookies.get(COOKIE, "").split(".") + ["", "", ""])[:3]
        token = self._role_token(role)
        if token and nonce and hmac.compare_digest(mac, self._mac(role, nonce, token)):
            return role
        return ""

    def _given(self, request: Request) -> bytes | None:
        """The token the request proves: its bearer header, else its session's role's token."""
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return bearer.strip().encode()
        token = self._role_token(self.session_role(request))
        return token.encode() if token else None

    # -- checks ---------------------------------------------------------------------

    def check(self, request: Request, writes: bool) -> None:
        """UnauthorizedError unless the request may read (or, ``writes``, act), as the API decides."""
        check_given(self._given(request), writes, self.token, self.read_token, self.loopback_only)

    def allowed(self, request: Request, writes: bool) -> bool:
        try:
            self.check(request, writes)
        except UnauthorizedError:
            return False
        return True

    def signed_in(self, request: Request) -> str:
        return self.session_role(request)

    def source_name(self, request: Request) -> str:
        """A want's ``source.name`` from the dashboard: the session's nonce, shortened (so the
        wants of one sign-in are told apart: ``source=dashboard:<name>``), or ``anonymous``."""
        role, nonce = (request.cookies.get(COOKIE, "").split(".") + ["", ""])[:2]
        return f"session-{nonce[:8]}" if self.session_role(request) else "anonymous"

    @property
    def asks_for_tokens(self) -> bool:
        """Whether signing in means anything here (a service with no token asks for none)."""
        return bool(self.token or self.read_token)

    # -- CSRF -----------------------------------------------------------------------

    def csrf_token(self, request: Request) -> str:
        """The token forms of this session carry."""
        return self._mac("csrf", request.cookies.get(COOKIE, "") or "anonymous")

    def check_csrf(self, request: Request, given: str) -> None:
        """ForbiddenError unless ``given`` is this session's CSRF token."""
        if not given or not hmac.compare_digest(given, self.csrf_token(request)):
            raise ForbiddenError("the form's CSRF token is missing or not this session's: reload the page and "
                                 "submit it again")
