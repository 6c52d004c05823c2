#!/usr/bin/env bash
# The README's test command (`npm test`): brings up every real part the suites need, runs them,
# stops what it started. On a fresh machine it installs what is missing from the OS packages
# (apt-get): openssl (the fake vendors' TLS certificates), PostgreSQL, redis-server, Chromium.
#
#   bash tools/ci/test.sh            everything (what CI runs)
#   bash tools/ci/test.sh sqlite     only the SQLite half: no PostgreSQL, Redis or browser needed
set -euo pipefail
cd "$(dirname "$0")/../.."
only="${1:-all}"
here=tools/ci

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "missing $* and not root: install it and rerun" >&2; exit 1; fi
  if [ ! -f /tmp/.tidings-apt-updated ]; then apt-get update -qq >/dev/null && touch /tmp/.tidings-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v openssl >/dev/null 2>&1 || apt_install openssl
# The Redis engines' tests (test/cluster/) start throw-away redis-servers of their own.
command -v redis-server >/dev/null 2>&1 || apt_install redis-server

suite() { # name, env..., -- files
  local name=$1; shift
  local started=$SECONDS
  echo "=== $name"
  env "$@"
  echo "=== $name: $((SECONDS - started)) s"
}
# Every suite but the browser's (which needs Chromium, below).
tests=$(ls test/*/*.test.ts | grep -v '^test/browser/' | tr '\n' ' ')

npx tsc --noEmit
# The SDK package (client/dist) that its tests pack and the browser pages load.
npm run --silent build:client
# shellcheck disable=SC2086
suite "sqlite, ws" TIDINGS_TEST_TRANSPORT=ws node --import tsx --test --test-concurrency=2 $tests
# shellcheck disable=SC2086
suite "sqlite, uws" TIDINGS_TEST_TRANSPORT=uws node --import tsx --test --test-concurrency=2 $tests
[ "$only" = sqlite ] && exit 0

for part in postgres browser; do
  if [ -f "$here/suite-$part.sh" ]; then bash "$here/suite-$part.sh"; fi
done
