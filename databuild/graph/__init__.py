"""Graph definitions: the manifest `databuild_graph` writes and its validation."""

from databuild.graph.manifest import (
    GraphSpec, InvalidManifestError, JobSpec, LookupSpec, UpstreamSpec, load_manifest, parse_manifest,
)

__all__ = ["GraphSpec", "InvalidManifestError", "JobSpec", "LookupSpec", "UpstreamSpec", "load_manifest", "parse_manifest"]
