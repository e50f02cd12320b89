#!/usr/bin/env bash
# fuzz.sh [DURATION] — run every `func FuzzXxx` target in the module for DURATION (default 10s) each.
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-10s}"
n=0
while IFS=: read -r file _ line; do
  name="$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")"
  pkg="./$(dirname "$file")"
  echo "--- fuzz $pkg $name ($dur)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$dur" -fuzzminimizetime=50x "$pkg"
  n=$((n + 1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | grep -v '/\.git/' | sort)
echo "fuzz: $n targets ran for $dur each"
if [ "$n" -eq 0 ] && [ "${CI:-}" = "true" ]; then echo "fuzz: no targets found" >&2; exit 1; fi
