"""Trigger templates in Starlark: a port of `databuild/triggers/fields.py`.

A template is text with fields in braces, `reports/daily/{date-1d}`: a name of ASCII
letters, digits and `_`, optionally an offset (`+` or `-` and a duration of
durations.bzl). The tick fields are TICK_FIELDS; a reactive trigger's `on` templates
capture fields its other templates may name (without offsets). Braces stand only for
fields. `//tests/rules:fields_parity_test` checks both on a matrix of templates.
"""

load(":durations.bzl", "parse_duration")
load(":patterns.bzl", "validate_pattern")

# The fields every tick provides (databuild.triggers.fields.TICK_FIELDS).
TICK_FIELDS = ["date", "hour", "minute", "datetime"]

# Values as long as the tick fields' (to check a filled template is a valid ref); a capture has at least one character.
_SAMPLES = {"date": "2025-01-01", "hour": "00", "minute": "00", "datetime": "2025-01-01T00:00:00"}
_CAPTURE_SAMPLE = "x"

_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

def _problem(what, template, problem):
    return "%s %r: %s" % (what, template, problem)

def _parse_field(text, what, template):
    """(struct(name, offset_seconds, has_offset), None) for the inside of `{...}`, else (None, why)."""
    size = 0
    for c in text.elems():
        if c not in _NAME_CHARS:
            break
        size += 1
    name, rest = text[:size], text[size:]
    if not name or (rest and (rest[0] not in "+-" or len(rest) == 1)):
        return (None, _problem(what, template, ("{%s} is not a field: write a name of letters, digits and _, " +
                                                "optionally with an offset such as {date-1d}") % text))
    if not rest:
        return (struct(name = name, offset_seconds = 0, has_offset = False), None)
    seconds, problem = parse_duration(rest[1:])
    if problem:
        return (None, _problem(what, template, "offset of {%s}: %s" % (text, problem)))
    return (struct(name = name, offset_seconds = seconds if rest[0] == "+" else -seconds, has_offset = True), None)

def parse_template(template, what = "template"):
    """(parts, None): the literal strings and field structs of `template` in order; (None, why) if malformed."""
    if type(template) != "string":
        return (None, "%s must be a string, got %r" % (what, template))
    parts = []
    literal = ""
    opened = -1  # index of the "{" of the field being read
    for i, c in enumerate(template.elems()):
        if c == "{" and opened < 0:
            opened = i
        elif c == "}" and opened >= 0:
            if literal:
                parts.append(literal)
                literal = ""
            field, problem = _parse_field(template[opened + 1:i], what, template)
            if problem:
                return (None, problem)
            parts.append(field)
            opened = -1
        elif c in "{}":
            # A "}" outside a field, or a "{" inside one: the earlier "{" is left open.
            return (None, _problem(what, template, "%r is not part of a {field}; braces only enclose fields" %
                                                   (c if c == "}" else "{")))
        elif opened < 0:
            literal += c
    if opened >= 0:
        return (None, _problem(what, template, "'{' is not part of a {field}; braces only enclose fields"))
    if literal:
        parts.append(literal)
    return (parts, None)

def check_fields(template, captures, what):
    """(parts, None) if every field of `template` is a tick field or in `captures` (offsets: tick fields only)."""
    parts, problem = parse_template(template, what)
    if problem:
        return (None, problem)
    for field in parts:
        if type(field) == "string":
            continue
        if field.has_offset and (field.name not in TICK_FIELDS or field.name in captures):
            captured = " (it is a captured field here)" if field.name in captures else ""
            return (None, _problem(what, template, "field %r has an offset, which only the tick fields %s may have%s" %
                                                   (field.name, ", ".join(TICK_FIELDS), captured)))
        if field.name not in TICK_FIELDS and field.name not in captures:
            if captures:
                captured = "captured by every on template (%s)" % ", ".join(sorted(captures))
            else:
                captured = "captured by an on template"
            return (None, _problem(what, template, "field %r is neither a tick field (%s) nor %s" %
                                                   (field.name, ", ".join(TICK_FIELDS), captured)))
    return (parts, None)

def partitions_template_problem(template, captures):
    """None if `template` names only known fields and is a valid partition ref once filled in, else why not."""
    what = "partitions template"
    parts, problem = check_fields(template, captures, what)
    if problem:
        return problem
    filled = ""
    for part in parts:
        if type(part) == "string":
            filled += part
        else:
            filled += _CAPTURE_SAMPLE if part.name in captures else _SAMPLES[part.name]
    problem = validate_pattern(filled)
    if problem:
        return _problem(what, template, "once filled in it %s" % problem)
    return None

def on_template_captures(template):
    """(names, None): the field names an `on` template captures; (None, why) if it is not a ref template."""
    what = "on template"
    parts, problem = parse_template(template, what)
    if problem:
        return (None, problem)
    names = []
    for part in parts:
        if type(part) == "string":
            continue
        if part.has_offset:
            return (None, _problem(what, template, "field %r has an offset; an on template captures fields as they are" %
                                                   part.name))
        names.append(part.name)
    problem = validate_pattern(template)
    if problem:
        return (None, _problem(what, template, "ref template %s" % problem))
    for i, name in enumerate(names):
        if name in names[i + 1:]:
            return (None, _problem(what, template, "names the field %r twice" % name))
    return (names, None)

def timezone_problem(name):
    """None if `name` is spelled like an IANA time zone (`UTC`, `Etc/GMT+5`), else why not.

    Whether the zone exists is checked when the manifest is loaded (Python's zoneinfo):
    the rules cannot read the time zone database.
    """
    segments = name.split("/")
    for segment in segments:
        if not segment or not segment[0].isalpha():
            return "timezone %r is not an IANA time zone name such as UTC or Europe/Amsterdam" % name
        for c in segment.elems():
            if c not in _NAME_CHARS and c not in "+-":
                return "timezone %r is not an IANA time zone name such as UTC or Europe/Amsterdam" % name
    return None
