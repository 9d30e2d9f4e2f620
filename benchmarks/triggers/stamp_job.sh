#!/bin/sh
# out/<i> reads raw/<i>; running it writes the time it started to $STAMPS/<i>.
# held/<i> reads never/<i>, which nothing produces or lands: its wants wait, no job runs.
case "${1:-}" in
  config)
    shift; printf '{"configs": ['; sep=
    for r in "$@"; do
      case "$r" in
        out/*) input="raw/${r#out/}" ;;
        held/*) input="never/${r#held/}" ;;
        *) echo "no such partition: $r" >&2; exit 2 ;;
      esac
      printf '%s{"outputs": ["%s"], "inputs": [{"ref": "%s", "dep_type": "materialize"}], "args": ["%s"]}' \
        "$sep" "$r" "$input" "$r"; sep=,
    done
    printf ']}\n' ;;
  exec)
    i=${2#out/}
    date +%s.%N > "$STAMPS/$i.tmp" && mv "$STAMPS/$i.tmp" "$STAMPS/$i" ;;
  *) echo "usage: $0 config REF... | exec REF" >&2; exit 2 ;;
esac
