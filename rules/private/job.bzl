"""`databuild_job`: an executable implementing the job protocol, with its output patterns."""

load(":common.bzl", "label_str", "optional_duration")
load(":patterns.bzl", "validate_pattern")
load(":providers.bzl", "DataBuildJobInfo")

def _databuild_job_impl(ctx):
    label = label_str(ctx.label)
    for pattern in ctx.attr.outputs:
        problem = validate_pattern(pattern)
        if problem:
            fail("databuild_job %s: output pattern %r %s" % (label, pattern, problem))
    owner = "databuild_job " + label
    binary = ctx.attr.binary[DefaultInfo]
    executable = binary.files_to_run.executable
    runfiles = ctx.runfiles(files = [executable]).merge(binary.default_runfiles)
    return [
        DataBuildJobInfo(
            label = label,
            executable = executable,
            runfiles = runfiles,
            outputs = list(ctx.attr.outputs),
            timeout_seconds = optional_duration(owner, "timeout", ctx.attr.run_timeout),
            config_timeout_seconds = optional_duration(owner, "config_timeout", ctx.attr.config_timeout),
            persistent_config = ctx.attr.persistent_config,
        ),
        DefaultInfo(
            files = depset([executable]),
            runfiles = runfiles,
        ),
    ]

# The rule behind the `databuild_job` macro: Bazel reserves an attribute named `timeout`
# (the test timeout) and crashes on a rule declaring one, so the macro maps it.
_databuild_job = rule(
    implementation = _databuild_job_impl,
    doc = """A DataBuild job: wraps any executable target implementing the job protocol.

`JOB config REF...` prints the configs producing REF...; `JOB exec ARGS...` runs one
of them (see docs/job-protocol.md / databuild.job for a Python SDK). List the job in a
`databuild_graph`'s `jobs`.""",
    attrs = {
        "binary": attr.label(
            doc = "Executable target implementing the job protocol (sh_binary, py_binary, ...).",
            mandatory = True,
            executable = True,
            cfg = "target",
        ),
        "outputs": attr.string_list(
            doc = "Partition patterns this job produces, e.g. `[\"daily_votes/*/*\"]`. May be empty when the graph has a lookup.",
        ),
        "run_timeout": attr.string(
            doc = "The `timeout` of the databuild_job macro.",
        ),
        "config_timeout": attr.string(
            doc = "How long each `config` call may take before it is killed and planning fails. Empty: the graph's `config_timeout` (default 60s).",
        ),
        "persistent_config": attr.bool(
            doc = "The binary answers `config --persistent`: planning starts it once per plan and asks it one line of refs at a time (docs/job-protocol.md), instead of one process per `config` call. Worth it for deep graphs (a chain of N levels is N calls).",
        ),
    },
    provides = [DataBuildJobInfo],
)

def databuild_job(name, timeout = "", **kwargs):
    """A DataBuild job: wraps any executable target implementing the job protocol.

    `JOB config REF...` prints the configs producing REF...; `JOB exec ARGS...` runs one
    of them. List the job in a `databuild_graph`'s `jobs`. Provides DataBuildJobInfo.

    Args:
      name: the target name.
      timeout: a run still running after this duration (`90s`, `15m`, `2h`) is killed
        (its whole process group: SIGTERM, SIGKILL 5 s later) and fails with
        "timed out after ..."; empty: the graph's `job_timeout`.
      **kwargs: `binary` (mandatory), `outputs`, `config_timeout`, `persistent_config`, and the attributes
        every rule has (`tags`, `visibility`, ...).
    """
    _databuild_job(name = name, run_timeout = timeout, **kwargs)
