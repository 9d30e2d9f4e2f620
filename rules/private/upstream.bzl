"""`databuild_upstream`: another graph whose partitions a graph consumes."""

load(":common.bzl", "label_str")
load(":patterns.bzl", "forbidden_character", "validate_pattern")
load(":providers.bzl", "DataBuildUpstreamInfo")

def _is_http_url(url):
    """`http(s)://` and a host, no whitespace or control characters (as databuild.graph.manifest.url_problem)."""
    rest = url[len("https://"):] if url.startswith("https://") else url[len("http://"):] if url.startswith("http://") else None
    return bool(rest) and rest[0] not in "/?#" and forbidden_character(url.elems()) < 0

def _databuild_upstream_impl(ctx):
    label = label_str(ctx.label)
    url = ctx.attr.url
    if not _is_http_url(url):
        fail("databuild_upstream %s: url %r must be an http:// or https:// URL" % (label, url))
    for pattern in ctx.attr.patterns:
        problem = validate_pattern(pattern)
        if problem:
            fail("databuild_upstream %s: pattern %r %s" % (label, pattern, problem))
    return [DataBuildUpstreamInfo(
        name = ctx.label.name,
        label = label,
        url = url,
        patterns = list(ctx.attr.patterns),
    )]

databuild_upstream = rule(
    implementation = _databuild_upstream_impl,
    doc = "An upstream DataBuild graph, reached over HTTP, and the partitions of it this graph consumes.",
    attrs = {
        "url": attr.string(
            doc = "Default base URL of the upstream graph's service, e.g. `http://127.0.0.1:8101`; overridable at run time.",
            mandatory = True,
        ),
        "patterns": attr.string_list(
            doc = "Partition patterns of the upstream graph this graph consumes, e.g. `[\"raw/**\"]`.",
            mandatory = True,
            allow_empty = False,
        ),
    },
    provides = [DataBuildUpstreamInfo],
)
