#!/usr/bin/env bash
# The browser suite: headless Chromium from the OS packages (installed if missing), the SDK built,
# test/browser/*.test.ts once (on the default transport).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/ci/ensure-chromium.sh
npm run --silent build:client
started=$SECONDS
echo "=== browser (Chromium)"
TIDINGS_TEST_TRANSPORT=ws node --import tsx --test --test-concurrency=1 test/browser/*.test.ts
echo "=== browser: $((SECONDS - started)) s"
