"""The Starlark duration parser (rules/private/durations.bzl) agrees with databuild.timespec."""

import json
import os
import sys
import unittest

from databuild.errors import InvalidArgumentError
from databuild.timespec import parse_duration, parse_positive_duration


def _results() -> list:
    root = os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"])
    with open(os.path.join(root, "tests/rules/duration_matrix.json"), encoding="utf-8") as f:
        return json.load(f)["results"]


def _python(parse, text: str):
    try:
        return parse(text)
    except InvalidArgumentError:
        return None


class DurationsParityTest(unittest.TestCase):
    def test_every_input_agrees_with_python(self):
        results = _results()
        valid = [text for text, seconds, _ in results if seconds is not None]
        self.assertGreater(len(valid), 500)
        self.assertGreater(len(results) - len(valid), 500)
        wrong = [(text, got) for text, got, _ in results if got != _python(parse_duration, text)]
        self.assertEqual(wrong, [], "Starlark parse_duration differs from databuild.timespec.parse_duration")

    def test_zero_is_refused_as_in_python(self):
        results = _results()
        self.assertIn(["0s", 0, None], results)
        wrong = [(text, got) for text, _, got in results if got != _python(parse_positive_duration, text)]
        self.assertEqual(wrong, [], "Starlark parse_positive_duration differs from Python's")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
