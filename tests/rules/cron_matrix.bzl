"""Test helper: evaluates the Starlark cron check on many expressions.

Writes `<name>.json`, `{"results": [[expr, problem or null], ...]}` for `inputs` and,
for every base expression of `bases` and each of its fields, the base with that field
replaced by every string of up to `max_length` characters of `alphabet`;
cron_parity_test.py compares with databuild.triggers.cron.check_cron.
"""

load("//rules/private:cron.bzl", "cron_problem")

def _strings(alphabet, max_length):
    """Every string of 1 to `max_length` characters of `alphabet`."""
    out = []
    level = [""]
    for _ in range(max_length):
        level = [s + c for s in level for c in alphabet.elems()]
        out += level
    return out

def _expressions(ctx):
    out = list(ctx.attr.inputs)
    tokens = _strings(ctx.attr.alphabet, ctx.attr.max_length)
    for base in ctx.attr.bases:
        fields = base.split(" ")
        for i in range(len(fields)):
            out += [" ".join(fields[:i] + [token] + fields[i + 1:]) for token in tokens]
    return out

def _cron_matrix_impl(ctx):
    results = [[expr, cron_problem(expr)] for expr in _expressions(ctx)]
    out = ctx.actions.declare_file(ctx.label.name + ".json")
    ctx.actions.write(out, json.encode({"results": results}) + "\n")
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

cron_matrix = rule(
    implementation = _cron_matrix_impl,
    attrs = {
        "inputs": attr.string_list(mandatory = True),
        "bases": attr.string_list(),
        "alphabet": attr.string(),
        "max_length": attr.int(default = 0),
    },
)
