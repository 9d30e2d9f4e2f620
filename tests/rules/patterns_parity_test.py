"""The Starlark port of patterns_overlap (rules/private/patterns.bzl) agrees with Python's."""

import json
import os
import sys
import unittest

from databuild.refs import patterns_overlap


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

    def test_invalid_patterns_are_rejected(self):
        invalid = _matrix()["invalid"]
        self.assertTrue(invalid)
        for pattern, problem in invalid.items():
            self.assertTrue(problem, f"Starlark accepted invalid pattern {pattern!r}")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
