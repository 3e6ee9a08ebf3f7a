#!/usr/bin/env bash
# Reload benchmark: podagent vs. an inotifywait + curl loop, side by side, kubelet-exact updates.
# Prints latency percentiles, reload counts, missed final states, premature reloads, idle cost.
# Usage: scripts/bench.sh [extra reload_bench.py options, e.g. --updates 500 --podagent-args "--debounce 0"]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# The default package list has inotify-tools (the loop) and curl (its webhook call).
scripts/install-deps.sh
# The binary the README's numbers are for: the static, laid-out release build (dist/podagent).
scripts/release-build.sh dist/podagent >&2
python3 bench/reload_bench.py --podagent dist/podagent "$@"
