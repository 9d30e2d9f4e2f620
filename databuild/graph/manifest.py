"""The graph manifest: what `databuild_graph` writes at `bazel build` time.

JSON, one document::

    {"version": 1,
     "label": "//pkg:my_graph",
     "jobs": [{"label": "//pkg:ingest", "executable": "<runfiles path>", "outputs": ["raw/*"],
               "timeout_seconds": 7200 | null, "config_timeout_seconds": 30 | null,
               "persistent_config": false}],
     "lookup": {"label": "//pkg:lookup", "executable": "<runfiles path>"} | null,
     "upstreams": [{"name": "raw_events", "label": "//pkg:raw_events",
                    "url": "http://127.0.0.1:8101", "patterns": ["raw/**"]}],
     "triggers": [{"name": "daily_report", "label": "//pkg:daily_report",
                   "cron": "0 2 * * *" | null, "timezone": "Europe/Amsterdam",
                   "on": ["raw/{date}"], "partitions": ["reports/daily/{date-1d}"],
                   "executable": "<runfiles path>" | null, "ttl_seconds": 86400 | 0,
                   "sla_seconds": 21600 | 0, "data_timestamp": "{date-1d}" | "",
                   "max_catchup": 1, "timeout_seconds": 30 | null, "comment": ""}],
     "defaults": {"ttl_seconds": 0, "sla_seconds": 0},
     "limits": {"job_timeout_seconds": 7200 | null, "config_timeout_seconds": 60 | null,
                "max_log_bytes": 67108864 | null},
     "executor": "dask://scheduler:8786" | null}

``executor`` is the graph's default execution backend of job runs ("local" or
``dask://HOST:PORT``; null: local); ``--executor`` and ``DATABUILD_EXECUTOR`` override it,
and the service validates it when it starts.

Executable paths are relative to the runfiles root of the graph binary; ``resolve``
turns them into absolute paths. Everything is validated on load so that a manifest
written by hand or by an older rule fails with a message naming the bad field.

A limit that is null or absent falls back: a job's ``timeout_seconds`` and
``config_timeout_seconds`` to the graph's ``limits``, those to DataBuild's defaults
(no job timeout, DEFAULT_CONFIG_TIMEOUT_SECONDS, DEFAULT_MAX_LOG_BYTES). The lookup's
calls have the graph's ``config_timeout_seconds``. The loaded specs hold the values
that apply.

A trigger has exactly one of ``cron`` (a schedule: ``databuild.triggers.cron.check_cron``)
and ``on`` (ref templates), and exactly one of ``partitions`` (templates) and
``executable``; its templates may name the fields of ``databuild.triggers.fields``.
``ttl_seconds`` / ``sla_seconds`` of 0 take the graph's defaults, a null or absent
``timeout_seconds`` is 60 s, and the timezone must be one ``zoneinfo`` knows. The
``databuild_trigger`` rule checks the same at ``bazel build``, except that a zone exists.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from databuild.errors import InvalidArgumentError
from databuild.refs import compile_pattern, patterns_overlap
from databuild.triggers.cron import check_cron
from databuild.triggers.fields import check_fields, check_partitions_template, check_timezone, common_captures

MANIFEST_VERSION = 1
#: How long a `config` or lookup call may take unless the job or graph says otherwise.
DEFAULT_CONFIG_TIMEOUT_SECONDS = 60.0
#: How much of a job run's output its log keeps unless the graph says otherwise.
DEFAULT_MAX_LOG_BYTES = 64 << 20


class InvalidManifestError(InvalidArgumentError):
    """The graph manifest is missing, unreadable or inconsistent."""

    code = "invalid_manifest"


@dataclass(frozen=True)
class JobSpec:
    """One ``databuild_job``: its label, executable, declared output patterns and limits.

    ``timeout_seconds``: a run still running after it is killed and fails (0: no limit);
    ``config_timeout_seconds``: each ``config`` call's limit; ``persistent_config``: planning
    starts ``config --persistent`` once per plan and asks it line by line (docs/job-protocol.md).
    """

    label: str
    executable: str
    outputs: tuple[str, ...] = ()
    timeout_seconds: float = 0
    config_timeout_seconds: float = DEFAULT_CONFIG_TIMEOUT_SECONDS
    persistent_config: bool = False


@dataclass(frozen=True)
class LookupSpec:
    """The graph's lookup binary; ``timeout_seconds`` limits each call."""

    label: str
    executable: str
    timeout_seconds: float = DEFAULT_CONFIG_TIMEOUT_SECONDS


