"""`databuild_trigger`: wants created on a schedule or when partitions land."""

load(":common.bzl", "label_str", "optional_duration")
load(":cron.bzl", "cron_problem")
load(":fields.bzl", "check_fields", "on_template_captures", "partitions_template_problem", "timezone_problem")
load(":providers.bzl", "DataBuildTriggerInfo")

_NAME_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_NAME_CHARS = _NAME_START + "_.-"

def name_problem(name):
    """None if `name` can name a trigger (in firing ids, `triggers fire NAME` and URL paths), else why not.

    As databuild.graph.manifest: an ASCII letter or digit, then letters, digits, `_`, `.` and `-`.
    """
    if not name or name[0] not in _NAME_START:
        return "name %r must start with an ASCII letter or digit" % name
    for c in name.elems():
        if c not in _NAME_CHARS:
            return "name %r may only hold ASCII letters, digits, _, . and -" % name
    return None

def _captures(owner, on):
    """The fields every `on` template captures (a firing by any of them provides those)."""
    captures = None
    for template in on:
        names, problem = on_template_captures(template)
        if problem:
            fail("%s: %s" % (owner, problem))
        captures = names if captures == None else [n for n in captures if n in names]
    return captures or []

def _check_kind(owner, attr):
    if (attr.cron != "") == bool(attr.on):
        fail(("%s: give either cron = \"...\" (a schedule) or on = [...] (ref templates of partitions " +
              "that fire it when they land)%s") % (owner, ", not both" if attr.cron else ""))
    if bool(attr.partitions) == (attr.binary != None):
        fail(("%s: give either partitions = [...] (templates of the refs each firing wants) or " +
              "binary = \"...\" (a trigger binary that answers them)%s") %
             (owner, ", not both" if attr.partitions else ""))
    if attr.run_timeout and attr.binary == None:
        fail("%s: timeout %r limits calls of the trigger binary, and there is no binary" % (owner, attr.run_timeout))

def _databuild_trigger_impl(ctx):
    label = label_str(ctx.label)
    owner = "databuild_trigger " + label
    attr = ctx.attr
    problem = name_problem(ctx.label.name)
    if problem:
        fail("%s: %s (it names the trigger in commands, URLs and firing ids)" % (owner, problem))
    _check_kind(owner, attr)
    if attr.cron:
        problem = cron_problem(attr.cron)
        if problem:
            fail("%s: cron %r: %s" % (owner, attr.cron, problem))
    problem = timezone_problem(attr.timezone)
    if problem:
        fail("%s: %s" % (owner, problem))
    captures = _captures(owner, attr.on)
    for template in attr.partitions:
        problem = partitions_template_problem(template, captures)
        if problem:
            fail("%s: %s" % (owner, problem))
    if attr.data_timestamp:
        _, problem = check_fields(attr.data_timestamp, captures, "data_timestamp")
        if problem:
            fail("%s: %s" % (owner, problem))
    if attr.max_catchup < 0:
        fail("%s: max_catchup %d must be 0 or more (how many missed ticks to fire after downtime)" %
             (owner, attr.max_catchup))

    executable = None
    runfiles = ctx.runfiles()
    if attr.binary:
        binary = attr.binary[DefaultInfo]
        executable = binary.files_to_run.executable
        runfiles = ctx.runfiles(files = [executable]).merge(binary.default_runfiles)
    return [
        DataBuildTriggerInfo(
            name = ctx.label.name,
            label = label,
            cron = attr.cron,
            timezone = attr.timezone,
            on = list(attr.on),
            partitions = list(attr.partitions),
            executable = executable,
            runfiles = runfiles,
            ttl_seconds = optional_duration(owner, "ttl", attr.ttl) or 0,
            sla_seconds = optional_duration(owner, "sla", attr.sla) or 0,
            data_timestamp = attr.data_timestamp,
            max_catchup = attr.max_catchup,
            timeout_seconds = optional_duration(owner, "timeout", attr.run_timeout),
            comment = attr.comment,
        ),
        DefaultInfo(files = depset([executable] if executable else []), runfiles = runfiles),
    ]

# The rule behind the `databuild_trigger` macro, which maps `timeout` (a name Bazel reserves for tests).
_databuild_trigger = rule(
    implementation = _databuild_trigger_impl,
    doc = "A DataBuild trigger; see the databuild_trigger macro.",
    attrs = {
        "cron": attr.string(
            doc = "Schedule: 5 fields (minute hour day-of-month month day-of-week) or 6 (second first); croniter's syntax without H and R.",
        ),
        "timezone": attr.string(
            doc = "IANA time zone the schedule and the tick fields are read in.",
            default = "UTC",
        ),
        "on": attr.string_list(
            doc = "Ref templates (`raw/{date}/*`): fires when a matching partition becomes available.",
        ),
        "partitions": attr.string_list(
            doc = "Templates of the refs each firing wants (`reports/daily/{date-1d}`).",
        ),
        "binary": attr.label(
            doc = "Executable speaking the trigger protocol, instead of `partitions`.",
            executable = True,
            cfg = "target",
        ),
        "ttl": attr.string(doc = "TTL of the wants (a duration); empty for the graph's default_ttl."),
        "sla": attr.string(doc = "SLA of the wants (a duration); empty for the graph's default_sla."),
        "data_timestamp": attr.string(doc = "Template of the wants' data timestamp; empty for the tick time."),
        "max_catchup": attr.int(doc = "Most missed ticks fired after downtime (the newest).", default = 1),
        "run_timeout": attr.string(doc = "The `timeout` of the databuild_trigger macro."),
        "comment": attr.string(doc = "Comment of the wants it creates."),
    },
    provides = [DataBuildTriggerInfo],
)

def databuild_trigger(name, timeout = "", **kwargs):
    """A DataBuild trigger: creates wants on a schedule (`cron`) or when partitions land (`on`).

    List it in a `databuild_graph`'s `triggers`. Provides DataBuildTriggerInfo. See
    docs/bazel-rules.md for the attributes and what is checked at `bazel build`.

    Args:
      name: the target name, which is the trigger's name: an ASCII letter or digit, then
        letters, digits, `_`, `.` and `-`.
      timeout: limit of each call of `binary` (`30s`); empty for 60 s.
      **kwargs: `cron` or `on`; `partitions` or `binary`; `timezone`, `ttl`, `sla`,
        `data_timestamp`, `max_catchup`, `comment`, and the attributes every rule has.
    """
    _databuild_trigger(name = name, run_timeout = timeout, **kwargs)
