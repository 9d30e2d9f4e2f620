"""The dashboard's routes: its pages (``pages.PAGES``), its actions (POST forms), its assets.

Every page answers a plain GET with the whole HTML document. The page then keeps itself
current (``static/dashboard.js``): it asks for itself again with ``live=<index>``, the
event log's index it was rendered at; that request waits, holding no thread, until the
log moved past the index (or ``LIVE_WAIT_S`` passed), and answers the page rendered anew,
which htmx's idiomorph extension morphs into the document without touching what the user
is typing. One request per update, one per ``LIVE_WAIT_S`` while nothing happens.

Actions (``actions.ACTIONS``, and the want form's create) are POSTs of urlencoded forms,
each checked for the write token (or the sign-in's, for the sign-in itself none) and the
session's CSRF token; they answer a redirect (303, Post/Redirect/Get) or the form again
with the error by its field and the error's status. Errors answer an HTML page with the error's status and message,
or the API's error document to a client that does not accept HTML.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

import anyio.to_thread
import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from databuild.errors import DataBuildError, InvalidArgumentError, UnauthorizedError, error_document
from databuild.proto import databuild_pb2 as pb
from databuild.service.core import FOREIGN_WRITER_CHECK_S, DataBuildService
from databuild.service.dashboard.actions import ACTIONS, Action, ActionRequest
from databuild.service.dashboard.auth import COOKIE, Auth
from databuild.service.dashboard.forms import read_want_form
from databuild.service.dashboard.graphviz import DotRenderer
from databuild.service.dashboard.jobruns import log_follow_handler
from databuild.service.dashboard.page import Page, View
from databuild.service.dashboard.pages import BY_NAME, PAGES
from databuild.service.dashboard.view import make_environment
from databuild.service.http_input import read_body

HERE = Path(__file__).resolve().parent
#: Longest a live request waits for the log to move before answering the page as it is.
LIVE_WAIT_S = 25.0
#: Where the vendored scripts and the stylesheet are served.
STATIC = "/static"


class AppendWaiter:
    """Waits on the event loop for the log to pass an index: the API's ``AppendSignal``
    (``service/http.py``), which appends in this process set, with a look at the log every
    ``FOREIGN_WRITER_CHECK_S`` for writers elsewhere."""

    def __init__(self, service: DataBuildService, signal) -> None:
        self.service, self.signal = service, signal

    async def head(self) -> int:
        return (await anyio.to_thread.run_sync(self.service.health)).latest_event_index

    async def past(self, since: int, timeout: float) -> int:
        """The log's head once it is past ``since``, or at the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self.signal.waiting(()):
            while True:
                woken = self.signal.current()  # before reading: an append after the read sets it
                head = await self.head()
                left = deadline - loop.time()
                if head > since or left <= 0:
                    return head
                await self.signal.wait(woken, min(left, FOREIGN_WRITER_CHECK_S))


