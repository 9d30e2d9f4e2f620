"""Test helper: evaluates the Starlark template, timezone and trigger name checks on many inputs.

Writes `<name>.json`: `tick_fields`; `templates`, `[[template, captures, partitions
problem, fields problem, [[name, offset seconds], ...] or null], ...]` for every
template with every capture set (names joined by ","); `on`, `[[template, captures or
null], ...]`; `timezones` and `names`, `[[text, problem or null], ...]`.
fields_parity_test.py compares with databuild.triggers.fields and the manifest loader.
"""

load("//rules/private:fields.bzl", "TICK_FIELDS", "check_fields", "on_template_captures", "partitions_template_problem", "timezone_problem")
load("//rules/private:trigger.bzl", "name_problem")

def _fields(parts):
    return [[p.name, p.offset_seconds] for p in parts if type(p) != "string"]

def _fields_matrix_impl(ctx):
    templates = []
    for joined in ctx.attr.capture_sets:
        captures = joined.split(",") if joined else []
        for template in ctx.attr.templates:
            parts, problem = check_fields(template, captures, "template")
            templates.append([
                template,
                joined,
                partitions_template_problem(template, captures),
                problem,
                _fields(parts) if parts != None else None,
            ])
    doc = {
        "tick_fields": TICK_FIELDS,
        "templates": templates,
        "on": [[t, on_template_captures(t)[0]] for t in ctx.attr.templates],
        "timezones": [[t, timezone_problem(t)] for t in ctx.attr.timezones],
        "names": [[n, name_problem(n)] for n in ctx.attr.names],
    }
    out = ctx.actions.declare_file(ctx.label.name + ".json")
    ctx.actions.write(out, json.encode(doc) + "\n")
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

fields_matrix = rule(
    implementation = _fields_matrix_impl,
    attrs = {
        "templates": attr.string_list(mandatory = True),
        "capture_sets": attr.string_list(mandatory = True),
        "timezones": attr.string_list(),
        "names": attr.string_list(),
    },
)
