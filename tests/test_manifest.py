"""Loading the graph manifest: limits fall back from job to graph to DataBuild's defaults."""

from __future__ import annotations

import pytest

from databuild.graph import GraphSpec, InvalidManifestError, JobSpec, parse_manifest
from databuild.graph.manifest import DEFAULT_CONFIG_TIMEOUT_SECONDS, DEFAULT_MAX_LOG_BYTES


def manifest(jobs=None, limits=None, lookup=None) -> dict:
    doc = {"version": 1, "label": "//g:g", "lookup": lookup,
           "jobs": jobs or [{"label": "//g:a", "executable": "a", "outputs": ["a/*"]}]}
    if limits is not None:
        doc["limits"] = limits
    return doc


def test_without_limits_the_defaults_apply():
    graph = parse_manifest(manifest())
    (job,) = graph.jobs
    assert (job.timeout_seconds, job.config_timeout_seconds) == (0, DEFAULT_CONFIG_TIMEOUT_SECONDS)
    assert graph.max_log_bytes == DEFAULT_MAX_LOG_BYTES == 64 << 20


def test_a_job_limit_overrides_the_graphs_and_the_lookup_has_the_graphs_config_timeout():
    graph = parse_manifest(manifest(
        jobs=[{"label": "//g:a", "executable": "a", "outputs": [], "timeout_seconds": 7200,
               "config_timeout_seconds": None},
              {"label": "//g:b", "executable": "b", "outputs": [], "config_timeout_seconds": 5}],
        limits={"job_timeout_seconds": 600, "config_timeout_seconds": 30, "max_log_bytes": 1 << 20},
        lookup={"label": "//g:lookup", "executable": "l"}))
    assert [(j.timeout_seconds, j.config_timeout_seconds) for j in graph.jobs] == [(7200, 30), (600, 5)]
    assert graph.lookup.timeout_seconds == 30 and graph.max_log_bytes == 1 << 20


@pytest.mark.parametrize("where, field, value, message", [
    ("job", "timeout_seconds", "2h", "job //g:a: timeout_seconds must be a positive number, got '2h'"),
    ("job", "config_timeout_seconds", 0, "job //g:a: config_timeout_seconds must be a positive number, got 0"),
    ("limits", "config_timeout_seconds", -1, "job //g:a: config_timeout_seconds must be a positive number, got -1"),
    ("limits", "max_log_bytes", 1.5, "graph //g:g: max_log_bytes must be a positive integer, got 1.5"),
    ("limits", "max_log_bytes", True, "graph //g:g: max_log_bytes must be a positive integer, got True"),
])
def test_a_bad_limit_names_its_owner_and_value(where, field, value, message):
    doc = manifest(limits={})
    (doc["jobs"][0] if where == "job" else doc["limits"])[field] = value
    with pytest.raises(InvalidManifestError) as info:
        parse_manifest(doc)
    assert str(info.value) == message


def test_limits_must_be_an_object():
    with pytest.raises(InvalidManifestError, match="field 'limits' must be a dict"):
        parse_manifest(manifest(limits=[]))


def test_a_graph_made_in_python_is_checked_too():
    with pytest.raises(InvalidManifestError, match="job //g:a: timeout_seconds must be a positive number"):
        GraphSpec("//g:g", (JobSpec("//g:a", "a", ("a/*",), timeout_seconds=-5),))


def upstream(name="ingest", url="http://ingest:8100", patterns=("ingest/raw/*",)) -> dict:
    return {"name": name, "label": f"//u:{name}", "url": url, "patterns": list(patterns)}


def test_upstreams_are_loaded_without_a_token():
    doc = manifest()
    doc["upstreams"] = [upstream()]
    (up,) = parse_manifest(doc).upstreams
    assert (up.name, up.label, up.url, up.patterns, up.token) == (
        "ingest", "//u:ingest", "http://ingest:8100", ("ingest/raw/*",), "")


@pytest.mark.parametrize("upstreams, message", [
    ([upstream(patterns=("a/x",))],
     "graph //g:g: upstream 'ingest': pattern 'a/x' overlaps output pattern 'a/*' of //g:a (a partition must have one owner)"),
    ([upstream(), upstream("other", patterns=("ingest/**",))],
     "graph //g:g: upstream 'other': pattern 'ingest/**' overlaps pattern 'ingest/raw/*' of upstream 'ingest' (a partition must have one owner)"),
    ([upstream(), upstream()], "graph //g:g lists upstream 'ingest' twice"),
    ([upstream(url="ingest:8100")], "graph //g:g: upstream 'ingest': url 'ingest:8100' must be an http:// or https:// URL"),
    ([upstream(patterns=())], "graph //g:g: upstream 'ingest' declares no patterns"),
])
def test_a_bad_upstream_is_refused_on_load(upstreams, message):
    doc = manifest()
    doc["upstreams"] = upstreams
    with pytest.raises(InvalidManifestError) as info:
        parse_manifest(doc)
    assert str(info.value) == message


def test_two_patterns_of_one_upstream_may_overlap():
    doc = manifest()
    doc["upstreams"] = [upstream(patterns=("ingest/raw/*", "ingest/**"))]
    assert parse_manifest(doc).upstreams[0].patterns == ("ingest/raw/*", "ingest/**")