def _local_path(target: str) -> str:
    """``target`` if it is a path on this site (no scheme, no host), else ``/``: a sign-in's
    ``next`` must not send the user elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def dashboard_routes(service: DataBuildService, auth: Auth, signal) -> list[BaseRoute]:
    """The dashboard's routes over ``service``; ``signal`` is the API's ``AppendSignal``."""
    env = make_environment(jinja2.FileSystemLoader(HERE / "templates"))
    waiter = AppendWaiter(service, signal)
    pictures = DotRenderer()
    nav = [p for p in PAGES if p.nav]

    def render(page: Page, request: Request, view: View, head: int) -> str:
        context = page.context(view)
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "live"]
        # An action re-rendering its page (an error) was POSTed elsewhere: the page follows its own
        # path, made of those of the action's path parameters the page's route takes.
        path = request.url.path
        if request.method != "GET":
            route = page_routes[page.name]
            path = str(route.url_path_for(page.name, **{k: v for k, v in request.path_params.items()
                                                        if k in route.param_convertors}))
        live_url = path + "?" + urlencode([*query, ("live", str(head))]) if page.live else ""
        return env.get_template(f"{page.name}.html").render(
            page=page, nav=nav, title=page.title, graph=service.graph.label, csrf=auth.csrf_token(request),
            signed_in=auth.signed_in(request), can_write=view.can_write, asks_for_tokens=auth.asks_for_tokens,
            now_us=view.now_us, live_url=live_url, path=path,
            action_error=view.extra.get("action_error", ""),
            here=path + (f"?{urlencode(query)}" if query else ""), **context)

    async def respond(page: Page, request: Request, status: int = 200, form=None, **extra) -> Response:
        """``page`` rendered for ``request`` (on a worker thread: contexts query the log)."""
        head = await waiter.head()  # read before the context: an event after it triggers the next update
        view = View(service, {k: v for k, v in request.query_params.items() if k != "live"}, request.path_params,
                    service.clock_us(), auth.allowed(request, writes=True), pictures, form, extra)
        body = await anyio.to_thread.run_sync(render, page, request, view, head)
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def error_page(request: Request, error: DataBuildError) -> Response:
        if "text/html" not in request.headers.get("accept", ""):
            return Response(_json(error_document(error)), status_code=error.http_status,
                            media_type="application/json")
        body = env.get_template("error.html").render(
            page=None, nav=nav, title="Error", graph=service.graph.label, csrf=auth.csrf_token(request),
            signed_in=auth.signed_in(request), can_write=False, asks_for_tokens=auth.asks_for_tokens,
            now_us=service.clock_us(), live_url="", path=request.url.path, here=request.url.path,
            error=error, status=error.http_status)
        return HTMLResponse(body, status_code=error.http_status)

    def guarded(handler: Callable[[Request], Awaitable[Response]], writes: bool) -> Callable:
        """``handler`` behind the token check (a reader without one is sent to sign in) and,
        for POSTs, the CSRF check; DataBuildErrors answered as error pages."""
        async def handle(request: Request) -> Response:
            try:
                try:
                    auth.check(request, writes)
                except UnauthorizedError:
                    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                        return RedirectResponse("/sign-in?" + urlencode({"next": str(request.url.path)}), 303)
                    raise
                return await handler(request)
            except DataBuildError as e:
                return error_page(request, e)
        return handle

    def page_route(page: Page) -> Route:
        async def show(request: Request) -> Response:
            since = request.query_params.get("live")
            if since is not None:
                if not since.isdigit():
                    raise InvalidArgumentError(f"live must be an event index (a whole number), got {since!r}")
                await waiter.past(int(since), LIVE_WAIT_S)
            # A live update may leave out what the page's own script keeps (data-live-keep).
            return await respond(page, request, live_update=since is not None)
        # The sign-in page is what a reader without a token is sent to: it needs none.
        handler = guarded(show, writes=False) if page.name != "sign_in" else _errors_as_pages(show, error_page)
        return Route(page.path, handler, methods=["GET"], name=page.name)

    async def form_of(request: Request) -> dict[str, str]:
        """The urlencoded body (within the API's body limit), its CSRF token checked."""
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            raise InvalidArgumentError(f"a dashboard form is sent as application/x-www-form-urlencoded, "
                                       f"got {kind or 'no content type'!r}")
        body = await read_body(request)
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidArgumentError("the form's body is not UTF-8") from None
        auth.check_csrf(request, form.get("csrf", ""))
        return form

    async def create_want(request: Request) -> Response:
        form = await form_of(request)
        typed, want = read_want_form(form, auth.source_name(request))
        if want is not None:
            try:
                created = await anyio.to_thread.run_sync(
                    service.create_wants, pb.CreateWantsRequest(wants=[want]))
            except InvalidArgumentError as e:
                typed.errors[""] = str(e)
            else:
                return RedirectResponse(f"/wants/{created.wants[0].spec.want_id}", 303)
        return await respond(BY_NAME["new_want"], request, 400, form=typed)

    def action_route(action: Action) -> Route:
        async def act(request: Request) -> Response:
            form = await form_of(request)
            done = ActionRequest(service, request.path_params, form, auth.source_name(request))
            try:
                target = await anyio.to_thread.run_sync(action.perform, done)
            except DataBuildError as e:  # an unknown id (404), a want already ended (409), a bad field (400)
                return await respond(BY_NAME[action.page], request, e.http_status, action_error=str(e))
            return RedirectResponse(target, 303)
        return Route(action.path, guarded(act, writes=True), methods=["POST"], name=action.name)

    async def sign_in(request: Request) -> Response:
        form = await form_of(request)
        target = _local_path(form.get("next", "/"))
        try:
            session = auth.sign_in(form.get("token", ""))
        except UnauthorizedError as e:
            return await respond(BY_NAME["sign_in"], request, e.http_status, error=str(e), next=target)
        response = RedirectResponse(target, 303)
        response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path="/")
        return response

    async def sign_out(request: Request) -> Response:
        await form_of(request)
        response = RedirectResponse("/", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # /wants/new before /wants/{want_id:path}, which would take "new" as an id.
    page_routes = {page.name: page_route(page) for page in PAGES}
    routes: list[BaseRoute] = list(page_routes.values())
    routes += [action_route(action) for action in ACTIONS]
    routes += [
        Route("/wants/new", guarded(create_want, writes=True), methods=["POST"], name="create_want"),
        Route("/sign-in", _errors_as_pages(sign_in, error_page), methods=["POST"], name="sign_in_post"),
        # The job run page's log follow (jobruns.py): the bytes after an offset, once written.
        Route("/job-runs/{job_run_id}/log", guarded(log_follow_handler(service, signal), writes=False),
              methods=["GET"], name="job_run_log"),
        Route("/sign-out", _errors_as_pages(sign_out, error_page), methods=["POST"], name="sign_out"),
        Mount(STATIC, app=_ReadGuard(StaticFiles(directory=HERE / "static"), auth), name="static"),
    ]
    return routes


def _errors_as_pages(handler: Callable[[Request], Awaitable[Response]],
                     error_page: Callable[[Request, DataBuildError], Response]) -> Callable:
    async def handle(request: Request) -> Response:
        try:
            return await handler(request)
        except DataBuildError as e:
            return error_page(request, e)
    return handle


class _ReadGuard:
    """The assets behind the read rule too: off loopback nothing is served without a token
    (the sign-in page is plain HTML and a form: it works before its script is loaded)."""

    def __init__(self, app, auth: Auth) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            if not self.auth.allowed(request, writes=False):
                error = UnauthorizedError("sign in to load the dashboard's assets")
                await Response(_json(error_document(error)), status_code=401, media_type="application/json")(
                    scope, receive, send)
                return
        await self.app(scope, receive, send)


def _json(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()
