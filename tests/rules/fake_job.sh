#!/bin/sh
# Test fixture for the DataBuild rules: a job that answers `config` with no configs.
case "${1:-}" in
  config) echo '{"configs": []}' ;;
  exec) exit 0 ;;
  *) echo "usage: $0 config REF... | exec ARGS..." >&2; exit 2 ;;
esac
