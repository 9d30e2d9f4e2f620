"""Cron expressions in Starlark: a port of what `databuild.triggers.cron.check_cron` accepts.

That is croniter's `croniter.expand(expr, second_at_beginning = True, strict = True)`
(croniter's `_expand`, followed step by step below, quirks included) restricted to 5
fields (minute hour day-of-month month day-of-week) or 6 (second first), without
croniter's hashed and random values (`H`, `R`). So a `databuild_trigger`'s `cron` fails
at `bazel build` exactly when the manifest loader would refuse it.
`//tests/rules:cron_parity_test` compares both on a matrix of expressions.

What croniter accepts, per field: `*`, numbers, `A-B` (wrapping when B < A), `/STEP`
after either or after a single start, lists with `,`, month names `jan`..`dec` and
weekday names `sun`..`sat` (any case), `7` for Sunday, `?` in day-of-month or
day-of-week, `L` (last day of the month; also `10-L`), `15W`/`W15` (nearest weekday,
alone in its field), `mon#2` / `1#2` / `mon-wed#2` (n-th weekday, 1 to 5), `L5` (last
Friday), and the aliases `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`,
`@yearly`, `@annually`. With strict checking, a day of the month that no listed month
has (`0 0 31 2 *`) is refused.

Starlark has neither `while` nor recursion: the worklist of a field is drained by a
`for` loop bounded by the most items it can ever hold.
"""

_SPACE = " \t\n\r\013\014"

# After lower(): the characters of Python's ASCII `\w`.
_WORD = "0123456789abcdefghijklmnopqrstuvwxyz_"

_DAY = 2
_MONTH = 3
_DOW = 4

_FIELD_NAMES = ["minute", "hour", "day of month", "month", "day of week", "second"]
_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (0, 59)]

# A field naming this many distinct values means "every value" (croniter's LEN_MEANS_ALL).
_LEN_MEANS_ALL = [60, 24, 31, 12, 7, 60]

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_ALPHA = [{}, {}, {"l": "l"}, _MONTHS, _WEEKDAYS, {}]

