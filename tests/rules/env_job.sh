#!/bin/sh
# Test fixture: a job that builds any env/<name> and prints, in its log, the variables a
# job must inherit from the user's environment untouched (not the CLI's own).
case "${1:-}" in
  config)
    shift
    printf '{"configs": ['; sep=
    for r in "$@"; do printf '%s{"outputs": ["%s"]}' "$sep" "$r"; sep=,; done
    printf ']}\n' ;;
  exec) echo "PYTHONPATH=${PYTHONPATH-<unset>}" ;;
  *) echo "usage: $0 config REF... | exec" >&2; exit 2 ;;
esac
