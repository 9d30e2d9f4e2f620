"""`databuild_job`: an executable implementing the job protocol, with its output patterns."""

load(":common.bzl", "label_str")
load(":patterns.bzl", "validate_pattern")
load(":providers.bzl", "DataBuildJobInfo")

def _databuild_job_impl(ctx):
    label = label_str(ctx.label)
    for pattern in ctx.attr.outputs:
        problem = validate_pattern(pattern)
        if problem:
            fail("databuild_job %s: output pattern %r %s" % (label, pattern, problem))
    binary = ctx.attr.binary[DefaultInfo]
    executable = binary.files_to_run.executable
    runfiles = ctx.runfiles(files = [executable]).merge(binary.default_runfiles)
    return [
        DataBuildJobInfo(
            label = label,
            executable = executable,
            runfiles = runfiles,
            outputs = list(ctx.attr.outputs),
        ),
        DefaultInfo(
            files = depset([executable]),
            runfiles = runfiles,
        ),
    ]

databuild_job = rule(
    implementation = _databuild_job_impl,
    doc = """A DataBuild job: wraps any executable target implementing the job protocol.

`JOB config REF...` prints the configs producing REF...; `JOB exec ARGS...` runs one
of them (see SPEC section 5 / databuild.job for a Python SDK). List the job in a
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
    },
    provides = [DataBuildJobInfo],
)
