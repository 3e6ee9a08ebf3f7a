#!/usr/bin/env bash
# Reload benchmark: podagent vs. an inotifywait + curl loop, side by side, kubelet-exact updates.
# Prints latency percentiles, reload counts, missed final states, premature reloads, idle cost.
# Usage: scripts/bench.sh [extra reload_bench.py options, e.g. --updates 500 --podagent-args "--debounce 0"]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh curl
swift build -c release --product podagent >&2
bin=$(swift build -c release --show-bin-path)/podagent
python3 bench/reload_bench.py --podagent "$bin" "$@"