_ALIASES = {
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

# Days of each month; February has 29 since a leap year can always come (croniter's strict check).
_DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

# Numbers with more significant digits than this are all equally too large (every
# field's values and steps are below 100): Starlark then need not hold them.
_MAX_DIGITS = 5
_BIG = 100000

def _is_digits(s):
    """ASCII digits only, at least one (Python's `^\\d+$` with re.ASCII)."""
    if not s:
        return False
    for c in s.elems():
        if c not in "0123456789":
            return False
    return True

def _number(digits):
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_DIGITS:
        return _BIG
    return int(significant, 10)

def _split(text):
    """`text` split at runs of ASCII whitespace (croniter's `\\S+` with re.ASCII)."""
    fields = []
    current = ""
    for c in text.elems():
        if c in _SPACE:
            if current:
                fields.append(current)
            current = ""
        else:
            current += c
    if current:
        fields.append(current)
    return fields

def _is_word(s):
    for c in s.elems():
        if c not in _WORD:
            return False
    return bool(s)

def _is_name_range(s, names):
    parts = s.split("-")
    return len(parts) == 2 and parts[0] in names and parts[1] in names

def _nth_weekday(e):
    """(item, nth, problem) of a day-of-week item `X#N` or `LN`; (e, None, None) for any other item.

    croniter's special_dow_re: `X` is a word, or a range of two weekday or two month
    names; `LN` means the last weekday N of the month.
    """
    hash_at = e.find("#")
    if hash_at > 0:
        head, last = e[:hash_at], e[hash_at + 1:]
        if _is_digits(last) and (_is_word(head) or _is_name_range(head, _WEEKDAYS) or _is_name_range(head, _MONTHS)):
            nth = _number(last)
            if nth < 1 or nth > 5:
                return (None, None, "%r: the n-th weekday must be 1 to 5, not %s" % (e, last))
            return (head, nth, None)
    if e.startswith("l") and _is_digits(e[1:]):
        return (e[1:], "l", None)
    return (e, None, None)

def _range_of(t):
    """(low, high, step or None) if `t` is `LOW-HIGH[/STEP]` (croniter's step_search_re), else None."""
    dash = t.find("-")
    if dash <= 0:
        return None
    rest = t[dash + 1:]
    if "-" in rest:
        return None
    slash = rest.find("/")
    high = rest if slash < 0 else rest[:slash]
    step = None if slash < 0 else rest[slash + 1:]
    if not high or (step != None and not _is_digits(step)):
        return None
    return (t[:dash], high, step)

def _alpha(index, name):
    """The value of a month or weekday name (or `l`), or None."""
    return _ALPHA[index].get(name)

def _wrapped(low, high, step, lo, hi):
    """The values of a range whose end comes before its start (`fri-mon`, `apr-jan/3`), as croniter lists them."""
    values = list(range(low, hi + 1, step))
    to_skip = 0
    if values:
        already_skipped = hi - values[-1]
        if values[-1] - lo + step > hi - lo + 1 and already_skipped < step:
            to_skip = step - already_skipped
    return values + list(range(lo + to_skip, high + 1, step))

def _range_values(index, e, low, high, step, start_with_step):
    """(values, problem) of the range item `e` (`low-high/step`, `low` and `high` still text)."""
    lo, hi = _RANGES[index]
    name = _FIELD_NAMES[index]
    if index == _DAY and high == "l":
        high = "31"
    bounds = []
    for band in (low, high):
        if not _is_digits(band):
            value = _alpha(index, band)
            if value == None:
                return (None, "%s %r: unknown name %r" % (name, e, band))
            band = str(value)
        bounds.append(band)
    step = 1 if step == None else _number(step)
    if step == 0:
        return (None, "%s %r: the step must not be 0" % (name, e))
    for band in bounds:
        if not _is_digits(band):
            return (None, "%s %r: %r cannot bound a range" % (name, e, band))
    low, high = [_number(b) for b in bounds]
    if index == _DOW:
        low, high = [0 if v == 7 else v for v in (low, high)]
    if max(low, high) > hi:
        return (None, "%s %r is out of range %d-%d" % (name, e, lo, hi))

    # "59/15" is minute 59 alone, while "5-5" (written as a range) means every value.
    if start_with_step and low == high:
        return ([low], None)
    if low == high:
        low, high = lo, hi
    if low > high:
        return (_wrapped(low, high, step, lo, hi), None)
    return (list(range(low, high + 1, step)), None)

def _single_value(index, t):
    """(value, problem) of a single item: a number, `*`, a name or `l`."""
    lo, hi = _RANGES[index]
    name = _FIELD_NAMES[index]
    if t.startswith("-"):
        return (None, "%s %r: negative numbers are not allowed" % (name, t))
    if t == "*":
        return ("*", None)
    if _is_digits(t):
        value = _number(t)
    else:
        value = _alpha(index, t)
        if value == None:
            return (None, "%s %r is not a number, range, step or name" % (name, t))
    if index == _DOW and value == 7:
        value = 0
    if value != "l" and (value < lo or value > hi):
        return (None, "%s %r is out of range %d-%d" % (name, t, lo, hi))
    return (value, None)

def _nearest_weekday(e):
    """The day of `15w` or `w15`, or None."""
    if e.endswith("w") and _is_digits(e[:-1]):
        return _number(e[:-1])
    if e.startswith("w") and _is_digits(e[1:]):
        return _number(e[1:])
    return None

def _expand_field(index, expr, expressions):
    """(values, nth weekdays {value: True}, problem) of one field, as croniter expands it.

    `values` is ["*"] for every value; `expressions` are all fields, second last.
    """
    name = _FIELD_NAMES[index]
    lo, hi = _RANGES[index]
    if "?" in expr:
        if expr != "?":
            return (None, None, "%s %r: ? must stand alone" % (name, expr))
        if index not in (_DAY, _DOW):
            return (None, None, "%s %r: ? is only allowed in day of month or day of week" % (name, expr))
        expr = "*"

    items = expr.split(",")
    res = {}
    seen = {}
    nths = {}

    # Each pass takes one item; an item only adds values not seen before, at most
    # 7 * 5 (day of week with an n-th) or 60 of them.
    for _ in range(len(items) + 64):
        if not items:
            break
        e = items.pop()
        if type(e) == "int":
            e = str(e)
        nth = None
        if index == _DOW:
            e, nth, problem = _nth_weekday(e)
            if problem:
                return (None, None, "%s %s" % (name, problem))
        if index == _DAY:
            day = _nearest_weekday(e)
            if day != None:
                if day < 1 or day > 31:
                    return (None, None, "%s %r: the nearest weekday's day must be 1 to 31" % (name, e))
                if items or res:
                    return (None, None, "%s %r: W needs a single day, not a list or range" % (name, expr))
                res[day] = True
                continue

        t = e
        if t.startswith("*/") and len(t) > 2:
            t = "%d-%d%s" % (lo, hi, t[1:])
        parsed = _range_of(t)
        start_with_step = False
        if parsed == None:
            # "START/STEP" reads as "START-MAX/STEP", the last "/" taken as the step's.
            slash = e.rfind("/", 1, len(e) - 1)
            t = e[:slash] + "-%d/" % hi + e[slash + 1:] if slash > 0 else e
            parsed = _range_of(t)
            start_with_step = parsed != None

        if parsed != None:
            values, problem = _range_values(index, e, parsed[0], parsed[1], parsed[2], start_with_step)
            if problem:
                return (None, None, problem)
            if index == _DOW and nth != None and nth != "l":
                values = ["%d#%d" % (v, nth) for v in values]
            items += [v for v in values if v not in seen]
            for v in values:
                seen[v] = True
        else:
            value, problem = _single_value(index, t)
            if problem:
                return (None, None, problem)
            res[value] = True
            if index == _DOW and nth != None:
                nths[value] = True

    values = res.keys()
    if len(values) == _LEN_MEANS_ALL[index]:
        if not ((index == _DAY and "*" not in expressions[_DOW]) or (index == _DOW and "*" not in expressions[_DAY])):
            values = ["*"]
    return (values, nths, None)

def _impossible_day(days, months):
    """True if no month of `months` has a day of `days` (croniter's strict check)."""
    if days in (["*"], ["l"]) or months == ["*"]:
        return False
    int_days = [d for d in days if type(d) == "int"]
    int_months = [m for m in months if type(m) == "int"]
    if not int_days or not int_months:
        return False
    return min(int_days) > max([_DAYS_IN_MONTH[m] for m in int_months])

def cron_problem(expr):
    """None if `expr` is a cron expression DataBuild accepts, else why not (a string)."""
    if type(expr) != "string":
        return "must be a string, got %r" % (expr,)
    for c in expr.elems():
        if c > "\177":
            return "contains a non-ASCII character"
    lowered = expr.lower()
    fields = _split(_ALIASES.get(lowered, lowered))
    if len(fields) not in (5, 6):
        return ("has %d fields; write 5 (minute hour day-of-month month day-of-week) " +
                "or 6 (second minute hour day-of-month month day-of-week)") % len(fields)
    for field in fields:
        if field[0] in "hr":
            return "field %r: hashed (H) and random (R) values are not supported" % field
    if len(fields) == 6:
        fields = fields[1:] + fields[:1]

    expanded = []
    nths = {}
    for index, field in enumerate(fields):
        values, field_nths, problem = _expand_field(index, field, fields)
        if problem:
            return problem
        expanded.append(values)
        nths.update(field_nths)

    if nths:
        weekdays = {v: True for v in expanded[_DOW]}
        plain = [v for v in weekdays if v not in nths and v != "*"]
        if plain and len(weekdays) != 7:
            return "day of week %r mixes plain weekdays with n-th or last weekdays" % fields[_DOW]
    if _impossible_day(expanded[_DAY], expanded[_MONTH]):
        return "day of month %r never occurs in month %r" % (fields[_DAY], fields[_MONTH])
    return None
