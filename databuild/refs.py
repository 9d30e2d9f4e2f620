"""Partition refs and ref patterns (globs).

A ref is non-empty, at most 1024 characters, with no whitespace or control
characters. In a pattern ``*`` and ``?`` stay within one ``/``-separated segment and
``**`` crosses segments, so ``daily_votes/*/red`` matches ``daily_votes/2025-01-01/red``
and ``raw/**`` matches everything under ``raw/``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable

from databuild.errors import InvalidRefError

MAX_REF_LENGTH = 1024
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")
_GLOB_CHARS = re.compile(r"[*?]")


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


@dataclass(frozen=True)
class RefPattern:
    """A compiled ref glob."""

    pattern: str
    regex: re.Pattern[str]
    literal_prefix: str

    def matches(self, ref: str) -> bool:
        """True if ``ref`` matches the whole pattern."""
        return self.regex.fullmatch(ref) is not None

    @property
    def is_literal(self) -> bool:
        """True if the pattern has no glob characters (it names one ref)."""
        return self.literal_prefix == self.pattern


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> RefPattern:
    """Compile a ref glob; raise InvalidRefError for an invalid one."""
    validate_ref(pattern, "partition pattern")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    first_glob = _GLOB_CHARS.search(pattern)
    prefix = pattern if first_glob is None else pattern[: first_glob.start()]
    return RefPattern(pattern, re.compile("".join(out), re.DOTALL), prefix)


def sqlite_glob(pattern: str) -> str:
    """A SQLite GLOB matching every ref ``pattern`` matches (and possibly more).

    GLOB's ``*`` also crosses ``/``, so it is a cheap pre-filter that lets SQLite
    skip most keys before the exact ``ref_match`` function runs.
    """
    return pattern.replace("[", "[[]").replace("**", "*")


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


def _tokens(pattern: str) -> list[str]:
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


def patterns_overlap(a: str, b: str) -> bool:
    """True if some ref matches both globs (emptiness of their intersection).

    Breadth-first search over pairs of positions in the two token lists: a star
    may be skipped (matches nothing) or consume a character both sides accept.
    ``rules/private/patterns.bzl`` implements the same search in Starlark.
    """
    ta, tb = _tokens(a), _tokens(b)
    seen, todo = {(0, 0)}, [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == len(ta) and j == len(tb):
            return True
        moves = []
        if i < len(ta) and ta[i] in ("*", "**"):
            moves.append((i + 1, j))
        if j < len(tb) and tb[j] in ("*", "**"):
            moves.append((i, j + 1))
        if i < len(ta) and j < len(tb) and _compatible(ta[i], tb[j]):
            moves.append((i + (ta[i] not in ("*", "**")), j + (tb[j] not in ("*", "**"))))
        for move in moves:
            if move not in seen and move != (i, j):
                seen.add(move)
                todo.append(move)
    return False


def _compatible(x: str, y: str) -> bool:
    """Is there a character both tokens accept?"""
    wild = ("*", "**", "?")
    if x not in wild and y not in wild:
        return x == y
    if x not in wild:
        return _step(y, x)
    if y not in wild:
        return _step(x, y)
    return True  # any two wildcards share a non-'/' character