@dataclass(frozen=True)
class UpstreamSpec:
    """A ``databuild_upstream``: another graph's service and the partitions of it this graph consumes.

    ``url`` and ``token`` are what applies at run time once ``resolve_upstreams``
    has applied the overrides (``databuild.graph.upstreams``); the manifest holds only
    the BUILD file's URL and never a token. ``token`` is left out of ``repr``.
    """

    name: str
    label: str
    url: str
    patterns: tuple[str, ...]
    token: str = field(default="", repr=False)  # its feed's token, given at run time (never in BUILD files)


@dataclass(frozen=True)
class TriggerSpec:
    """A ``databuild_trigger``: what creates wants on a schedule or when data lands (docs/bazel-rules.md; the service runs them).

    Exactly one of ``cron`` (a schedule, read in ``timezone``) and ``on`` (ref templates:
    it fires when a matching partition becomes available, its ``{fields}`` captured);
    exactly one of ``partitions`` (ref templates of the refs each firing wants) and
    ``executable`` (a binary speaking the trigger protocol). ``ttl_seconds`` and
    ``sla_seconds`` of 0 take the graph's defaults; ``data_timestamp``, a template, empty
    for the tick time (or the time the partition became available); at most
    ``max_catchup`` missed ticks are fired after downtime, the rest recorded as skipped.
    """

    name: str
    label: str
    cron: str = ""
    timezone: str = "UTC"
    on: tuple[str, ...] = ()
    partitions: tuple[str, ...] = ()
    executable: str = ""
    ttl_seconds: int = 0
    sla_seconds: int = 0
    data_timestamp: str = ""
    max_catchup: int = 1
    timeout_seconds: float = DEFAULT_CONFIG_TIMEOUT_SECONDS  # of each call of ``executable``
    comment: str = ""


@dataclass(frozen=True)
class GraphSpec:
    """A graph: jobs, how refs map to jobs, and upstream graphs it reads from."""

    label: str
    jobs: tuple[JobSpec, ...]
    lookup: LookupSpec | None = None
    upstreams: tuple[UpstreamSpec, ...] = ()
    triggers: tuple[TriggerSpec, ...] = ()
    default_ttl_seconds: int = 0
    default_sla_seconds: int = 0
    max_log_bytes: int = DEFAULT_MAX_LOG_BYTES  # of each job run's log; the rest is dropped and counted
    executor: str | None = None  # default backend of job runs (databuild.executor.backends); None: local
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


_TRIGGER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*", re.ASCII)


def trigger_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a trigger (it appears in firing ids, commands and URL paths), or None."""
    if not isinstance(name, str) or not name or not name[0].isascii() or not name[0].isalnum():
        return f"name {name!r} must start with an ASCII letter or digit"
    if not _TRIGGER_NAME.fullmatch(name):
        return f"name {name!r} may only hold ASCII letters, digits, _, . and -"
    return None


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def has_space_or_control(text: str) -> bool:
    """True if ``text`` holds whitespace or a control character (which URLs and tokens may not)."""
    return _SPACE_OR_CONTROL.search(text) is not None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an upstream's base URL, or None: it must be http(s) with a host."""
    try:
        parts = urlsplit(url)
    except ValueError as e:
        return f"is not a URL ({e})"
    if parts.scheme not in ("http", "https") or not parts.netloc or has_space_or_control(url):
        return "must be an http:// or https:// URL"
    return None


def validate_graph(graph: GraphSpec) -> None:
    """Raise InvalidManifestError for duplicate jobs, overlapping outputs, no lookup, a bad
    limit, an upstream that is invalid or shares a partition with another owner, or an
    invalid trigger."""
    if len(graph.jobs_by_label) != len(graph.jobs):
        raise InvalidManifestError(f"graph {graph.label} lists a job twice")
    _check_limits(graph)
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
    _check_upstreams(graph, declared)
    _check_triggers(graph)


