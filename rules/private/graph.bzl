"""`databuild_graph`: jobs + lookup + upstreams -> the `<name>.build` command."""

load(":common.bzl", "label_str", "optional_duration", "runfiles_path", "shell_quote")
load(":durations.bzl", "parse_positive_duration")
load(":patterns.bzl", "patterns_overlap")
load(":providers.bzl", "DataBuildGraphInfo", "DataBuildJobInfo", "DataBuildTriggerInfo", "DataBuildUpstreamInfo")

_PY_TOOLCHAIN = "@bazel_tools//tools/python:toolchain_type"

# How the launcher finds `import databuild`: the runfiles directory holding this file.
_PACKAGE_INIT = "databuild/__init__.py"

def _jobs(ctx, graph):
    """The DataBuildJobInfo of every target in `jobs`, failing on anything else."""
    jobs = []
    for target in ctx.attr.jobs:
        if DataBuildJobInfo not in target:
            fail(("%s in the jobs of graph %s is not a databuild_job. Wrap the executable: " +
                  "databuild_job(name = \"...\", binary = \"%s\", outputs = [...]) and list that target instead.") %
                 (label_str(target.label), graph, label_str(target.label)))
        jobs.append(target[DataBuildJobInfo])
    return jobs

def _named_infos(targets, provider, kind, graph):
    """The ``provider`` of each of a graph's ``kind`` targets (upstream, trigger), names unique."""
    infos = []
    names = {}
    for target in targets:
        if provider not in target:
            fail("%s in the %ss of graph %s is not a databuild_%s" % (label_str(target.label), kind, graph, kind))
        info = target[provider]
        if info.name in names:
            fail("graph %s: %ss %s and %s have the same name %r; %s names must be unique within a graph" %
                 (graph, kind, names[info.name], info.label, info.name, kind))
        names[info.name] = info.label
        infos.append(info)
    return infos

def _trigger_doc(ctx, trigger):
    """The manifest entry of a trigger (format: databuild/graph/manifest.py)."""
    return {
        "name": trigger.name,
        "label": trigger.label,
        "cron": trigger.cron or None,
        "timezone": trigger.timezone,
        "on": trigger.on,
        "partitions": trigger.partitions,
        "executable": runfiles_path(ctx, trigger.executable) if trigger.executable else None,
        "ttl_seconds": trigger.ttl_seconds,
        "sla_seconds": trigger.sla_seconds,
        "data_timestamp": trigger.data_timestamp,
        "max_catchup": trigger.max_catchup,
        "timeout_seconds": trigger.timeout_seconds,
        "comment": trigger.comment,
    }

def _check_outputs(graph, jobs, has_lookup):
    if not has_lookup:
        without = [job.label for job in jobs if not job.outputs]
        if without:
            fail(("job %s declares no outputs and graph %s has no lookup: declare outputs = [...] on " +
                  "every job, or give the graph a lookup = \"...\" that maps refs to jobs") %
                 (", ".join(without), graph))
    declared = [(job.label, pattern) for job in jobs for pattern in job.outputs]
    overlaps = []
    for i, (label_a, a) in enumerate(declared):
        for label_b, b in declared[i + 1:]:
            if patterns_overlap(a, b):
                overlaps.append("  %r of %s and %r of %s" % (a, label_a, b, label_b))
    if overlaps:
        fail("graph %s: output patterns overlap (a partition must be produced by exactly one job):\n" % graph +
             "\n".join(overlaps))

def _check_upstreams(graph, jobs, upstreams):
    """Each partition has one owner: no upstream pattern overlaps a job's outputs or another upstream's patterns."""
    problems = []
    for i, upstream in enumerate(upstreams):
        for pattern in upstream.patterns:
            for job in jobs:
                for output in job.outputs:
                    if patterns_overlap(pattern, output):
                        problems.append("  upstream pattern %r of %s and output pattern %r of %s" %
                                        (pattern, upstream.label, output, job.label))
            for other in upstreams[i + 1:]:
                for other_pattern in other.patterns:
                    if patterns_overlap(pattern, other_pattern):
                        problems.append("  upstream pattern %r of %s and upstream pattern %r of %s" %
                                        (pattern, upstream.label, other_pattern, other.label))
    if problems:
        fail(("graph %s: upstream patterns overlap (a partition must have one owner: a job of this graph " +
              "or one upstream):\n") % graph + "\n".join(problems))

