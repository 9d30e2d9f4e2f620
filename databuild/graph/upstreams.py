"""Where a graph's upstreams are at run time: BUILD file defaults and their overrides.

Deployments differ from BUILD files, so an upstream's URL and token are resolved when
the service starts, each from the first of:

1. ``serve --upstream NAME=URL`` (URL only);
2. the environment: ``DATABUILD_UPSTREAM_<NAME>_URL`` and ``DATABUILD_UPSTREAM_<NAME>_TOKEN``,
   ``<NAME>`` being the upstream's name upper-cased with every character other than
   ``A-Z`` and ``0-9`` written ``_`` (``raw-events`` -> ``DATABUILD_UPSTREAM_RAW_EVENTS_URL``);
   a variable set to the empty string counts as not set;
3. the ``databuild_upstream`` in the BUILD file (URL; no token).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable, Mapping

from databuild.errors import InvalidArgumentError
from databuild.graph.manifest import GraphSpec, UpstreamSpec, has_space_or_control, url_problem

ENV_PREFIX = "DATABUILD_UPSTREAM_"


def env_name(upstream: str) -> str:
    """The ``<NAME>`` of an upstream's environment variables: upper-cased, other characters as ``_``."""
    return re.sub(r"[^A-Z0-9]", "_", upstream.upper())


def url_variable(upstream: str) -> str:
    """``DATABUILD_UPSTREAM_<NAME>_URL`` of ``upstream``."""
    return f"{ENV_PREFIX}{env_name(upstream)}_URL"


def token_variable(upstream: str) -> str:
    """``DATABUILD_UPSTREAM_<NAME>_TOKEN`` of ``upstream``."""
    return f"{ENV_PREFIX}{env_name(upstream)}_TOKEN"


def parse_upstream_overrides(values: Iterable[str]) -> dict[str, str]:
    """``["NAME=URL", ...]`` (the ``--upstream`` flags) as ``{NAME: URL}``.

    InvalidArgumentError naming the value if one has no ``=`` or no name, or a name is given twice.
    """
    overrides: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name:
            raise InvalidArgumentError(f"--upstream {value!r} must be NAME=URL, e.g. ingest=http://ingest:8100")
        if name in overrides:
            raise InvalidArgumentError(f"--upstream {name!r} is given twice")
        overrides[name] = url
    return overrides


def resolve_upstreams(graph: GraphSpec, overrides: Mapping[str, str], environ: Mapping[str, str]) -> GraphSpec:
    """``graph`` with each upstream's ``url`` and ``token`` resolved: ``overrides``
    (``{name: url}``, from ``--upstream``) beat ``environ`` beats the BUILD file.

    InvalidArgumentError if an override names no upstream of the graph, a resolved URL
    is not http(s) (naming where it came from), a token holds whitespace or control
    characters (naming the variable, never the token), or two upstreams' names give one
    environment variable that is set.
    """
    names = {u.name for u in graph.upstreams}
    unknown = sorted(set(overrides) - names)
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise InvalidArgumentError(f"--upstream {unknown[0]!r}: graph {graph.label} has no such upstream "
                                   f"(its upstreams: {known})")
    _check_unambiguous(graph, environ)
    return replace(graph, upstreams=tuple(_resolve(u, overrides, environ) for u in graph.upstreams))


def _resolve(upstream: UpstreamSpec, overrides: Mapping[str, str], environ: Mapping[str, str]) -> UpstreamSpec:
    url, source = upstream.url, f"the BUILD file ({upstream.label or upstream.name})"
    if environ.get(url_variable(upstream.name)):
        url, source = environ[url_variable(upstream.name)], url_variable(upstream.name)
    if upstream.name in overrides:
        url, source = overrides[upstream.name], f"--upstream {upstream.name}"
    problem = url_problem(url)
    if problem:
        raise InvalidArgumentError(f"upstream {upstream.name!r}: url {url!r} from {source} {problem}")
    token = environ.get(token_variable(upstream.name), "")
    if has_space_or_control(token):
        raise InvalidArgumentError(f"upstream {upstream.name!r}: {token_variable(upstream.name)} "
                                   "holds whitespace or a control character")
    return replace(upstream, url=url, token=token)


def _check_unambiguous(graph: GraphSpec, environ: Mapping[str, str]) -> None:
    """Two upstreams spelled alike (``raw-events``, ``raw_events``) cannot share a set variable."""
    by_env: dict[str, str] = {}
    for upstream in graph.upstreams:
        other = by_env.setdefault(env_name(upstream.name), upstream.name)
        if other == upstream.name:
            continue
        for variable in (url_variable(upstream.name), token_variable(upstream.name)):
            if environ.get(variable):
                raise InvalidArgumentError(f"{variable} is ambiguous: it names both upstream {other!r} and "
                                           f"{upstream.name!r}; rename one of them or use --upstream NAME=URL")
