#!/bin/sh
# `bazel test` smoke test: the graph command finds its runfiles through
# RUNFILES_DIR (set by the test runner) and lists the graph's jobs.
set -eu
out=$(tests/rules/g.build --json jobs list)
echo "$out"
case $out in
  *'"graph": "//tests/rules:g"'*'"//tests/rules:ingest"'*'"raw_votes/*"'*) ;;
  *) echo "unexpected output of g.build --json jobs list" >&2; exit 1 ;;
esac
