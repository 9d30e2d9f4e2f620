#!/bin/sh
echo "remote_coverage_tools stub: 'bazel coverage' is not available offline (see tools/bazel_setup)." >&2
exit 1
