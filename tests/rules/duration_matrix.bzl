"""Test helper: evaluates the Starlark duration parser on many inputs.

Writes `<name>.json`, `{"results": [[text, seconds or null, positive seconds or null], ...]}`
for `inputs` and for every string of up to `max_length` characters of `alphabet`;
durations_parity_test.py compares with databuild.timespec.
"""

load("//rules/private:durations.bzl", "parse_duration", "parse_positive_duration")

def _strings(alphabet, max_length):
    """Every string of 1 to `max_length` characters of `alphabet`."""
    out = []
    level = [""]
    for _ in range(max_length):
        level = [s + c for s in level for c in alphabet.elems()]
        out += level
    return out

def _duration_matrix_impl(ctx):
    results = []
    for text in ctx.attr.inputs + _strings(ctx.attr.alphabet, ctx.attr.max_length):
        results.append([text, parse_duration(text)[0], parse_positive_duration(text)[0]])
    out = ctx.actions.declare_file(ctx.label.name + ".json")
    ctx.actions.write(out, json.encode({"results": results}) + "\n")
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

duration_matrix = rule(
    implementation = _duration_matrix_impl,
    attrs = {
        "inputs": attr.string_list(mandatory = True),
        "alphabet": attr.string(),
        "max_length": attr.int(default = 0),
    },
)
