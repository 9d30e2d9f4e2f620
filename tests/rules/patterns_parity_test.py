"""The Starlark port of patterns_overlap (rules/private/patterns.bzl) agrees with Python's.

A pattern without wildcards is a literal ref, so on those pairs the Starlark verdict
must also be Python's matcher's (``compile_pattern(...).matches``).
"""

import json
import os
import sys
import unittest

from databuild.refs import compile_pattern, patterns_overlap


def _matrix() -> dict:
    root = os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"])
    with open(os.path.join(root, "tests/rules/overlap_matrix.json")) as f:
        return json.load(f)


class PatternsParityTest(unittest.TestCase):
    def test_every_pair_agrees_with_python(self):
        pairs = _matrix()["pairs"]
        self.assertGreater(len(pairs), 100)
        wrong = [(a, b, got) for a, b, got in pairs if got != patterns_overlap(a, b)]
        self.assertEqual(wrong, [], "Starlark verdict differs from databuild.refs.patterns_overlap")
        wrong = [(a, b, got) for a, b, got in pairs if got != patterns_overlap(b, a)]
        self.assertEqual(wrong, [], "verdict is not symmetric")

    def test_overlap_with_a_literal_is_the_matcher(self):
        pairs = _matrix()["pairs"]
        pairs = [(a, b, got) for a, b, got in pairs + [(b, a, got) for a, b, got in pairs] if not set("*?") & set(b)]
        self.assertGreater(sum(got for _, _, got in pairs), 50)
        wrong = [(a, b, got) for a, b, got in pairs if got != compile_pattern(a).matches(b)]
        self.assertEqual(wrong, [], "Starlark overlap with a literal ref differs from compile_pattern().matches")

    def test_invalid_patterns_are_rejected(self):
        invalid = _matrix()["invalid"]
        self.assertTrue(invalid)
        for pattern, problem in invalid.items():
            self.assertTrue(problem, f"Starlark accepted invalid pattern {pattern!r}")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
