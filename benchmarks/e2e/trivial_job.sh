#!/bin/sh
# flat/<i>: no inputs; chain/<i>: needs chain/<i-1> (chain/0 none). A run spawns
# `python3 -c pass`, as the peers' benchmark tasks do. `config --persistent` answers one
# line of refs per line of stdin (the chain's job declares persistent_config).
configs() {
  printf '{"configs": ['; sep=
  for r in "$@"; do
    inputs=
    case $r in
      chain/0) ;;
      chain/*) inputs="{\"ref\": \"chain/$(( ${r#chain/} - 1 ))\", \"dep_type\": \"materialize\"}" ;;
    esac
    printf '%s{"outputs": ["%s"], "inputs": [%s], "args": ["%s"]}' "$sep" "$r" "$inputs" "$r"; sep=,
  done
  printf ']}\n'
}
case "${1:-}" in
  config)
    shift
    if [ "${1:-}" = --persistent ]; then
      while read -r line; do
        # shellcheck disable=SC2086 # the refs of one request, separated by spaces
        configs $line
      done
    else
      configs "$@"
    fi ;;
  exec) exec python3 -c pass ;;
  *) echo "usage: $0 config REF... | config --persistent | exec REF" >&2; exit 2 ;;
esac
