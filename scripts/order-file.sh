#!/usr/bin/env bash
# Regenerates scripts/podagent.order and scripts/podagent-helpers.ld, the code layout the release build
# links with (scripts/release-build.sh): the code a running podagent runs again and again (reloads,
# probes, scrapes), then what only start-up runs, then what only shutdown runs, found with callgrind by
# instruction address (scripts/order-profile.py) and placed together at the start of the code. Code is
# mapped in blocks of 64 KiB, so scattered functions keep whole blocks of the binary resident; grouped,
# far fewer. The order file names a symbol per section; sections whose names recur in other objects (the
# compiler's local helpers) are placed by file in the linker script instead.
# Run it after changes that rename or add much of what runs on those paths; stale files only order
# less well (names and sections they list that no longer exist are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh --only libinotifytools0-dev libyaml-dev binutils valgrind python3 >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Built exactly as the release is (the same sections, the same static libstdc++), so the names match.
PODAGENT_LINK_MAP="$work/podagent.map" scripts/release-build.sh "$work/podagent.stripped" >&2
bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-release --show-bin-path)/podagent
# valgrind cannot read this toolchain's DWARF 5; the symbol table is all it needs.
strip --strip-debug -o "$work/podagent" "$bin"
# Into the work directory first: a failed run leaves the files the build uses as they were.
python3 scripts/order-profile.py "$work/podagent" "$work" "$work/podagent.map" "$work/podagent-helpers.ld" \
  > "$work/podagent.order"
mv "$work/podagent.order" scripts/podagent.order
mv "$work/podagent-helpers.ld" scripts/podagent-helpers.ld
echo "scripts/podagent.order: $(wc -l < scripts/podagent.order) sections named;" \
  "scripts/podagent-helpers.ld: $(grep -c '^    \*' scripts/podagent-helpers.ld) placed by file" >&2
