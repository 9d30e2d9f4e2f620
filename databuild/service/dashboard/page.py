"""What every dashboard page is made of: ``Page`` (route, template, context function)
and ``View`` (one request as a context function sees it).

A context function runs on a worker thread and calls service methods only (never the
store), with bounded pages: lists are keyset pages (``after`` = the service's
``next_page_token``) of at most ``LIST_LIMIT`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from google.protobuf.message import Message

from databuild.proto.jsonmap import message_dict
from databuild.service.core import DataBuildService
from databuild.service.dashboard.forms import WantForm
from databuild.service.dashboard.graphviz import DotRenderer

#: Rows per page of a list.
LIST_LIMIT = 50


def doc(message: Message) -> dict:
    """``message`` as the JSON contract's document, what templates are given."""
    return message_dict(message)


@dataclass
class View:
    """One request as a context function sees it."""

    service: DataBuildService
    query: Mapping[str, str]
    path_params: Mapping[str, str]
    now_us: int
    can_write: bool
    #: Draws the pages' graphs (cached per dashboard).
    pictures: DotRenderer
    #: Set by an action that re-renders its page (a form with errors).
    form: WantForm | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """A page: ``path`` (a Starlette route), ``templates/<name>.html``, its context."""

    name: str
    path: str
    title: str
    context: Callable[[View], dict]
    #: Label in the navigation bar; empty: not listed (detail pages).
    nav: str = ""
    #: Re-rendered live (docs/dashboard.md#live-updates); forms-only pages are not.
    live: bool = True


def _doc(message: Message) -> dict:
    return message_dict(message)
