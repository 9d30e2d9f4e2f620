"""Loading the graph manifest: limits fall back from job to graph to DataBuild's defaults; upstreams and
triggers are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from databuild.graph import GraphSpec, InvalidManifestError, JobSpec, TriggerSpec, parse_manifest
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


def test_persistent_config_is_a_flag_off_unless_set():
    graph = parse_manifest(manifest(jobs=[
        {"label": "//g:a", "executable": "a", "outputs": ["a/*"], "persistent_config": True},
        {"label": "//g:b", "executable": "b", "outputs": ["b/*"], "persistent_config": None},
        {"label": "//g:c", "executable": "c", "outputs": ["c/*"]}]))
    assert [j.persistent_config for j in graph.jobs] == [True, False, False]
    with pytest.raises(InvalidManifestError, match="job '//g:a': field 'persistent_config' must be true or false, got 1"):
        parse_manifest(manifest(jobs=[{"label": "//g:a", "executable": "a", "outputs": ["a/*"], "persistent_config": 1}]))


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


def trigger(**fields) -> dict:
    doc = {"name": "daily", "label": "//g:daily", "cron": "0 2 * * *", "timezone": "Europe/Amsterdam", "on": [],
           "partitions": ["a/{date-1d}"], "executable": None, "ttl_seconds": 86400, "sla_seconds": 0,
           "data_timestamp": "{date-1d}", "max_catchup": 2, "timeout_seconds": None, "comment": "yesterday"}
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not ...}


def with_triggers(*triggers) -> dict:
    doc = manifest()
    doc["triggers"] = list(triggers)
    return doc


def test_triggers_are_loaded_with_their_defaults():
    reactive = trigger(name="on_raw", label="//g:on_raw", cron=None, on=["raw/{day}/*"], partitions=[],
                       executable="pkg/on_raw_bin", data_timestamp="", timeout_seconds=30, max_catchup=...,
                       timezone=..., comment=...)
    daily, on_raw = parse_manifest(with_triggers(trigger(), reactive), Path("/runfiles")).triggers
    assert daily == TriggerSpec("daily", "//g:daily", cron="0 2 * * *", timezone="Europe/Amsterdam",
                                partitions=("a/{date-1d}",), ttl_seconds=86400, data_timestamp="{date-1d}",
                                max_catchup=2, timeout_seconds=DEFAULT_CONFIG_TIMEOUT_SECONDS, comment="yesterday")
    assert on_raw == TriggerSpec("on_raw", "//g:on_raw", on=("raw/{day}/*",), executable="/runfiles/pkg/on_raw_bin",
                                 ttl_seconds=86400, timeout_seconds=30)
    assert parse_manifest(manifest()).triggers == ()


@pytest.mark.parametrize("fields, message", [
    ({"on": ["raw/{date}"]}, "needs either a cron or on templates, not both"),
    ({"cron": None}, "needs either a cron or on templates"),
    ({"executable": "bin"}, "needs either partitions or an executable, not both"),
    ({"partitions": []}, "needs either partitions or an executable"),
    ({"cron": "0 25 * * *"}, "invalid cron '0 25 * * *': [0 25 * * *] is not acceptable, out of range"),
    ({"cron": "0 0 2 * * * 2030"}, "invalid cron '0 0 2 * * * 2030': has 7 fields; write 5"),
    ({"cron": "R 2 * * *"}, "invalid cron 'R 2 * * *': field 'r': hashed (H) and random (R) values are not supported"),
    ({"cron": "0 2 31 4 *"}, "invalid cron '0 2 31 4 *': [0 2 31 4 *] is not acceptable. Day(s) [31] can never occur"),
    ({"timezone": "Europe/Nowhere"},
     "timezone 'Europe/Nowhere' is not an IANA time zone name such as UTC or Europe/Amsterdam"),
    ({"cron": None, "on": ["raw/{date}"], "timezone": "../UTC"}, "timezone '../UTC' is not an IANA time zone name"),
    ({"cron": None, "on": ["raw/{date-1d}"]},
     "on template 'raw/{date-1d}': field 'date' has an offset; an on template captures fields as they are"),
    ({"cron": None, "on": ["raw/{day}/{day}"]}, "on template 'raw/{day}/{day}': ref template 'raw/{day}/{day}' "
                                                 "names a field twice"),
    ({"partitions": ["a/{day}"]}, "partitions template 'a/{day}': field 'day' is neither a tick field "
                                  "(date, hour, minute, datetime) nor captured by an on template"),
    ({"cron": None, "on": ["raw/{day}/{color}", "late/{day}"], "partitions": ["a/{color}"]},
     "partitions template 'a/{color}': field 'color' is neither a tick field (date, hour, minute, datetime) "
     "nor captured by every on template (day)"),
    ({"cron": None, "on": ["raw/{date}"], "partitions": ["a/{date+1d}"]},
     "partitions template 'a/{date+1d}': field 'date' has an offset, which only the tick fields date, hour, minute, "
     "datetime may have (it is a captured field here)"),
    ({"partitions": ["a/{date-1 day}"]}, "partitions template 'a/{date-1 day}': offset of {date-1 day}: "
                                         "invalid duration '1 day'"),
    ({"partitions": ["a/{date"]}, "partitions template 'a/{date': '{' at position 2 is not part of a {field}"),
    ({"partitions": ["a" * 1006 + "{datetime}"]}, "once filled in it is 1025 characters, more than 1024"),
    # Non-ASCII whitespace: what the Starlark check lets through (docs/bazel-rules.md).
    ({"partitions": ["a\u00a0{date}"]},
     "partitions template 'a\\xa0{date}': once filled in it 'a\\xa02025-01-01' contains whitespace"),
    ({"data_timestamp": "{day}"}, "data_timestamp '{day}': field 'day' is neither a tick field"),
    ({"ttl_seconds": -1}, "ttl_seconds must be an integer of 0 or more, got -1"),
    ({"max_catchup": -3}, "max_catchup must be an integer of 0 or more, got -3"),
    ({"timeout_seconds": 0}, "timeout_seconds must be a positive number, got 0"),
    ({"name": "a/b"}, "name 'a/b' may only hold ASCII letters, digits, _, . and -"),
    ({"name": "_x"}, "name '_x' must start with an ASCII letter or digit"),
])
def test_a_bad_trigger_is_refused_on_load_naming_it_and_the_value(fields, message):
    name = fields.get("name", "daily")
    with pytest.raises(InvalidManifestError) as info:
        parse_manifest(with_triggers(trigger(**fields)))
    prefix = f"graph //g:g: trigger {name!r}: "
    assert str(info.value).startswith(prefix) and message in str(info.value), str(info.value)


@pytest.mark.parametrize("triggers, message", [
    ([trigger(), trigger()], "graph //g:g lists trigger 'daily' twice"),
    (["daily"], "//g:g: each of 'triggers' must be an object, got 'daily'"),
    ([trigger(cron=5)], "//g:g trigger 'daily': field 'cron' must be a str, got 5"),
    ([trigger(on="raw/*")], "//g:g trigger 'daily': field 'on' must be a list, got 'raw/*'"),
    ([trigger(max_catchup=True)], "//g:g trigger 'daily': field 'max_catchup' must be a int, got True"),
    ([trigger(timeout_seconds="30s")],
     "//g:g trigger 'daily': field 'timeout_seconds' must be a int or float, got '30s'"),
    ([trigger(label=...)], "//g:g trigger 'daily': field 'label' must be a str, got None"),
])
def test_a_malformed_triggers_list_is_refused(triggers, message):
    with pytest.raises(InvalidManifestError) as info:
        parse_manifest(with_triggers(*triggers))
    assert str(info.value) == message


def test_triggers_of_a_graph_made_in_python_are_checked_too():
    with pytest.raises(InvalidManifestError, match="trigger 'x': needs either partitions or an executable"):
        GraphSpec("//g:g", (JobSpec("//g:a", "a", ("a/*",)),), triggers=(TriggerSpec("x", "//g:x", cron="@daily"),))


def test_the_executor_is_the_graphs_default_backend_none_unless_set():
    assert parse_manifest(manifest()).executor is None
    assert parse_manifest({**manifest(), "executor": None}).executor is None
    assert parse_manifest({**manifest(), "executor": "dask://h:8786"}).executor == "dask://h:8786"
    with pytest.raises(InvalidManifestError, match="field 'executor' must be a str, got 3"):
        parse_manifest({**manifest(), "executor": 3})
