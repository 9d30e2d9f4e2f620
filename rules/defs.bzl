"""Public API of the DataBuild Bazel rules.

    load("@databuild//rules:defs.bzl", "databuild_graph", "databuild_job", "databuild_trigger", "databuild_upstream")

See docs/bazel-rules.md. Everything is implemented in rules/private/.
"""

load("//rules/private:graph.bzl", _databuild_graph = "databuild_graph")
load("//rules/private:job.bzl", _databuild_job = "databuild_job")
load(
    "//rules/private:providers.bzl",
    _DataBuildGraphInfo = "DataBuildGraphInfo",
    _DataBuildJobInfo = "DataBuildJobInfo",
    _DataBuildTriggerInfo = "DataBuildTriggerInfo",
    _DataBuildUpstreamInfo = "DataBuildUpstreamInfo",
)
load("//rules/private:trigger.bzl", _databuild_trigger = "databuild_trigger")
load("//rules/private:upstream.bzl", _databuild_upstream = "databuild_upstream")

databuild_job = _databuild_job
databuild_graph = _databuild_graph
databuild_upstream = _databuild_upstream
databuild_trigger = _databuild_trigger

DataBuildJobInfo = _DataBuildJobInfo
DataBuildGraphInfo = _DataBuildGraphInfo
DataBuildUpstreamInfo = _DataBuildUpstreamInfo
DataBuildTriggerInfo = _DataBuildTriggerInfo
