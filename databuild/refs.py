"""Partition refs, ref patterns (globs) and ref templates.

A ref is non-empty, at most 1024 characters, with no whitespace or control
characters. In a pattern ``*`` and ``?`` stay within one ``/``-separated segment and
``**`` crosses segments, so ``daily_votes/*/red`` matches ``daily_votes/2025-01-01/red``
and ``raw/**`` matches everything under ``raw/``. Matching costs at most
O(len(ref) * len(pattern)) whatever the pattern: patterns come from requests, and
a backtracking matcher takes hours on ``*a*a*a*a*a*a*a*ab``. A template
(``daily_votes/{date}/{color}``, the job SDK's outputs) is a pattern with named fields.
``rules/private/patterns.bzl`` ports the overlap test to Starlark.
"""

from __future__ import annotations

import functools
import re
from typing import Iterable

from databuild.errors import InvalidRefError

MAX_REF_LENGTH = 1024
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")


def validate_ref(ref: object, what: str = "partition ref") -> str:
    """Return ``ref`` unchanged if it is a valid ref, else raise InvalidRefError."""
    if not isinstance(ref, str):
        raise InvalidRefError(f"{what} must be a string, got {ref!r}")
    if not ref:
        raise InvalidRefError(f"{what} must not be empty")
    if len(ref) > MAX_REF_LENGTH:
        raise InvalidRefError(
            f"{what} is {len(ref)} characters, more than {MAX_REF_LENGTH}: {ref[:60]!r}..."
        )
    bad = _FORBIDDEN.search(ref)
    if bad:
        raise InvalidRefError(
            f"{what} {ref!r} contains whitespace or a control character at position {bad.start()}"
        )
    return ref


def is_valid_ref(ref: str) -> bool:
    """Fast check for hot paths; ``validate_ref`` explains a failure."""
    return 0 < len(ref) <= MAX_REF_LENGTH and _FORBIDDEN.search(ref) is None


def validate_refs(refs: Iterable[object], what: str = "partition ref") -> list[str]:
    """Validate each ref; return them as a list."""
    return [validate_ref(r, what) for r in refs]


_STARS = ("*", "**")
_WILDCARDS = ("*", "**", "?")


