#!/usr/bin/env bash
# Regenerates scripts/podagent.order, the function order the release build links with
# (scripts/release-build.sh): the functions a running podagent runs again and again (reloads, probes,
# scrapes), then those only start-up runs, then those only shutdown runs, found with callgrind
# (scripts/order-profile.py) and placed together at the start of .text. Code is mapped in blocks of
# 64 KiB or more, so scattered functions keep whole blocks of the binary resident; grouped, far fewer.
# Run it after changes that rename or add much of what runs on those paths; a stale file only orders
# less well (names it lists that no longer exist are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh --only libinotifytools0-dev binutils valgrind python3 >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Built exactly as the release is (the same sections, the same static libstdc++), so the names match.
scripts/release-build.sh "$work/podagent.stripped" >&2
bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-release --show-bin-path)/podagent
# valgrind cannot read this toolchain's DWARF 5; the symbol table is all it needs.
strip --strip-debug -o "$work/podagent" "$bin"
python3 scripts/order-profile.py "$work/podagent" "$work" > "$work/ran"
# Only functions defined in the binary (not glibc's): lld orders those.
nm --defined-only "$bin" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u > "$work/defined"
awk 'NR == FNR {defined[$0] = 1; next} defined[$0]' "$work/defined" "$work/ran" > scripts/podagent.order
echo "scripts/podagent.order: $(wc -l < scripts/podagent.order) functions" >&2
