"""The Starlark template, timezone and trigger name checks agree with Python's.

rules/private/fields.bzl against databuild.triggers.fields, and the trigger name check
of rules/private/trigger.bzl against databuild.graph.manifest.trigger_name_problem.
"""

import json
import os
import sys
import unittest

from databuild.errors import InvalidArgumentError
from databuild.graph.manifest import trigger_name_problem
from databuild.triggers.fields import (
    TICK_FIELDS, Field, check_fields, check_partitions_template, check_timezone, on_template_captures,
)


def _doc() -> dict:
    root = os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"])
    with open(os.path.join(root, "tests/rules/fields_matrix.json"), encoding="utf-8") as f:
        return json.load(f)


def _accepts(check, *args) -> bool:
    try:
        check(*args)
    except InvalidArgumentError:
        return False
    return True


class FieldsParityTest(unittest.TestCase):
    def test_the_tick_fields_are_the_same(self):
        self.assertEqual(_doc()["tick_fields"], list(TICK_FIELDS))

    def test_templates_get_the_verdicts_and_fields_of_python(self):
        rows = _doc()["templates"]
        self.assertGreater(sum(1 for row in rows if row[2] is None), 20)
        self.assertGreater(sum(1 for row in rows if row[3] is not None), 20)
        wrong = []
        for template, joined, partitions_problem, fields_problem, fields in rows:
            captures = frozenset(joined.split(",")) if joined else frozenset()
            if (partitions_problem is None) != _accepts(check_partitions_template, template, captures):
                wrong.append(("partitions", template, joined, partitions_problem))
            try:
                parts = check_fields(template, captures, "template")
            except InvalidArgumentError:
                parts = None
            python_fields = None if parts is None else \
                [[p.name, p.offset_seconds] for p in parts if isinstance(p, Field)]
            if python_fields != fields:
                wrong.append(("fields", template, joined, fields_problem, fields, python_fields))
        self.assertEqual(wrong, [])

    def test_on_templates_capture_the_same_fields(self):
        wrong = []
        for template, captures in _doc()["on"]:
            try:
                python = sorted(on_template_captures(template))
            except InvalidArgumentError:
                python = None
            if (sorted(captures) if captures is not None else None) != python:
                wrong.append((template, captures, python))
        self.assertEqual(wrong, [])

    def test_timezones_bazel_refuses_python_refuses_too(self):
        rows = _doc()["timezones"]
        self.assertTrue(any(problem for _, problem in rows))
        # Bazel checks the spelling only: an unknown zone is refused when the manifest loads.
        wrong = [(name, problem) for name, problem in rows if (problem is None) < _accepts(check_timezone, name)]
        self.assertEqual(wrong, [])
        self.assertFalse(_accepts(check_timezone, "Europe/Nowhere"))
        self.assertIn(["Europe/Nowhere", None], rows)

    def test_trigger_names_get_the_verdict_of_python(self):
        rows = _doc()["names"]
        wrong = [(name, problem) for name, problem in rows if (problem is None) != (trigger_name_problem(name) is None)]
        self.assertEqual(wrong, [])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