def _check_upstreams(graph: GraphSpec, outputs: list[tuple[str, str]]) -> None:
    """Upstream names are unique, URLs http(s), and each partition has one owner: no
    upstream pattern overlaps a job's outputs or another upstream's patterns."""
    seen: set[str] = set()
    owned: list[tuple[str, str]] = []  # (upstream name, pattern) of the upstreams checked so far
    for upstream in graph.upstreams:
        where = f"graph {graph.label}: upstream {upstream.name!r}"
        if upstream.name in seen:
            raise InvalidManifestError(f"graph {graph.label} lists upstream {upstream.name!r} twice")
        seen.add(upstream.name)
        problem = url_problem(upstream.url)
        if problem:
            raise InvalidManifestError(f"{where}: url {upstream.url!r} {problem}")
        if not upstream.patterns:
            raise InvalidManifestError(f"{where} declares no patterns")
        for pattern in upstream.patterns:
            compile_pattern(pattern)
            for label, output in outputs:
                if patterns_overlap(pattern, output):
                    raise InvalidManifestError(
                        f"{where}: pattern {pattern!r} overlaps output pattern {output!r} of {label} "
                        "(a partition must have one owner)")
            for other, other_pattern in owned:
                if patterns_overlap(pattern, other_pattern):
                    raise InvalidManifestError(
                        f"{where}: pattern {pattern!r} overlaps pattern {other_pattern!r} of upstream {other!r} "
                        "(a partition must have one owner)")
        owned.extend((upstream.name, p) for p in upstream.patterns)


def _check_triggers(graph: GraphSpec) -> None:
    """Trigger names are valid and unique, and each trigger is valid (``check_trigger``)."""
    seen: set[str] = set()
    for trigger in graph.triggers:
        if trigger.name in seen:
            raise InvalidManifestError(f"graph {graph.label} lists trigger {trigger.name!r} twice")
        seen.add(trigger.name)
        try:
            check_trigger(trigger)
        except InvalidArgumentError as e:
            raise InvalidManifestError(f"graph {graph.label}: trigger {trigger.name!r}: {e}") from None


def check_trigger(trigger: TriggerSpec) -> None:
    """Raise InvalidArgumentError for what ``databuild_trigger`` refuses at ``bazel build``
    (and for an unknown time zone, which it cannot tell)."""
    problem = trigger_name_problem(trigger.name)
    if problem:
        raise InvalidArgumentError(problem)
    if bool(trigger.cron) == bool(trigger.on):
        raise InvalidArgumentError(f"needs either a cron or on templates{', not both' if trigger.on else ''}")
    if bool(trigger.partitions) == bool(trigger.executable):
        raise InvalidArgumentError(
            f"needs either partitions or an executable{', not both' if trigger.partitions else ''}")
    if trigger.cron:
        check_cron(trigger.cron, trigger.timezone)
    else:
        check_timezone(trigger.timezone)
    captures = common_captures(trigger.on)
    for template in trigger.partitions:
        check_partitions_template(template, captures)
    if trigger.data_timestamp:
        check_fields(trigger.data_timestamp, captures, "data_timestamp")
    for name in ("ttl_seconds", "sla_seconds", "max_catchup"):
        value = getattr(trigger, name)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise InvalidArgumentError(f"{name} must be an integer of 0 or more, got {value!r}")
    timeout = trigger.timeout_seconds
    if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and math.isfinite(timeout)
            and timeout > 0):
        raise InvalidArgumentError(f"timeout_seconds must be a positive number, got {timeout!r}")


