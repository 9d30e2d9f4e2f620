"""Providers of the DataBuild rules.

Other rules can consume them, e.g. a rule that needs a graph's manifest reads
`DataBuildGraphInfo.manifest`.
"""

DataBuildJobInfo = provider(
    doc = "A DataBuild job: an executable implementing the job protocol (`config` / `exec`).",
    fields = {
        "label": "string: the job's label as written in graph manifests and lookup answers, e.g. `//pkg:ingest` (`@repo//pkg:ingest` for a job in another repository).",
        "executable": "File: the job's executable (the wrapped binary's executable).",
        "runfiles": "runfiles: everything the executable needs at run time (the wrapped binary's runfiles).",
        "outputs": "list of string: partition patterns the job declares it produces; empty when the graph's lookup maps refs to this job.",
        "timeout_seconds": "int or None: the job's `timeout` in seconds (a run past it is killed and fails); None: the graph's `job_timeout` applies.",
        "config_timeout_seconds": "int or None: the job's `config_timeout` in seconds (limit of each `config` call); None: the graph's `config_timeout` applies.",
        "persistent_config": "bool: the binary answers `config --persistent` (one process per plan, asked line by line).",
    },
)

DataBuildUpstreamInfo = provider(
    doc = "Another DataBuild graph whose partitions this graph consumes, reached over HTTP.",
    fields = {
        "name": "string: the upstream's name (the target name), unique within a graph.",
        "label": "string: the upstream target's label, e.g. `//pkg:raw_events`.",
        "url": "string: default base URL of the upstream graph's service; overridable at run time.",
        "patterns": "list of string: partition patterns of that graph this graph consumes.",
    },
)

DataBuildGraphInfo = provider(
    doc = "A DataBuild graph: its manifest and the jobs it is made of.",
    fields = {
        "label": "string: the graph's label, e.g. `//pkg:my_graph`.",
        "manifest": "File: the graph manifest JSON (format: databuild/graph/manifest.py).",
        "jobs": "list of DataBuildJobInfo: the graph's jobs, in declaration order.",
        "upstreams": "list of DataBuildUpstreamInfo: the graph's upstreams, in declaration order.",
        "triggers": "list of DataBuildTriggerInfo: the graph's triggers, in declaration order.",
        "limits": "dict, the manifest's `limits`: `job_timeout_seconds`, `config_timeout_seconds` (int seconds) and `max_log_bytes` (int); None where the graph sets none and DataBuild's default applies.",
    },
)

DataBuildTriggerInfo = provider(
    doc = "A DataBuild trigger: what creates wants on a schedule (`cron`) or when partitions land (`on`). Validated when built.",
    fields = {
        "name": "string: the trigger's name (the target name), unique within a graph: `triggers fire NAME`, the wants' source `scheduled:NAME` / `triggered:NAME`.",
        "label": "string: the trigger target's label, e.g. `//pkg:daily_report`.",
        "cron": "string: the schedule (5 fields, or 6 with seconds first); empty for a reactive trigger.",
        "timezone": "string: IANA time zone the schedule and the tick fields are read in, e.g. `UTC`, `Europe/Amsterdam`.",
        "on": "list of string: ref templates; the trigger fires when a matching partition becomes available. Empty for a schedule.",
        "partitions": "list of string: templates of the refs each firing wants; empty when `executable` decides.",
        "executable": "File or None: the trigger binary (`BIN fire TICK_TIME`, `BIN fire --partition REF`), exclusive with `partitions`.",
        "runfiles": "runfiles: what the trigger binary needs at run time (empty without one).",
        "ttl_seconds": "int: TTL of the wants it creates; 0 for the graph's default_ttl.",
        "sla_seconds": "int: SLA of the wants it creates; 0 for the graph's default_sla.",
        "data_timestamp": "string: template of the wants' data timestamp; empty for the tick time (or when the partition became available).",
        "max_catchup": "int: most missed ticks fired after downtime (the newest ones); the rest are recorded as skipped.",
        "timeout_seconds": "int or None: limit of each call of the trigger binary; None for DataBuild's default (60 s).",
        "comment": "string: the comment of the wants it creates (may be empty).",
    },
)
