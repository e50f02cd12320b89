#!/usr/bin/env bash
# npm-tools.sh — install the independent npm clients the Go tests run under
# node (tus-js-client) into artifacts/npm (gitignored). Idempotent; needs node
# and npm from Debian (scripts/deps.sh test). Tests find the tools through
# ASSENT_NPM_DIR, default <repo>/artifacts/npm.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${ASSENT_NPM_DIR:-$PWD/artifacts/npm}"
want=(tus-js-client@4.3.1)
mkdir -p "$dir"
if [ -f "$dir/node_modules/tus-js-client/package.json" ] && grep -q '"version": "4.3.1"' "$dir/node_modules/tus-js-client/package.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm-tools.sh: npm is missing; run scripts/deps.sh test" >&2; exit 1; }
npm install --silent --no-audit --no-fund --prefix "$dir" "${want[@]}"
