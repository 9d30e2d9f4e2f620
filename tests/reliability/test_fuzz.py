"""Hostile and generated requests never get a 5xx, and every refusal has the error shape.

Schemathesis generates requests from the service's own OpenAPI document (valid and
invalid ones) and checks the answers against it; a body fuzzer sends raw bytes and
odd JSON to every route.
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from databuild.service.interface import OPERATIONS


@pytest.fixture(scope="module")
def api(shared_daemon):
    return schemathesis.openapi.from_url(f"{shared_daemon.url}/api/v1/openapi.json")


@pytest.mark.parametrize("name", [op.name for op in OPERATIONS])
def test_generated_requests_get_no_5xx_and_match_the_document(api, shared_daemon, name):
    operation = api.find_operation_by_id(name)

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode)))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call(headers=shared_daemon.auth, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if response.status_code >= 400:
            assert set(response.json()) == {"error"} and set(response.json()["error"]) == {"code", "message"}

    check()


def _json_values():
    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=4), max_leaves=20)


BODIES = st.one_of(
    st.binary(max_size=200),
    _json_values().map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["partitions", "refs", "wants", "reason", "comment", "ttl_seconds", "source",
                                     "data_timestamp", "since", "want_id", "requested_by"]),
                    _json_values(), max_size=4).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 60).map(lambda n: b"[" * n * 10 + b"]" * n * 10),
)
ROUTES = [(op.method, op.path.replace("{ref:path}", "raw/x").replace("{want_id:path}", "w")
           .replace("{want_id}", "w").replace("{build_id}", "b").replace("{job_run_id}", "j")) for op in OPERATIONS]


@given(route=st.sampled_from(ROUTES), body=BODIES, query=st.dictionaries(
    st.sampled_from(["since", "limit", "wait", "status", "pattern", "types", "after", "tail", "offset", "x"]),
    st.text(max_size=30), max_size=3))
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_bodies_and_queries_get_no_5xx(shared_daemon, route, body, query):
    method, path = route
    r = requests.request(method, shared_daemon.url + path, data=body, params=query, headers=shared_daemon.auth,
                         timeout=30)
    assert r.status_code < 500, (method, path, body[:100], query, r.text[:300])
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"code", "message"}
