"""Ref-pattern matching: equal to the definition, and linear on hostile patterns.

The reference below is the definition of a glob (``*`` and ``?`` within one
``/``-separated segment, ``**`` across segments) as a memoised recursion; the
matcher must agree with it everywhere and still finish on patterns that make a
backtracking regex run for hours.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import signal
from typing import Iterator

import pytest
from hypothesis import example, given, settings, strategies as st

from databuild.errors import InvalidRefError
from databuild.events import EventFilter
from databuild.job import Job, JobRun
from databuild.refs import RefTemplate, compile_pattern, patterns_overlap
from databuild.state import open_state_store
from eventgen import partition_event


def reference_match(pattern: str, ref: str) -> bool:
    """The glob definition, read left to right (``***`` is ``**`` then ``*``)."""

    @functools.lru_cache(maxsize=None)
    def rest(i: int, j: int) -> bool:  # pattern[i:] matches ref[j:]
        if i == len(pattern):
            return j == len(ref)
        more = j < len(ref)
        if pattern.startswith("**", i):
            return rest(i + 2, j) or (more and rest(i, j + 1))
        if pattern[i] == "*":
            return rest(i + 1, j) or (more and ref[j] != "/" and rest(i, j + 1))
        if pattern[i] == "?":
            return more and ref[j] != "/" and rest(i + 1, j + 1)
        return more and ref[j] == pattern[i] and rest(i + 1, j + 1)

    return rest(0, 0)


def reference_spans(pattern: str, ref: str) -> list[tuple[int, int]] | None:
    """What a backtracking regex with one group per token reports (greedy stars)."""
    groups = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            groups.append("(.*)")
            i += 2
        else:
            groups.append({"*": "([^/]*)", "?": "([^/])"}.get(pattern[i], f"({re.escape(pattern[i])})"))
            i += 1
    found = re.fullmatch("".join(groups), ref, re.DOTALL)
    return None if found is None else [found.span(g) for g in range(1, len(groups) + 1)]


patterns = st.lists(st.sampled_from(["a", "b", "/", "*", "**", "?"]), min_size=1, max_size=10).map("".join)
# Refs may hold '*' and '?' themselves: a pattern's wildcards match them like any character.
refs = st.text(alphabet="ab/*?", max_size=14)
# At most one '*' per segment and no '**': the shape matched by a regex.
segment = st.lists(st.sampled_from(["a", "b", "?"]), max_size=3).flatmap(
    lambda chars: st.integers(0, len(chars)).map(lambda at: chars[:at] + ["*"] + chars[at:]) | st.just(chars)
).map("".join)
one_star_per_segment = st.lists(segment, min_size=1, max_size=4).map("/".join).filter(bool)


@settings(max_examples=600, deadline=None)
@given(patterns, refs)
@example("***", "a/b")
@example("a**b*", "a/xb/")
@example("*/**", "a/")
def test_matches_the_definition(pattern: str, ref: str) -> None:
    assert compile_pattern(pattern).matches(ref) is reference_match(pattern, ref)


@settings(max_examples=300, deadline=None)
@given(one_star_per_segment | patterns.map(lambda p: p.replace("*", "") + "**"), refs)
def test_regex_shapes_match_the_definition(pattern: str, ref: str) -> None:
    assert compile_pattern(pattern).matches(ref) is reference_match(pattern, ref)


@settings(max_examples=500, deadline=None)
@given(patterns, refs)
@example("*?*", "ab/")
@example("a*b*", "abab")
def test_spans_are_those_of_a_greedy_regex(pattern: str, ref: str) -> None:
    assert compile_pattern(pattern).spans(ref) == reference_spans(pattern, ref)


@settings(max_examples=300, deadline=None)
@given(patterns, st.text(alphabet="ab/", min_size=1, max_size=12))
def test_overlap_with_a_literal_ref_is_a_match(pattern: str, ref: str) -> None:
    """Ties the overlap search (and its Starlark port) to the matcher."""
    assert patterns_overlap(pattern, ref) is reference_match(pattern, ref)


class StillRunning(Exception):
    """The alarm went off: the code under test did not finish in time."""


@contextlib.contextmanager
def finishes_within(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging) if the block runs past ``seconds``.

    A hang guard, not a timing assertion: the linear matcher takes milliseconds
    here, a backtracking one longer than the age of the universe.
    """

    def expire(signum: int, frame: object) -> None:
        raise StillRunning(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


HOSTILE = [
    # (pattern, ref, matches)
    ("*a*a*a*a*a*a*a*ab", "a" * 1024, False),
    ("*a*a*a*a*a*a*a*ab", "a" * 1022 + "ab", True),
    ("*a*a*a*a*a*a*a*ab", "a" * 500 + "/" + "a" * 521 + "ab", False),
    ("**a**a**a**a**b", "a" * 1024, False),
    ("**a**a**a**a**b", "a/" * 511 + "ab", True),
    ("**a**a**a**a**b", "a/" * 512, False),
    ("*?" * 12 + "b", "a" * 1024, False),
    ("?" * 1000 + "*" * 24, "a" * 1024, True),
    ("?*" * 20 + "b", "a" * 1023 + "c", False),
    ("**/*a*a*a*a*a*ab", ("a" * 31 + "/") * 31 + "a" * 32, False),
]


@pytest.mark.parametrize("pattern, ref, matches", HOSTILE)
def test_hostile_patterns_finish(pattern: str, ref: str, matches: bool) -> None:
    compiled = compile_pattern(pattern)
    with finishes_within(5):
        assert compiled.matches(ref) is matches
        assert (compiled.spans(ref) is not None) is matches
        assert patterns_overlap(pattern, ref) is matches


# Refs for the backend property: '[', ']', '^' and '-' are GLOB syntax, 'é' two UTF-8 bytes.
STORED_REFS = sorted({
    "".join(chars)
    for n in range(1, 4)
    for chars in itertools.product("a/*?[é", repeat=n)
} | {"a]b", "a^b", "a-b", "[a-b]", "a/b/c", "ab/ba/"})


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def stored(request, tmp_path_factory):
    uri = "memory://" if request.param == "memory" else f"sqlite://{tmp_path_factory.mktemp('bel')}/bel.sqlite3"
    store = open_state_store(uri)
    store.log.append([partition_event(ref) for ref in STORED_REFS])
    yield store
    store.close()


glob_patterns = st.lists(st.sampled_from(["a", "/", "*", "**", "?", "[", "]", "é", "^", "-"]), min_size=1,
                         max_size=6).map("".join)


@settings(max_examples=200, deadline=None)
@given(pattern=glob_patterns)
@example(pattern="[a-b]")
@example(pattern="*/*")
@example(pattern="?")
def test_backend_pattern_queries_match_the_definition(stored, pattern: str) -> None:
    """Each backend's SQL (GLOB, '/' count, prefix range, ref_match) selects exactly the matches."""
    expected = [ref for ref in STORED_REFS if reference_match(pattern, ref)]
    assert [p.ref for p in stored.partitions(pattern, limit=10_000)] == expected
    feed = stored.log.list_events(0, EventFilter(ref_patterns=(pattern,)), limit=10_000).events
    assert sorted(e.partition_status_changed.ref for e in feed) == expected


@pytest.mark.parametrize("scheme", ["memory", "sqlite"])
def test_backend_pattern_queries_finish_on_hostile_patterns(scheme: str, tmp_path) -> None:
    """The read-model query and the event feed, each with its pre-filters, on hostile rows."""
    store = open_state_store("memory://" if scheme == "memory" else f"sqlite://{tmp_path}/bel.sqlite3")
    try:
        hostile_refs = sorted({ref for _, ref, _ in HOSTILE} | {"daily_votes/2025-01-01/red"})
        store.log.append([partition_event(ref) for ref in hostile_refs])
        with finishes_within(5):
            for pattern in sorted({p for p, _, _ in HOSTILE}):
                expected = [ref for ref in hostile_refs if compile_pattern(pattern).matches(ref)]
                assert [p.ref for p in store.partitions(pattern)] == expected, pattern
                feed = store.log.list_events(0, EventFilter(ref_patterns=(pattern,)), limit=100).events
                assert [e.partition_status_changed.ref for e in feed] == expected, pattern
    finally:
        store.close()


# --- templates with named fields (the job SDK's outputs) ------------------------------


def reference_fields(template: str, ref: str) -> dict[str, str] | None:
    """A greedy regex: each ``{name}`` one or more non-'/' characters, the rest a glob."""
    parts = re.split(r"\{(\w+)\}", template)
    glob = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    regex = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else "".join(glob.get(t) or re.escape(t) for t in re.findall(r"\*\*|.", part))
        for i, part in enumerate(parts)
    )
    found = re.fullmatch(regex, ref, re.DOTALL)
    return None if found is None else found.groupdict()


