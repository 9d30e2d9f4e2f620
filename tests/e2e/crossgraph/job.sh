#!/bin/sh
# The one job of the cross-graph fixtures: builds <out>/<i> from <in>/<i>, where graph c
# reads b and b reads a (c/7 from b/7, b/7 from a/7); other refs (graph a's trivial job)
# have no inputs. `exec` writes nothing: the partitions are only recorded.
case "${1:-}" in
  config)
    shift; printf '{"configs": ['; sep=
    for r in "$@"; do
      case "$r" in
        b/*) inputs="[{\"ref\": \"a/${r#*/}\", \"dep_type\": \"materialize\"}]" ;;
        c/*) inputs="[{\"ref\": \"b/${r#*/}\", \"dep_type\": \"materialize\"}]" ;;
        *) inputs="[]" ;;
      esac
      printf '%s{"outputs": ["%s"], "inputs": %s}' "$sep" "$r" "$inputs"; sep=,
    done
    printf ']}\n' ;;
  exec) exit 0 ;;
  *) echo "usage: $0 config REF... | exec ARGS..." >&2; exit 2 ;;
esac