def _tokens(pattern: str) -> list[str]:
    """``pattern`` as a token list: ``**``, ``*``, ``?`` or one literal character."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append("**")
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return out


def _step(token: str, char: str) -> bool:
    """Can ``token`` consume the literal ``char``?"""
    if token == "**":
        return True
    if token in ("*", "?"):
        return char != "/"
    return token == char


class _PositionSets:
    """Glob matching by simulating the pattern's automaton on sets of token positions.

    A set is an int whose bit ``i`` means "the tokens before ``i`` have matched the
    text read so far". Each character of the ref costs a few int operations on
    ``len(tokens) + 1`` bits, so a match is O(len(ref) * len(tokens) / word size)
    whatever the pattern: there is nothing to backtrack into.
    """

    def __init__(self, tokens: list[str]) -> None:
        literal: dict[str, int] = {}
        one = stars = any_star = 0
        for i, token in enumerate(tokens):
            bit = 1 << i
            if token == "**":
                any_star |= bit
            elif token == "*":
                stars |= bit
            elif token == "?":
                one |= bit
            else:
                literal[token] = literal.get(token, 0) | bit
        stars |= any_star
        self._stars = stars
        # Per character: (positions that consume it and advance, positions that consume
        # it and stay: the stars). Characters no literal names share ``_other``.
        self._other = (one, stars)
        self._moves = {c: (bits | one, stars) for c, bits in literal.items()}
        self._moves["/"] = (literal.get("/", 0), any_star)
        self._start = self._skip_stars(1)
        self._accept = 1 << len(tokens)

    def _skip_stars(self, state: int) -> int:
        """Add the positions reached by letting stars match nothing.

        A set bit at a star carries through the run of star positions above it, so
        ``stars + (state & stars)`` flips exactly that run and the bit past it.
        """
        return state | ((self._stars + (state & self._stars)) ^ self._stars)

    def _next(self, state: int, c: str) -> int:
        """The position set after reading ``c`` in ``state``."""
        advance, stay = self._moves.get(c, self._other)
        return self._skip_stars(((state & advance) << 1) | (state & stay))

    def states(self, text: str) -> list[int]:
        """The position set before each character of ``text`` and after the last."""
        out = [self._start]
        for c in text:
            out.append(self._next(out[-1], c))
        return out

    def matches(self, text: str) -> bool:
        """True if the whole ``text`` matches the tokens."""
        # _next inlined: this loop runs for every row a query checks.
        state, moves, other, stars = self._start, self._moves, self._other, self._stars
        for c in text:
            advance, stay = moves.get(c, other)
            state = ((state & advance) << 1) | (state & stay)
            if not state:
                return False
            state |= (stars + (state & stars)) ^ stars
        return bool(state & self._accept)


def _regex_is_linear(tokens: list[str]) -> bool:
    """Whether a backtracking regex for ``tokens`` runs in O(len(ref) * len(tokens)).

    Only ``/`` matches ``/``, and ``*`` and ``?`` never do, so a segment of the
    pattern without ``**`` ends exactly at the ref's next ``/``. Two shapes follow:

    - No ``**`` and at most one ``*`` per segment (``daily_votes/*/red``, literal
      refs): each segment is entered once and its star's length is its only
      choice, O(segment length) tries of O(segment pattern) each.
    - One ``**``, no ``*`` before it and at most one after it, with a ``/`` between
      the two (``raw/**``, ``logs/**/*.json``): the ``**`` tries each position once;
      the rest is fixed-length up to the star, and a try that reaches the star has
      matched a ``/``, so the stretches the star scans lie in different segments of
      the ref and add up to at most its length.

    Anything else (``*a*b``, ``**a*b``) lets a regex try every way of splitting the
    ref between its stars, exponential in their number.
    """
    if "**" in tokens:
        cut = tokens.index("**")
        before, after = tokens[:cut], tokens[cut + 1 :]
        if "**" in after or "*" in before or after.count("*") > 1:
            return False
        return "*" not in after or "/" in after[: after.index("*")]
    segment_stars = 0
    for token in tokens:
        if token == "/":
            segment_stars = 0
        elif token == "*":
            segment_stars += 1
            if segment_stars > 1:
                return False
    return True


_TOKEN_REGEX = {"**": ".*", "*": "[^/]*", "?": "[^/]"}


def _glob_regex(tokens: list[str]) -> str:
    """The regex source of glob ``tokens`` (meant for shapes ``_regex_is_linear`` accepts)."""
    return "".join(_TOKEN_REGEX.get(t) or re.escape(t) for t in tokens)


class RefPattern:
    """A compiled ref glob.

    ``matches`` runs in O(len(ref) * len(pattern)) at worst: a regex where its
    shape makes one provably linear (the common ``daily_votes/*/red``, ``raw/**``
    and literal refs), else a position-set simulation behind cheap exact
    pre-checks on the literal prefix and suffix, the length and the ``/`` count.
    """

    __slots__ = ("pattern", "literal_prefix", "slash_count", "_tokens", "_regex", "_sets", "_suffix", "_fixed")

    def __init__(self, pattern: str, tokens: list[str]) -> None:
        self.pattern = pattern
        self._tokens = tokens
        wild = [i for i, t in enumerate(tokens) if t in _WILDCARDS]
        self.literal_prefix = "".join(tokens[: wild[0]]) if wild else pattern
        self._suffix = "".join(tokens[wild[-1] + 1 :]) if wild else pattern
        self._fixed = sum(t not in _STARS for t in tokens)
        #: How many ``/`` every matching ref has; None when a ``**`` lets it vary.
        self.slash_count: int | None = None if "**" in tokens else tokens.count("/")
        self._regex: re.Pattern[str] | None = None
        self._sets: _PositionSets | None = None
        if _regex_is_linear(tokens):
            self._regex = re.compile(_glob_regex(tokens), re.DOTALL)
        else:
            self._sets = _PositionSets(tokens)

    def __repr__(self) -> str:
        return f"RefPattern({self.pattern!r})"

    def matches(self, ref: str) -> bool:
        """True if ``ref`` matches the whole pattern."""
        if self._regex is not None:
            return self._regex.fullmatch(ref) is not None
        return (
            len(ref) >= self._fixed
            and ref.startswith(self.literal_prefix)
            and ref.endswith(self._suffix)
            and (self.slash_count is None or ref.count("/") == self.slash_count)
            and self._sets.matches(ref)  # type: ignore[union-attr]
        )

    def spans(self, ref: str) -> list[tuple[int, int]] | None:
        """Where in ``ref`` each token matched (start, end), or None if it does not match.

        Stars are greedy from the left, as a backtracking regex's would be: each
        takes the longest stretch that still lets the rest match. Which positions
        can still match the rest come from one pass of the reversed pattern over the
        reversed ref, so this is linear too.
        """
        tokens, n, m = self._tokens, len(ref), len(self._tokens)
        # rest[k] has bit m - i set when tokens[i:] matches ref[k:].
        rest = _PositionSets(tokens[::-1]).states(ref[::-1])[::-1]
        if not rest[0] >> m & 1:
            return None
        out: list[tuple[int, int]] = []
        i = k = start = 0
        while i < m:
            token = tokens[i]
            if token not in _STARS:
                out.append((k, k + 1))
                i, k, start = i + 1, k + 1, k + 1
            elif k < n and _step(token, ref[k]) and rest[k + 1] >> (m - i) & 1:
                k += 1
            else:
                out.append((start, k))
                i, start = i + 1, k
        return out

    @property
    def is_literal(self) -> bool:
        """True if the pattern has no glob characters (it names one ref)."""
        return self.literal_prefix == self.pattern


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> RefPattern:
    """Compile a ref glob; raise InvalidRefError for an invalid one."""
    validate_ref(pattern, "partition pattern")
    return RefPattern(pattern, _tokens(pattern))


_FIELD = re.compile(r"\{(\w+)\}")


class RefTemplate:
    """A ref glob with named fields, e.g. ``daily_votes/{date}/{color}`` (job outputs).

    A field matches one or more characters within a segment, like ``?*``; the rest
    is a glob with the meaning ``compile_pattern`` gives it. When a ref can be split
    more than one way, each field and star takes the longest stretch that still lets
    the rest match, from the left (as a regex's greedy groups would).
    """

    def __init__(self, template: str) -> None:
        validate_ref(template, "ref template")
        parts = _FIELD.split(template)
        names = parts[1::2]
        if len(set(names)) != len(names):
            raise InvalidRefError(f"ref template {template!r} names a field twice")
        tokens: list[str] = []
        self._fields: list[tuple[str, int]] = []  # (name, index of its "?" token; its "*" follows)
        for i, part in enumerate(parts):
            if i % 2:
                self._fields.append((part, len(tokens)))
                tokens += ["?", "*"]
            else:
                tokens += _tokens(part)
        self.template = template
        self._pattern = RefPattern(template, tokens)
        # Where at most one field or star shares a segment, a regex finds the same fields
        # in linear time (see _regex_is_linear), far faster than the spans simulation.
        self._regex: re.Pattern[str] | None = None
        if _regex_is_linear(tokens):
            self._regex = re.compile("".join("([^/]+)" if i % 2 else _glob_regex(_tokens(part))
                                             for i, part in enumerate(parts)), re.DOTALL)

    def __repr__(self) -> str:
        return f"RefTemplate({self.template!r})"

    @property
    def names(self) -> tuple[str, ...]:
        """The template's field names, in order."""
        return tuple(name for name, _ in self._fields)

    @property
    def pattern(self) -> str:
        """A glob matching every ref the template matches (each field a ``*``), for indexed pre-filters."""
        return _FIELD.sub("*", self.template)

    def matches(self, ref: str) -> bool:
        """True if ``ref`` matches the whole template."""
        return self._pattern.matches(ref)

    def fields(self, ref: str) -> dict[str, str] | None:
        """The value of each field in ``ref``, or None if ``ref`` does not match."""
        if self._regex is not None:
            found = self._regex.fullmatch(ref)
            return None if found is None else dict(zip(self.names, found.groups()))
        spans = self._pattern.spans(ref)
        if spans is None:
            return None
        return {name: ref[spans[at][0] : spans[at + 1][1]] for name, at in self._fields}


_SQLITE_GLOB = {"**": "*", "[": "[[]"}


def sqlite_glob(pattern: str) -> str:
    """A SQLite GLOB matching every ref ``pattern`` matches (and possibly more).

    GLOB's ``*`` and ``?`` also match ``/``; the rest means the same. So when the
    pattern has no ``**``, GLOB plus the ref's number of ``/`` (``slash_count``) is
    exact: the pattern's ``/`` then pair off with all of the ref's, leaving none
    for a wildcard. With ``**`` it is a pre-filter before the exact ``ref_match``.
    (``?`` stays ``?``: ``[^/]`` would be tighter, but after a ``*`` SQLite tries a
    class at every position, five times slower than its scan for a ``?``.)

    GLOB is safe on hostile patterns: SQLite's matcher stops trying a star's
    positions once the rest of the pattern ran off the end of the text, which keeps
    it polynomial (``*a*a*a*a*a*a*a*ab`` against 1024 characters: well under a
    millisecond).
    """
    return "".join(_SQLITE_GLOB.get(t, t) for t in _tokens(pattern))


def posix_regex(pattern: str) -> str:
    """An anchored POSIX (PostgreSQL ``~``) regular expression matching exactly the refs
    ``pattern`` matches: ``**`` is ``.*``, ``*`` is ``[^/]*``, ``?`` is ``[^/]``, the rest
    literal. PostgreSQL's engine is not a backtracking one, so no shape of pattern makes
    it exponential.
    """
    return "^" + "".join(_TOKEN_REGEX.get(t) or re.escape(t) for t in _tokens(pattern)) + "$"


def prefix_upper_bound(prefix: str) -> str | None:
    """Smallest string greater than every string starting with ``prefix``.

    Used to turn a literal prefix into an index range ``prefix <= key < upper``.
    None means no upper bound (empty prefix).
    """
    while prefix and ord(prefix[-1]) == 0x10FFFF:
        prefix = prefix[:-1]
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def patterns_overlap(a: str, b: str) -> bool:
    """True if some ref matches both globs (emptiness of their intersection).

    Search over pairs of positions in the two token lists, each visited once, so
    O(len(a) * len(b)): a star may be skipped (matches nothing) or consume a
    character both sides accept.
    ``rules/private/patterns.bzl`` implements the same search in Starlark.
    """
    ta, tb = _tokens(a), _tokens(b)
    seen, todo = {(0, 0)}, [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == len(ta) and j == len(tb):
            return True
        moves = []
        if i < len(ta) and ta[i] in _STARS:
            moves.append((i + 1, j))
        if j < len(tb) and tb[j] in _STARS:
            moves.append((i, j + 1))
        if i < len(ta) and j < len(tb) and _compatible(ta[i], tb[j]):
            moves.append((i + (ta[i] not in _STARS), j + (tb[j] not in _STARS)))
        for move in moves:
            if move not in seen and move != (i, j):
                seen.add(move)
                todo.append(move)
    return False


def _compatible(x: str, y: str) -> bool:
    """Is there a character both tokens accept?"""
    if x not in _WILDCARDS and y not in _WILDCARDS:
        return x == y
    if x not in _WILDCARDS:
        return _step(y, x)
    if y not in _WILDCARDS:
        return _step(x, y)
    return True  # any two wildcards share a non-'/' character
