"""Partition patterns in Starlark: validation and the overlap (glob intersection) test.

A port of `databuild/refs.py` (`validate_ref`, `_tokens`, `patterns_overlap`), so
that overlapping job outputs fail at `bazel build` time with the same verdict the
Python manifest loader would reach at run time. In a pattern `*` and `?` stay
within one `/`-separated segment and `**` crosses segments.

Starlark has neither recursion nor `while`: the breadth-first search runs in a
`for` loop bounded by the number of search states, each of which is visited at
most once.
"""

MAX_PATTERN_LENGTH = 1024

_STARS = ["*", "**"]
_WILD = ["*", "**", "?"]

# ASCII whitespace and control characters (validate_ref rejects them). Python also
# rejects non-ASCII whitespace (e.g. U+00A0); the manifest loader catches those.
_FORBIDDEN = " \t\n\r\013\014\000\001\002\003\004\005\006\007\010\016\017\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036\037\177"

def _utf8_continuation_range():
    """(lowest, highest) UTF-8 continuation byte as Starlark characters, or None.

    Bazel's Starlark (4.2 to 7.x) stores a string as its UTF-8 bytes, one
    character per byte, so `len("é") == 2`; the probes below are U+0100 (C4 80)
    and U+07FF (DF BF). If a future Starlark indexes code points instead, the
    probes have one character and no regrouping is needed.
    """
    lo = "Ā"
    hi = "߿"
    if len(lo) != 2 or len(hi) != 2:
        return None
    return (lo[1], hi[1])

_CONTINUATION = _utf8_continuation_range()

def code_points(s):
    """The characters of `s` as a list, each non-ASCII character kept whole."""
    out = []
    for c in s.elems():
        if _CONTINUATION and out and c >= _CONTINUATION[0] and c <= _CONTINUATION[1]:
            out[-1] = out[-1] + c
        else:
            out.append(c)
    return out

def validate_pattern(pattern):
    """None if `pattern` is a valid partition pattern, else why it is not (a string)."""
    if type(pattern) != "string":
        return "must be a string, got %r" % (pattern,)
    if not pattern:
        return "must not be empty"
    chars = code_points(pattern)
    if len(chars) > MAX_PATTERN_LENGTH:
        return "is %d characters, more than %d" % (len(chars), MAX_PATTERN_LENGTH)
    i = forbidden_character(chars)
    if i >= 0:
        return "contains whitespace or a control character at position %d" % i
    return None

def forbidden_character(chars):
    """Index of the first ASCII whitespace or control character in the list `chars`, or -1."""
    for i, c in enumerate(chars):
        if c in _FORBIDDEN:
            return i
    return -1

def pattern_tokens(pattern):
    """`pattern` as a token list: `**`, `*`, `?` or one literal character."""
    chars = code_points(pattern)
    out = []
    skip = False
    for i, c in enumerate(chars):
        if skip:
            skip = False
        elif c == "*" and i + 1 < len(chars) and chars[i + 1] == "*":
            out.append("**")
            skip = True
        else:
            out.append(c)
    return out

def _step(token, char):
    """Can `token` consume the literal character `char`?"""
    if token == "**":
        return True
    if token in ("*", "?"):
        return char != "/"
    return token == char

def _compatible(x, y):
    """Is there a character both tokens accept?"""
    if x not in _WILD and y not in _WILD:
        return x == y
    if x not in _WILD:
        return _step(y, x)
    if y not in _WILD:
        return _step(x, y)
    return True  # any two wildcards share a character other than '/'

def patterns_overlap(a, b):
    """True if some partition ref matches both patterns `a` and `b`.

    Search over pairs of positions (i, j) in the two token lists: a star may be
    skipped (it matches nothing) or consume a character both sides accept.
    """
    ta = pattern_tokens(a)
    tb = pattern_tokens(b)
    la = len(ta)
    lb = len(tb)
    seen = {0: True}
    todo = [(0, 0)]

    # Every state (i, j) enters `todo` at most once, so this bound is never hit
    # before `todo` runs empty.
    for _ in range((la + 1) * (lb + 1)):
        if not todo:
            break
        i, j = todo.pop()
        if i == la and j == lb:
            return True
        moves = []
        if i < la and ta[i] in _STARS:
            moves.append((i + 1, j))
        if j < lb and tb[j] in _STARS:
            moves.append((i, j + 1))
        if i < la and j < lb and _compatible(ta[i], tb[j]):
            moves.append((
                i + (0 if ta[i] in _STARS else 1),
                j + (0 if tb[j] in _STARS else 1),
            ))
        for mi, mj in moves:
            key = mi * (lb + 1) + mj
            if key not in seen and (mi, mj) != (i, j):
                seen[key] = True
                todo.append((mi, mj))
    return False
