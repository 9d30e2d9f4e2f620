"""Graph definitions: the manifest `databuild_graph` writes, its validation, and where its upstreams are."""

from databuild.graph.manifest import (
    GraphSpec, InvalidManifestError, JobSpec, LookupSpec, TriggerSpec, UpstreamSpec, load_manifest, parse_manifest,
)
from databuild.graph.upstreams import parse_upstream_overrides, resolve_upstreams

__all__ = ["GraphSpec", "InvalidManifestError", "JobSpec", "LookupSpec", "TriggerSpec", "UpstreamSpec", "load_manifest",
           "parse_manifest", "parse_upstream_overrides", "resolve_upstreams"]
