#!/usr/bin/env bash
# CI: what the hub's tests (tests/test_hub.py) need beyond `make test`'s own: Node.js and npm (Debian's
# packages) for configurable-http-proxy, which comes from the npm registry (hub/package-lock.json).
# PostgreSQL's server programs are installed by .ci/run already. Runs as root in CI; elsewhere it warns.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing nodejs npm from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "warning: npm missing and cannot be installed here; tests/test_hub.py will skip" >&2
    exit 0
  fi
fi
if [ ! -x hub/node_modules/.bin/configurable-http-proxy ]; then
  npm ci --prefix hub --no-audit --no-fund
fi
