"""Bazel smoke test: `databuild` and `google.protobuf` import under `bazel test`.

Prints the interpreter so the test log shows which Python Bazel used (on
offline machines: the project virtualenv, via tools/bazel_setup).
"""

import os
import shutil
import sys
import unittest


class ImportTest(unittest.TestCase):
    def test_interpreter(self):
        print("sys.executable:", sys.executable)
        print("sys.prefix:", sys.prefix)
        print("sys.version:", sys.version.replace("\n", " "))
        print("python3 on PATH:", shutil.which("python3"))
        self.assertGreaterEqual(sys.version_info[:2], (3, 8))

    def test_databuild(self):
        import databuild

        print("databuild:", databuild.__file__)
        self.assertIsInstance(databuild.__version__, str)
        self.assertTrue(databuild.__version__)
        # The package must come from the py_library in this test's runfiles,
        # not from an editable install of the source tree in the virtualenv.
        runfiles = os.environ.get("RUNFILES_DIR") or os.environ.get("TEST_SRCDIR")
        if runfiles:
            self.assertTrue(
                os.path.abspath(databuild.__file__).startswith(os.path.abspath(runfiles) + os.sep),
                "databuild imported from %s, outside the runfiles %s" % (databuild.__file__, runfiles),
            )

    def test_protobuf(self):
        import google.protobuf

        print("google.protobuf:", google.protobuf.__version__, google.protobuf.__file__)
        self.assertTrue(google.protobuf.__version__)


if __name__ == "__main__":
    unittest.main(verbosity=2)
