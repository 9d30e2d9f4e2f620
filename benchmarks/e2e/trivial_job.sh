#!/bin/sh
# flat/<i>: no inputs; chain/<i>: needs chain/<i-1> (chain/0 none). A run spawns
# `python3 -c pass`, as the peers' benchmark tasks do.
case "${1:-}" in
  config)
    shift; printf '{"configs": ['; sep=
    for r in "$@"; do
      inputs=
      case $r in
        chain/0) ;;
        chain/*) inputs="{\"ref\": \"chain/$(( ${r#chain/} - 1 ))\", \"dep_type\": \"materialize\"}" ;;
      esac
      printf '%s{"outputs": ["%s"], "inputs": [%s], "args": ["%s"]}' "$sep" "$r" "$inputs" "$r"; sep=,
    done
    printf ']}\n' ;;
  exec) exec python3 -c pass ;;
  *) echo "usage: $0 config REF... | exec REF" >&2; exit 2 ;;
esac
