"""The graph manifest: what `databuild_graph` writes at `bazel build` time.

JSON, one document::

    {"version": 1,
     "label": "//pkg:my_graph",
     "jobs": [{"label": "//pkg:ingest", "executable": "<runfiles path>", "outputs": ["raw/*"]}],
     "lookup": {"label": "//pkg:lookup", "executable": "<runfiles path>"} | null,
     "upstreams": [{"name": "raw_events", "label": "//pkg:raw_events",
                    "url": "http://127.0.0.1:8101", "patterns": ["raw/**"]}],
     "defaults": {"ttl_seconds": 0, "sla_seconds": 0}}

Executable paths are relative to the runfiles root of the graph binary; ``resolve``
turns them into absolute paths. Everything is validated on load so that a manifest
written by hand or by an older rule fails with a message naming the bad field.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from databuild.errors import InvalidArgumentError
from databuild.refs import compile_pattern, patterns_overlap

MANIFEST_VERSION = 1


class InvalidManifestError(InvalidArgumentError):
    """The graph manifest is missing, unreadable or inconsistent."""

    code = "invalid_manifest"


@dataclass(frozen=True)
class JobSpec:
    """One ``databuild_job``: its label, executable and declared output patterns."""

    label: str
    executable: str
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LookupSpec:
    label: str
    executable: str


@dataclass(frozen=True)
class UpstreamSpec:
    name: str
    label: str
    url: str
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class GraphSpec:
    """A graph: jobs, how refs map to jobs, and upstream graphs it reads from."""

    label: str
    jobs: tuple[JobSpec, ...]
    lookup: LookupSpec | None = None
    upstreams: tuple[UpstreamSpec, ...] = ()
    default_ttl_seconds: int = 0
    default_sla_seconds: int = 0
    jobs_by_label: dict[str, JobSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "jobs_by_label", {j.label: j for j in self.jobs})
        validate_graph(self)

    def job(self, label: str) -> JobSpec:
        """The job with ``label``; InvalidManifestError if the graph has none."""
        try:
            return self.jobs_by_label[label]
        except KeyError:
            raise InvalidManifestError(f"graph {self.label} has no job {label!r}") from None


def validate_graph(graph: GraphSpec) -> None:
    """Raise InvalidManifestError for duplicate jobs, overlapping outputs or no lookup."""
    if len(graph.jobs_by_label) != len(graph.jobs):
        raise InvalidManifestError(f"graph {graph.label} lists a job twice")
    if graph.lookup is None:
        without = [j.label for j in graph.jobs if not j.outputs]
        if without:
            raise InvalidManifestError(
                f"graph {graph.label} has no lookup and job(s) {', '.join(without)} declare no outputs"
            )
    declared = [(j.label, p) for j in graph.jobs for p in j.outputs]
    for label, pattern in declared:
        compile_pattern(pattern)
    for i, (label_a, a) in enumerate(declared):
        for label_b, b in declared[i + 1 :]:
            if patterns_overlap(a, b):
                raise InvalidManifestError(
                    f"graph {graph.label}: output patterns overlap: {a!r} of {label_a} and {b!r} of {label_b}"
                )


def _require(doc: dict, key: str, kind: type, where: str):
    value = doc.get(key)
    if not isinstance(value, kind):
        raise InvalidManifestError(f"{where}: field {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def parse_manifest(doc: object, base: Path | None = None) -> GraphSpec:
    """Build a GraphSpec from a decoded manifest; executables resolved against ``base``."""
    if not isinstance(doc, dict):
        raise InvalidManifestError(f"graph manifest must be a JSON object, got {type(doc).__name__}")
    if doc.get("version") != MANIFEST_VERSION:
        raise InvalidManifestError(f"graph manifest version {doc.get('version')!r} is not {MANIFEST_VERSION}")
    label = _require(doc, "label", str, "graph manifest")
    resolve = (lambda p: str(base / p)) if base is not None else (lambda p: p)
    jobs = []
    for job in _require(doc, "jobs", list, label):
        where = f"{label} job {job.get('label')!r}" if isinstance(job, dict) else label
        jobs.append(JobSpec(
            _require(job, "label", str, where),
            resolve(_require(job, "executable", str, where)),
            tuple(_require(job, "outputs", list, where)),
        ))
    lookup = doc.get("lookup")
    if lookup is not None:
        lookup = LookupSpec(_require(lookup, "label", str, f"{label} lookup"),
                            resolve(_require(lookup, "executable", str, f"{label} lookup")))
    upstreams = tuple(
        UpstreamSpec(_require(u, "name", str, label), u.get("label", ""), _require(u, "url", str, label),
                     tuple(_require(u, "patterns", list, label)))
        for u in doc.get("upstreams", [])
    )
    defaults = doc.get("defaults", {})
    return GraphSpec(label, tuple(jobs), lookup, upstreams,
                     int(defaults.get("ttl_seconds", 0)), int(defaults.get("sla_seconds", 0)))


def load_manifest(path: str | os.PathLike, runfiles: str | os.PathLike | None = None) -> GraphSpec:
    """Read the manifest at ``path``; executables are relative to ``runfiles``."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InvalidManifestError(f"cannot read graph manifest {path}: {e}") from None
    return parse_manifest(doc, Path(runfiles) if runfiles is not None else None)
