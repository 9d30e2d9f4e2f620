"""The Starlark cron check (rules/private/cron.bzl) agrees with databuild.triggers.cron.check_cron."""

import json
import os
import sys
import unittest

from databuild.errors import InvalidArgumentError
from databuild.triggers.cron import check_cron


def _results() -> list:
    root = os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"])
    with open(os.path.join(root, "tests/rules/cron_matrix.json"), encoding="utf-8") as f:
        return json.load(f)["results"]


def _python_accepts(expr: str) -> bool:
    try:
        check_cron(expr, "UTC")
    except InvalidArgumentError:
        return False
    return True


class CronParityTest(unittest.TestCase):
    def test_every_expression_gets_the_verdict_of_python(self):
        results = _results()
        valid = [expr for expr, problem in results if problem is None]
        self.assertGreater(len(valid), 1000)
        self.assertGreater(len(results) - len(valid), 1000)
        wrong = [(expr, problem) for expr, problem in results if (problem is None) != _python_accepts(expr)]
        self.assertEqual(wrong, [], "Starlark cron_problem (problem or None) differs from check_cron")

    def test_a_refusal_says_why(self):
        problems = dict(_results())
        self.assertEqual(problems["0 25 * * *"], 'hour "25" is out of range 0-23')
        self.assertEqual(problems["0 0 31 2 *"], 'day of month "31" never occurs in month "2"')
        self.assertEqual(problems["R * * * *"], 'field "r": hashed (H) and random (R) values are not supported')


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
