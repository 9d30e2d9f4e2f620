#!/bin/sh
# report/<i> needs ingest/<i>; running it writes the time it started to $STAMPS/<i>.
case "${1:-}" in
  config)
    shift; printf '{"configs": ['; sep=
    for r in "$@"; do
      printf '%s{"outputs": ["%s"], "inputs": [{"ref": "ingest/%s", "dep_type": "materialize"}], "args": ["%s"]}' \
        "$sep" "$r" "${r#report/}" "$r"; sep=,
    done
    printf ']}\n' ;;
  exec)
    i=${2#report/}
    date +%s.%N > "$STAMPS/$i.tmp" && mv "$STAMPS/$i.tmp" "$STAMPS/$i" ;;
  *) echo "usage: $0 config REF... | exec REF" >&2; exit 2 ;;
esac
