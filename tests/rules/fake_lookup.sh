#!/bin/sh
# Test fixture for the DataBuild rules: a lookup that owns nothing (every ref is external).
sep=
printf '{'
for ref in "$@"; do
  printf '%s"%s": null' "$sep" "$ref"
  sep=', '
done
printf '}\n'
