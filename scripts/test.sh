#!/usr/bin/env bash
# test.sh — everything `make test` runs, in order, failing fast:
#   1. go vet, gofmt check
#   2. build bin/assent (with -race, so Fyne is compiled once for tests and e2e) and bin/assentd (CGO_ENABLED=0)
#   3. go test -race over every package with the real parts up (scripts/with-real-parts.sh)
#   4. short fuzz runs of every Fuzz target (scripts/fuzz.sh)
#   5. end-to-end runs of the real binaries (scripts/e2e.sh)
# Under CI=true a test that needs a real part fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANG=en_US.UTF-8
GO="${GO:-go}"
step() { printf '\n=== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

step "go vet"
$GO vet ./...

step "gofmt"
bad="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))"
if [ -n "$bad" ]; then echo "gofmt needed on:"; echo "$bad"; exit 1; fi

step "build"
mkdir -p bin
$GO build -race -o bin/assent .
CGO_ENABLED=0 $GO build -o bin/assentd ./cmd/assentd

step "npm clients for the tests (tus-js-client)"
scripts/npm-tools.sh

step "go test -race (real parts)"
mkdir -p artifacts
scripts/with-real-parts.sh $GO test -race -count=1 -timeout 20m ./... 2>&1 | tee artifacts/go-test.log
test "${PIPESTATUS[0]}" -eq 0

step "fuzz"
scripts/fuzz.sh "${FUZZTIME:-5s}"

step "e2e"
scripts/with-real-parts.sh scripts/e2e.sh

step "done"
