import pytest

from databuild.errors import InvalidRefError
from databuild.refs import compile_pattern, prefix_upper_bound, validate_ref


@pytest.mark.parametrize("ref", ["daily_votes/2025-01-01/red", "s3://bkt/ds/date=2025-01-01", "x", "é/ü", "a" * 1024])
def test_valid_refs(ref):
    assert validate_ref(ref) == ref


@pytest.mark.parametrize(
    "ref, fragment",
    [("", "empty"), ("a" * 1025, "1025"), ("a b", "'a b'"), ("a\nb", "whitespace"), ("a\x00b", "control"),
     (None, "string"), ("a\u00a0b", "whitespace")],
)
def test_invalid_refs_name_the_value(ref, fragment):
    with pytest.raises(InvalidRefError) as info:
        validate_ref(ref)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "pattern, ref, matches",
    [
        ("daily_votes/*/red", "daily_votes/2025-01-01/red", True),
        ("daily_votes/*/red", "daily_votes/2025/01/red", False),
        ("daily_votes/**", "daily_votes/2025/01/red", True),
        ("raw/**", "raw", False),
        ("raw/**/x", "raw/a/b/x", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("a.c", "abc", False),
        ("s3://b/*", "s3://b/k", True),
    ],
)
def test_pattern_semantics(pattern, ref, matches):
    assert compile_pattern(pattern).matches(ref) is matches


def test_literal_prefix_and_upper_bound():
    p = compile_pattern("daily/2025-*/red")
    assert p.literal_prefix == "daily/2025-" and not p.is_literal
    assert compile_pattern("exact/ref").is_literal
    assert prefix_upper_bound("daily/2025-") == "daily/2025."
    assert prefix_upper_bound("") is None
