"""Helpers shared by the DataBuild rules."""

load(":durations.bzl", "parse_positive_duration")

def label_str(label):
    """`//pkg:name` for the main repository, `@repo//pkg:name` otherwise.

    Used instead of `str(label)`, whose spelling differs between Bazel versions
    (`@@//pkg:name` with bzlmod), so manifests and lookups keep one stable form.
    """
    if label.workspace_name:
        return "@%s//%s:%s" % (label.workspace_name, label.package, label.name)
    return "//%s:%s" % (label.package, label.name)

def runfiles_path(ctx, file):
    """Path of `file` relative to the runfiles root of a binary built by `ctx`.

    Files of the main repository live under `<workspace name>/` (`_main/` with
    bzlmod); files of an external repository have a short_path `../<repo>/...`.
    """
    path = file.short_path
    if path.startswith("../"):
        return path[len("../"):]
    return ctx.workspace_name + "/" + path

def shell_quote(s):
    """`s` as one single-quoted POSIX shell word."""
    return "'" + s.replace("'", "'\\''") + "'"

def optional_duration(owner, attr_name, text):
    """Seconds of the duration attribute `attr_name` (`text`), or None when it is empty.

    fail()s naming `owner` (e.g. `databuild_job //pkg:x`), the attribute and the value
    when `text` is not a duration or is zero: an empty attribute is how to say "none".
    """
    if text == "":
        return None
    seconds, problem = parse_positive_duration(text)
    if problem:
        fail("%s: %s: %s (leave it empty for the default)" % (owner, attr_name, problem))
    return seconds
