#!/bin/sh
# A tiny job implementing the DataBuild job protocol in plain shell:
#   votes_job config REF...  -> one config producing all REFs, no inputs
#   votes_job exec           -> "produces" them (prints what it would write)
case "${1:-}" in
  config)
    shift
    outputs=
    for ref in "$@"; do outputs="$outputs${outputs:+, }\"$ref\""; done
    printf '{"configs": [{"outputs": [%s], "inputs": [], "args": [], "env": {}}]}\n' "$outputs"
    ;;
  exec)
    echo "producing $DATABUILD_OUTPUTS"
    ;;
  *)
    echo "usage: $0 config REF... | exec" >&2
    exit 2
    ;;
esac