templates = (
    st.lists(st.sampled_from(["a", "b", "/", "*", "**", "?", "{x}", "{y}", "{z}"]), min_size=1, max_size=8)
    .map("".join)
    .filter(lambda t: all(t.count(field) <= 1 for field in ("{x}", "{y}", "{z}")))
)


@settings(max_examples=500, deadline=None)
@given(templates, refs)
@example("{x}*", "ab")
@example("{x}**", "ab/c")
@example("{x}{y}", "abc")
def test_template_fields_are_those_of_a_greedy_regex(template: str, ref: str) -> None:
    compiled = RefTemplate(template)
    assert compiled.fields(ref) == reference_fields(template, ref)
    assert compiled.matches(ref) is (reference_fields(template, ref) is not None)


def test_template_fields_on_a_hostile_template_finish(capsys) -> None:
    job = Job(outputs="{a}{b}{c}{d}{e}{f}{g}{h}/x")
    job.config(lambda ref: JobRun(outputs=[ref]))
    with finishes_within(5):
        assert RefTemplate("{a}{b}{c}{d}{e}{f}{g}{h}/x").fields("a" * 1022 + "/x") is not None
        with pytest.raises(SystemExit) as info:
            job.main(["config", "a" * 1024])
    assert info.value.code == 2 and "match none of this job's outputs" in capsys.readouterr().err


def test_template_names_each_field_once() -> None:
    with pytest.raises(InvalidRefError, match="names a field twice"):
        RefTemplate("daily/{date}/{date}")
