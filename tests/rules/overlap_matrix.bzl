"""Test helper: evaluates the Starlark `patterns_overlap` port on every pair of patterns.

Writes `<name>.json`, `{"pairs": [[a, b, overlap], ...]}`, which
patterns_parity_test.py compares with databuild.refs.patterns_overlap.
"""

load("//rules/private:patterns.bzl", "patterns_overlap", "validate_pattern")

def _overlap_matrix_impl(ctx):
    patterns = ctx.attr.patterns
    pairs = []
    for i, a in enumerate(patterns):
        for b in patterns[i:]:
            pairs.append([a, b, patterns_overlap(a, b)])
    invalid = {p: validate_pattern(p) for p in ctx.attr.invalid}
    out = ctx.actions.declare_file(ctx.label.name + ".json")
    ctx.actions.write(out, json.encode({"pairs": pairs, "invalid": invalid}) + "\n")
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

overlap_matrix = rule(
    implementation = _overlap_matrix_impl,
    attrs = {
        "patterns": attr.string_list(mandatory = True),
        "invalid": attr.string_list(),
    },
)
