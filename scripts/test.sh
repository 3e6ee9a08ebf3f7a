#!/usr/bin/env bash
# The test command: installs what the tests need, runs the whole suite, then the release build the
# Dockerfile runs (CI has no container engine), reporting the binary's size and ldd output.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
scripts/release-build.sh
