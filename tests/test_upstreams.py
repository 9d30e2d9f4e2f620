"""Where a graph's upstreams are at run time: --upstream beats the environment beats the BUILD file."""

from __future__ import annotations

import pytest

from databuild.errors import InvalidArgumentError
from databuild.graph import GraphSpec, JobSpec, UpstreamSpec, parse_upstream_overrides, resolve_upstreams
from databuild.graph.upstreams import env_name, token_variable, url_variable

BUILD_URL = "http://ingest.build:8100"
GRAPH = GraphSpec("//r:reports", (JobSpec("//r:daily", "d", ("reports/daily/*",)),), upstreams=(
    UpstreamSpec("ingest", "//i:ingest", BUILD_URL, ("ingest/raw/*",)),
    UpstreamSpec("raw-events.v2", "//e:raw", "https://events.build", ("events/**",)),
))


def resolved(overrides=None, environ=None) -> dict[str, tuple[str, str]]:
    graph = resolve_upstreams(GRAPH, overrides or {}, environ or {})
    return {u.name: (u.url, u.token) for u in graph.upstreams}


@pytest.mark.parametrize("overrides, environ, ingest", [
    ({}, {}, (BUILD_URL, "")),
    ({}, {"DATABUILD_UPSTREAM_INGEST_URL": "http://env:1"}, ("http://env:1", "")),
    ({}, {"DATABUILD_UPSTREAM_INGEST_TOKEN": "s3cret"}, (BUILD_URL, "s3cret")),
    ({"ingest": "http://flag:2"}, {}, ("http://flag:2", "")),
    ({"ingest": "http://flag:2"}, {"DATABUILD_UPSTREAM_INGEST_URL": "http://env:1",
                                   "DATABUILD_UPSTREAM_INGEST_TOKEN": "t"}, ("http://flag:2", "t")),
    ({}, {"DATABUILD_UPSTREAM_INGEST_URL": ""}, (BUILD_URL, "")),  # empty: not set
    ({}, {"DATABUILD_UPSTREAM_ingest_URL": "http://env:1"}, (BUILD_URL, "")),  # the name is upper-cased
    ({}, {"DATABUILD_UPSTREAM_OTHER_URL": "http://env:1"}, (BUILD_URL, "")),  # another graph's: ignored
])
def test_flag_beats_environment_beats_build(overrides, environ, ingest):
    result = resolved(overrides, environ)
    assert result["ingest"] == ingest
    assert result["raw-events.v2"] == ("https://events.build", "")  # the other upstream keeps its BUILD URL


def test_other_characters_of_the_name_become_underscores():
    assert env_name("raw-events.v2") == "RAW_EVENTS_V2"
    assert (url_variable("raw-events.v2"), token_variable("raw-events.v2")) == (
        "DATABUILD_UPSTREAM_RAW_EVENTS_V2_URL", "DATABUILD_UPSTREAM_RAW_EVENTS_V2_TOKEN")
    assert resolved(environ={"DATABUILD_UPSTREAM_RAW_EVENTS_V2_URL": "http://e:3",
                             "DATABUILD_UPSTREAM_RAW_EVENTS_V2_TOKEN": "tok"})["raw-events.v2"] == ("http://e:3", "tok")


def test_the_graph_is_otherwise_unchanged_and_the_token_never_printed():
    graph = resolve_upstreams(GRAPH, {}, {"DATABUILD_UPSTREAM_INGEST_TOKEN": "s3cret"})
    assert graph.jobs == GRAPH.jobs and graph.label == GRAPH.label
    assert [u.patterns for u in graph.upstreams] == [u.patterns for u in GRAPH.upstreams]
    assert "s3cret" not in repr(graph) and "s3cret" not in repr(graph.upstreams[0])
    assert GRAPH.upstreams[0].token == ""  # the input is not modified


@pytest.mark.parametrize("overrides, environ, message", [
    ({"ingset": "http://x:1"}, {},
     "--upstream 'ingset': graph //r:reports has no such upstream (its upstreams: ingest, raw-events.v2)"),
    ({"ingest": "ftp://x"}, {}, "upstream 'ingest': url 'ftp://x' from --upstream ingest must be an http://"),
    ({"ingest": "http://"}, {}, "upstream 'ingest': url 'http://' from --upstream ingest must be an http://"),
    ({}, {"DATABUILD_UPSTREAM_INGEST_URL": "ingest:8100"},
     "upstream 'ingest': url 'ingest:8100' from DATABUILD_UPSTREAM_INGEST_URL must be an http://"),
    ({}, {"DATABUILD_UPSTREAM_INGEST_URL": "http://a b"}, "from DATABUILD_UPSTREAM_INGEST_URL must be an http://"),
    ({}, {"DATABUILD_UPSTREAM_INGEST_TOKEN": "s3cret\n"},
     "upstream 'ingest': DATABUILD_UPSTREAM_INGEST_TOKEN holds whitespace or a control character"),
])
def test_a_bad_override_is_an_invalid_argument_naming_it(overrides, environ, message):
    with pytest.raises(InvalidArgumentError) as info:
        resolve_upstreams(GRAPH, overrides, environ)
    assert message in str(info.value)
    assert "s3cret" not in str(info.value)


def test_an_unknown_override_of_a_graph_without_upstreams():
    graph = GraphSpec("//g:g", (JobSpec("//g:a", "a", ("a/*",)),))
    assert resolve_upstreams(graph, {}, {"DATABUILD_UPSTREAM_X_URL": "http://x"}) == graph
    with pytest.raises(InvalidArgumentError, match=r"has no such upstream \(its upstreams: none\)"):
        resolve_upstreams(graph, {"x": "http://x"}, {})


def test_two_names_with_one_variable_are_ambiguous_only_when_it_is_set():
    graph = GraphSpec("//g:g", (JobSpec("//g:a", "a", ("a/*",)),), upstreams=(
        UpstreamSpec("raw-events", "//e:a", "http://a", ("a_up/*",)),
        UpstreamSpec("raw_events", "//e:b", "http://b", ("b_up/*",)),
    ))
    assert [u.url for u in resolve_upstreams(graph, {"raw_events": "http://c"}, {}).upstreams] == [
        "http://a", "http://c"]
    with pytest.raises(InvalidArgumentError, match="DATABUILD_UPSTREAM_RAW_EVENTS_URL is ambiguous: it names "
                                                   "both upstream 'raw-events' and 'raw_events'"):
        resolve_upstreams(graph, {}, {"DATABUILD_UPSTREAM_RAW_EVENTS_URL": "http://c"})


def test_parse_upstream_flags():
    assert parse_upstream_overrides(["ingest=http://h:1/a=b", "x=https://y"]) == {
        "ingest": "http://h:1/a=b", "x": "https://y"}
    for bad, message in [("ingest", "must be NAME=URL"), ("=http://h", "must be NAME=URL")]:
        with pytest.raises(InvalidArgumentError, match=message):
            parse_upstream_overrides([bad])
    with pytest.raises(InvalidArgumentError, match="--upstream 'a' is given twice"):
        parse_upstream_overrides(["a=http://1", "a=http://2"])
