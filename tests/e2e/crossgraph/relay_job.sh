#!/bin/sh
# Builds <graph>/<i> from the upstream's <up>/<i>: b/<i> needs a/<i>, c/<i> needs b/<i>
# (the runs do nothing else). a's own job (a_own/<i>) needs nothing.
case "${1:-}" in
  config)
    shift; printf '{"configs": ['; sep=
    for r in "$@"; do
      case $r in
        b/*) inputs="{\"ref\": \"a/${r#b/}\", \"dep_type\": \"materialize\"}" ;;
        c/*) inputs="{\"ref\": \"b/${r#c/}\", \"dep_type\": \"materialize\"}" ;;
        *) inputs= ;;
      esac
      printf '%s{"outputs": ["%s"], "inputs": [%s], "args": ["%s"]}' "$sep" "$r" "$inputs" "$r"; sep=,
    done
    printf ']}\n' ;;
  exec) exit 0 ;;
  *) echo "usage: $0 config REF... | exec REF" >&2; exit 2 ;;
esac
