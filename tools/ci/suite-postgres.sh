#!/usr/bin/env bash
# The PostgreSQL suite: a throw-away cluster (tools/ci/postgres.sh: installed from the OS packages
# if missing, no systemd, removed afterwards), then every suite but the browser's on it, with the
# storage conformance and migration tests run on both dialects. The cluster tests (several server
# processes on one database and a redis-server) run here, since they need PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/../.."
tests=$(ls test/*/*.test.ts | grep -v '^test/browser/' | tr '\n' ' ')
started=$SECONDS
echo "=== postgres, ws"
# shellcheck disable=SC2086
bash tools/ci/postgres.sh run env TIDINGS_TEST_DIALECT=postgres TIDINGS_TEST_DIALECTS=sqlite,postgres TIDINGS_TEST_TRANSPORT=ws \
  node --import tsx --test --test-concurrency=2 $tests
echo "=== postgres: $((SECONDS - started)) s"