def _check_limits(graph: GraphSpec) -> None:
    """Each limit is a positive number (a job's timeout may be 0: none); the log cap an integer."""
    limits = [(f"graph {graph.label}", "max_log_bytes", graph.max_log_bytes)]
    for job in graph.jobs:
        limits.append((f"job {job.label}", "config_timeout_seconds", job.config_timeout_seconds))
        if job.timeout_seconds != 0:
            limits.append((f"job {job.label}", "timeout_seconds", job.timeout_seconds))
    if graph.lookup is not None:
        limits.append((f"lookup {graph.lookup.label}", "timeout_seconds", graph.lookup.timeout_seconds))
    for where, name, value in limits:
        kinds = (int,) if name == "max_log_bytes" else (int, float)
        if not (isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
            kind = "integer" if kinds == (int,) else "number"
            raise InvalidManifestError(f"{where}: {name} must be a positive {kind}, got {value!r}")


def _or(doc: dict, key: str, fallback):
    """``doc[key]``, or ``fallback`` when it is null or absent."""
    value = doc.get(key)
    return fallback if value is None else value


def _require(doc: dict, key: str, kind: type, where: str):
    value = doc.get(key)
    if not isinstance(value, kind):
        raise InvalidManifestError(f"{where}: field {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _flag(doc: dict, key: str, where: str) -> bool:
    """``doc[key]`` if it is a bool, False when it is null or absent."""
    value = doc.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidManifestError(f"{where}: field {key!r} must be true or false, got {value!r}")
    return bool(value)


def _optional(doc: dict, key: str, kind: type | tuple[type, ...], fallback, where: str):
    """``doc[key]`` if it is a ``kind`` (not a bool), ``fallback`` when it is null or absent."""
    value = doc.get(key)
    if value is None:
        return fallback
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InvalidManifestError(f"{where}: field {key!r} must be a {names}, got {value!r}")
    return value


def _parse_trigger(doc: object, label: str, resolve) -> TriggerSpec:
    """A TriggerSpec from one entry of the manifest's ``triggers``; what it means is checked by validate_graph."""
    if not isinstance(doc, dict):
        raise InvalidManifestError(f"{label}: each of 'triggers' must be an object, got {doc!r}")
    name = _require(doc, "name", str, f"{label} trigger")
    where = f"{label} trigger {name!r}"
    executable = _optional(doc, "executable", str, "", where)
    return TriggerSpec(
        name, _require(doc, "label", str, where),
        cron=_optional(doc, "cron", str, "", where),
        timezone=_optional(doc, "timezone", str, "UTC", where),
        on=tuple(_optional(doc, "on", list, [], where)),
        partitions=tuple(_optional(doc, "partitions", list, [], where)),
        executable=resolve(executable) if executable else "",
        ttl_seconds=_optional(doc, "ttl_seconds", int, 0, where),
        sla_seconds=_optional(doc, "sla_seconds", int, 0, where),
        data_timestamp=_optional(doc, "data_timestamp", str, "", where),
        max_catchup=_optional(doc, "max_catchup", int, 1, where),
        timeout_seconds=_optional(doc, "timeout_seconds", (int, float), DEFAULT_CONFIG_TIMEOUT_SECONDS, where),
        comment=_optional(doc, "comment", str, "", where),
    )


def parse_manifest(doc: object, base: Path | None = None) -> GraphSpec:
    """Build a GraphSpec from a decoded manifest; executables resolved against ``base``."""
    if not isinstance(doc, dict):
        raise InvalidManifestError(f"graph manifest must be a JSON object, got {type(doc).__name__}")
    if doc.get("version") != MANIFEST_VERSION:
        raise InvalidManifestError(f"graph manifest version {doc.get('version')!r} is not {MANIFEST_VERSION}")
    label = _require(doc, "label", str, "graph manifest")
    resolve = (lambda p: str(base / p)) if base is not None else (lambda p: p)
    limits = doc.get("limits", {})
    if not isinstance(limits, dict):
        raise InvalidManifestError(f"{label}: field 'limits' must be a dict, got {limits!r}")
    job_timeout = _or(limits, "job_timeout_seconds", 0)
    config_timeout = _or(limits, "config_timeout_seconds", DEFAULT_CONFIG_TIMEOUT_SECONDS)
    jobs = []
    for job in _require(doc, "jobs", list, label):
        where = f"{label} job {job.get('label')!r}" if isinstance(job, dict) else label
        jobs.append(JobSpec(
            _require(job, "label", str, where),
            resolve(_require(job, "executable", str, where)),
            tuple(_require(job, "outputs", list, where)),
            _or(job, "timeout_seconds", job_timeout),
            _or(job, "config_timeout_seconds", config_timeout),
            _flag(job, "persistent_config", where),
        ))
    lookup = doc.get("lookup")
    if lookup is not None:
        lookup = LookupSpec(_require(lookup, "label", str, f"{label} lookup"),
                            resolve(_require(lookup, "executable", str, f"{label} lookup")), config_timeout)
    upstreams = tuple(
        UpstreamSpec(_require(u, "name", str, label), u.get("label", ""), _require(u, "url", str, label),
                     tuple(_require(u, "patterns", list, label)))
        for u in doc.get("upstreams", [])
    )
    triggers = tuple(_parse_trigger(t, label, resolve) for t in _optional(doc, "triggers", list, [], label))
    defaults = doc.get("defaults", {})
    return GraphSpec(label, tuple(jobs), lookup, upstreams, triggers,
                     default_ttl_seconds=int(defaults.get("ttl_seconds", 0)),
                     default_sla_seconds=int(defaults.get("sla_seconds", 0)),
                     max_log_bytes=_or(limits, "max_log_bytes", DEFAULT_MAX_LOG_BYTES),
                     executor=_optional(doc, "executor", str, None, label) or None)


def load_manifest(path: str | os.PathLike, runfiles: str | os.PathLike | None = None) -> GraphSpec:
    """Read the manifest at ``path``; executables are relative to ``runfiles``."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InvalidManifestError(f"cannot read graph manifest {path}: {e}") from None
    return parse_manifest(doc, Path(runfiles) if runfiles is not None else None)