def _defaults(ctx, graph):
    """Default TTL and SLA in seconds; 0 (attribute left empty) means none."""
    out = {}
    for attr_name, key in [("default_ttl", "ttl_seconds"), ("default_sla", "sla_seconds")]:
        text = getattr(ctx.attr, attr_name)
        seconds, problem = parse_positive_duration(text) if text else (0, None)
        if problem:
            fail("graph %s: %s: %s" % (graph, attr_name, problem))
        out[key] = seconds
    return out

def _limits(ctx, graph):
    """The graph's limits for the manifest; None where the attribute is empty (DataBuild's default)."""
    owner = "graph " + graph
    if ctx.attr.max_log_bytes < 0:
        fail("%s: max_log_bytes %d must be a positive number of bytes (0 for the default, 64 MiB)" %
             (owner, ctx.attr.max_log_bytes))
    executor = ctx.attr.executor
    if executor not in ("", "local") and not executor.startswith("dask://"):
        fail("%s: executor %r is neither 'local' nor dask://HOST:PORT" % (owner, executor))
    return {
        "job_timeout_seconds": optional_duration(owner, "job_timeout", ctx.attr.job_timeout),
        "config_timeout_seconds": optional_duration(owner, "config_timeout", ctx.attr.config_timeout),
        "max_log_bytes": ctx.attr.max_log_bytes or None,
    }

def _python_package_dir(ctx):
    """Runfiles-relative directory to put on PYTHONPATH for `import databuild`."""
    for f in ctx.attr._databuild[DefaultInfo].files.to_list():
        path = runfiles_path(ctx, f)
        if path.endswith("/" + _PACKAGE_INIT):
            return path[:-len("/" + _PACKAGE_INIT)]
    fail("%s provides no %s; cannot build the graph command" % (ctx.attr._databuild.label, _PACKAGE_INIT))

def _python(ctx):
    """(absolute interpreter path, runfiles-relative interpreter path, runfiles) from the toolchain."""
    toolchain = ctx.toolchains[_PY_TOOLCHAIN]
    runtime = getattr(toolchain, "py3_runtime", None) if toolchain else None
    if runtime == None:
        return ("", "", ctx.runfiles())
    if runtime.interpreter_path:
        return (runtime.interpreter_path, "", ctx.runfiles())
    if runtime.interpreter:
        return ("", runfiles_path(ctx, runtime.interpreter), ctx.runfiles(
            files = [runtime.interpreter],
            transitive_files = runtime.files,
        ))
    return ("", "", ctx.runfiles())

def _databuild_graph_impl(ctx):
    graph = label_str(ctx.label)
    jobs = _jobs(ctx, graph)
    upstreams = _named_infos(ctx.attr.upstreams, DataBuildUpstreamInfo, "upstream", graph)
    triggers = _named_infos(ctx.attr.triggers, DataBuildTriggerInfo, "trigger", graph)
    lookup = ctx.attr.lookup
    _check_outputs(graph, jobs, lookup != None)
    _check_upstreams(graph, jobs, upstreams)
    defaults = _defaults(ctx, graph)
    limits = _limits(ctx, graph)

    runfiles = ctx.runfiles()
    for job in jobs:
        runfiles = runfiles.merge(job.runfiles)
    for trigger in triggers:
        runfiles = runfiles.merge(trigger.runfiles)
    lookup_doc = None
    if lookup:
        lookup_exe = lookup[DefaultInfo].files_to_run.executable
        lookup_doc = {"label": label_str(lookup.label), "executable": runfiles_path(ctx, lookup_exe)}
        runfiles = runfiles.merge(ctx.runfiles(files = [lookup_exe])).merge(lookup[DefaultInfo].default_runfiles)

    manifest = ctx.actions.declare_file(ctx.label.name + ".manifest.json")
    ctx.actions.write(
        output = manifest,
        content = json.encode({
            "version": 1,
            "label": graph,
            "jobs": [
                {
                    "label": job.label,
                    "executable": runfiles_path(ctx, job.executable),
                    "outputs": job.outputs,
                    "timeout_seconds": job.timeout_seconds,
                    "config_timeout_seconds": job.config_timeout_seconds,
                    "persistent_config": job.persistent_config,
                }
                for job in jobs
            ],
            "lookup": lookup_doc,
            "upstreams": [
                {"name": u.name, "label": u.label, "url": u.url, "patterns": u.patterns}
                for u in upstreams
            ],
            "triggers": [_trigger_doc(ctx, t) for t in triggers],
            "defaults": defaults,
            "limits": limits,
            "executor": ctx.attr.executor or None,
        }) + "\n",
    )

    python_abs, python_rel, python_runfiles = _python(ctx)
    launcher = ctx.actions.declare_file(ctx.label.name + ".build")
    ctx.actions.expand_template(
        template = ctx.file._launcher_template,
        output = launcher,
        substitutions = {
            "%{label}": graph,
            "%{manifest}": shell_quote(runfiles_path(ctx, manifest)),
            "%{pythonpath}": shell_quote(_python_package_dir(ctx)),
            "%{python_runfile}": shell_quote(python_rel),
            "%{python_path}": shell_quote(python_abs),
        },
        is_executable = True,
    )

    runfiles = runfiles.merge(ctx.runfiles(files = [manifest])) \
        .merge(ctx.attr._databuild[DefaultInfo].default_runfiles) \
        .merge(python_runfiles)
    return [
        DataBuildGraphInfo(
            label = graph,
            manifest = manifest,
            jobs = jobs,
            upstreams = upstreams,
            triggers = triggers,
            limits = limits,
        ),
        DefaultInfo(
            executable = launcher,
            files = depset([launcher, manifest]),
            runfiles = runfiles,
        ),
    ]

