"""Durations in Starlark: a port of `databuild.timespec.parse_duration`.

The same inputs with the same values, so `databuild_graph(default_ttl = ...)` reads
a duration exactly as the CLI's `--ttl` does: `90s`, `15m`, `6h`, `2d`, `1w`;
compounds with units largest first, each at most once (`1h30m`, `2d12h`); a bare
number of seconds (`3600`); surrounding ASCII whitespace ignored; at most 100 years.
`//tests/rules:durations_parity_test` compares both on a matrix of inputs.
"""

# Longest duration accepted: 100 years of 365.25 days (timespec.MAX_DURATION_SECONDS).
MAX_DURATION_SECONDS = 36525 * 86400

_UNITS = ["w", "d", "h", "m", "s"]
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DIGITS = "0123456789"

# ASCII whitespace: space, \t, \n, \r, \v, \f.
_SPACE = " \t\n\r\013\014"

# More significant digits than this exceed MAX_DURATION_SECONDS in any unit.
_MAX_DIGITS = len(str(MAX_DURATION_SECONDS))

def _invalid(text, reason = ""):
    detail = " (%s)" % reason if reason else ""
    return ("invalid duration %r%s: use a number with a unit s, m, h, d or w, e.g. 90s, 15m, 6h, 2d" %
            (text, detail))

def _numbers(text):
    """[(digits, unit seconds), ...] of the stripped duration `text`, or None if malformed."""
    numbers = []
    digits = ""
    next_unit = 0  # index in _UNITS of the smallest unit still allowed to come
    for c in text.elems():
        if c in _DIGITS:
            digits += c
        elif c in _UNIT_SECONDS and digits and _UNITS.index(c) >= next_unit:
            numbers.append((digits, _UNIT_SECONDS[c]))
            digits = ""
            next_unit = _UNITS.index(c) + 1
        else:
            return None
    if digits:
        if numbers:
            return None  # a number without a unit after one with a unit: "1h30"
        numbers.append((digits, 1))
    return numbers

def parse_duration(text):
    """(seconds, None) for a valid duration, zero included, else (None, why)."""
    if type(text) != "string":
        return (None, _invalid(text, "not a string"))
    stripped = text.strip(_SPACE)
    if not stripped:
        return (None, _invalid(text, "empty"))
    numbers = _numbers(stripped)
    if numbers == None:
        return (None, _invalid(text))
    total = 0
    for digits, size in numbers:
        significant = digits.lstrip("0") or "0"
        if len(significant) > _MAX_DIGITS:
            return (None, _invalid(text, "longer than 100 years"))
        total += int(significant, 10) * size
    if total > MAX_DURATION_SECONDS:
        return (None, _invalid(text, "longer than 100 years"))
    return (total, None)

def parse_positive_duration(text):
    """`parse_duration`, refusing zero too (`timespec.parse_positive_duration`): a TTL or SLA."""
    seconds, problem = parse_duration(text)
    if problem == None and seconds == 0:
        return (None, "invalid duration %r: must be longer than zero" % (text,))
    return (seconds, problem)
