#!/usr/bin/env bash
# check.sh — what can be checked of the macOS build on a Linux machine:
# every package that needs no cgo compiles for darwin/arm64, and those
# that must stay pure Go (the vault, consent, sync, the server, the
# platform layer…) are among them. The app itself needs cgo
# against Apple's SDK (Fyne's Cocoa/OpenGL driver, PortAudio on Core Audio,
# libopus): that part is built on a Mac (docs/platforms.md, "macOS").
set -euo pipefail
cd "$(dirname "$0")/../.."
GO="${GO:-go}"
must=(consent vault sync sync/server sync/server/consentpage cmd/assentd internal/config
  internal/platform internal/workspace)
# arm64 only: Apple Silicon is what Macs ship; amd64 differs in no Go code here
# and would double the (cgo-free but large: modernc.org/sqlite) compile in CI.
for arch in arm64; do
  pkgs="$(CGO_ENABLED=0 GOOS=darwin GOARCH=$arch $GO list -e \
    -f '{{if not (or .Error .DepsErrors)}}{{.ImportPath}}{{end}}' ./... | grep . || true)"
  for m in "${must[@]}"; do
    if ! grep -qx "github.com/assent-app/assent/$m" <<<"$pkgs"; then
      echo "darwin-check: ./$m no longer builds for macOS without cgo; keep it pure Go (or give its system code a darwin file):" >&2
      CGO_ENABLED=0 GOOS=darwin GOARCH=$arch $GO build "./$m" 2>&1 | head -5 >&2
      exit 1
    fi
  done
  # shellcheck disable=SC2086
  CGO_ENABLED=0 GOOS=darwin GOARCH=$arch $GO build $pkgs
  echo "darwin-check: $(wc -l <<<"$pkgs") pure-Go packages build for darwin/$arch"
done
cgo="$(CGO_ENABLED=0 GOOS=darwin $GO list -e -f '{{if or .Error .DepsErrors}}{{.ImportPath}}{{end}}' ./... | grep . | sed 's|github.com/assent-app/assent|.|' | tr '\n' ' ')"
echo "darwin-check: need cgo with Apple's SDK, built on a Mac: $cgo"
