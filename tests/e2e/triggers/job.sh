#!/bin/sh
# The one job of the trigger fixtures (tests/test_e2e_triggers.py): tick/<time> has no
# inputs (graph `ticking`), out/<n> reads raw/<n> (graph `down`, raw/* from its upstream
# `up`); other refs (graph up's trivial job) have none. `exec` writes nothing: the
# partitions are only recorded.
case "${1:-}" in
  config)
    shift; printf '{"configs": ['; sep=
    for r in "$@"; do
      case "$r" in
        out/*) inputs="[{\"ref\": \"raw/${r#*/}\", \"dep_type\": \"materialize\"}]" ;;
        *) inputs="[]" ;;
      esac
      printf '%s{"outputs": ["%s"], "inputs": %s}' "$sep" "$r" "$inputs"; sep=,
    done
    printf ']}\n' ;;
  exec) exit 0 ;;
  *) echo "usage: $0 config REF... | exec ARGS..." >&2; exit 2 ;;
esac