databuild_graph = rule(
    implementation = _databuild_graph_impl,
    doc = """A DataBuild graph. `bazel build //pkg:name` produces the command `bazel-bin/pkg/name.build`.

Analysis fails when a target in `jobs` is not a databuild_job, when output
patterns of the jobs overlap, when an upstream's pattern overlaps a job's outputs or
another upstream's patterns, when there is no lookup and some job declares no
outputs, when default_ttl / default_sla / job_timeout / config_timeout is not a
duration longer than zero, when max_log_bytes is negative, or when two triggers
have the same name (each databuild_trigger checks itself).""",
    attrs = {
        "jobs": attr.label_list(
            doc = "databuild_job targets making up the graph.",
            mandatory = True,
            allow_empty = False,
        ),
        "lookup": attr.label(
            doc = "Executable implementing the lookup protocol (`LOOKUP REF...` -> {ref: job label | null}). Optional when every job declares outputs.",
            executable = True,
            cfg = "target",
        ),
        "upstreams": attr.label_list(
            doc = "databuild_upstream targets: other graphs whose partitions this graph consumes.",
        ),
        "triggers": attr.label_list(
            doc = "databuild_trigger targets: what creates wants on a schedule or when partitions land.",
        ),
        "default_ttl": attr.string(
            doc = "Default TTL of wants, a duration longer than zero (`90s`, `6h`, `2d`, `1w`, `1h30m`, `3600`); empty for none.",
        ),
        "default_sla": attr.string(
            doc = "Default SLA of wants, a duration longer than zero (as default_ttl); empty for none.",
        ),
        "job_timeout": attr.string(
            doc = "Timeout of each job run for jobs that set no `timeout` (`90s`, `15m`, `2h`); empty for none.",
        ),
        "config_timeout": attr.string(
            doc = "Timeout of each `config` call (of jobs that set no `config_timeout`) and of each lookup call; empty for 60s.",
        ),
        "executor": attr.string(
            doc = "Default backend of job runs: `local` (processes of the service) or `dask://HOST:PORT` (a Dask cluster); empty for local. `--executor` and `DATABUILD_EXECUTOR` override it.",
        ),
        "max_log_bytes": attr.int(
            doc = "Most bytes of a job run's output its log keeps; the rest is dropped, counted and marked. 0 for 64 MiB. `DATABUILD_MAX_LOG_BYTES` overrides it at run time.",
            default = 0,
        ),
        "_databuild": attr.label(
            default = Label("//:databuild"),
        ),
        "_launcher_template": attr.label(
            default = Label("//rules/private:launcher.sh.tpl"),
            allow_single_file = True,
        ),
    },
    executable = True,
    toolchains = [_PY_TOOLCHAIN],
    provides = [DataBuildGraphInfo],
)
