#!/usr/bin/env bash
# The release build, exactly as the Dockerfile runs it: Swift stdlib and FoundationEssentials linked
# statically (full Foundation is not: see the check below), symbols stripped. Prints the binary's size and
# what it still links dynamically (ldd).
# Usage: scripts/release-build.sh [output path, default dist/podagent]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
out=${1:-dist/podagent}
scripts/install-deps.sh --only libinotifytools0-dev libyaml-dev binutils >&2
start=$(date +%s)
# The binary's layout decides how much of it stays resident: code is mapped in blocks of 64 KiB or more,
# so one function run in a block keeps the whole block. Three things keep the blocks few (with the static
# libstdc++ below, idle RSS in bench/reload_bench.py went from 15.2 to 11.6 MB):
# - every function in a section of its own, in Swift and in C, so the linker can move each one;
# - the code that runs first (scripts/order-file.sh): what a running podagent runs again and again
#   (reloads, probes, scrapes), then what only start-up runs; named in scripts/podagent.order, and the
#   compiler's local helpers that run, whose names recur in many objects, placed by file in
#   scripts/podagent-helpers.ld (.text.helpers, just before); the objects the linker cannot split that
#   the steady state runs in (the standard library's Swift.o) after .text, in .text.whole;
# - the other functions without a symbol (value witnesses and other small functions the Swift compiler
#   makes private) in one block of their own after .text (scripts/layout.ld) instead of one next to each
#   type's code all over the binary.
# The same linker script keeps .rodata read-only (scripts/layout.ld), so that the pages of it only start-up
# read can be given back once podagent is up (Sources/PodAgentKit/Reload/StartupPages.swift).
sections=(-Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections)
layout=("${sections[@]}")
# Without the file (a trimmed copy of the sources) the build is the same, only laid out as the linker likes.
if [ -f scripts/podagent.order ]; then
  layout+=(-Xlinker "--symbol-ordering-file=$PWD/scripts/podagent.order" -Xlinker --no-warn-symbol-ordering)
  # What the order file cannot name (local helpers whose names recur in many objects, functions without a
  # symbol), placed by file. Before layout.ld, so that its sections take precedence over layout.ld's
  # catch-all for unnamed functions.
  if [ -f scripts/podagent-helpers.ld ]; then
    layout+=(-Xlinker -T -Xlinker "$PWD/scripts/podagent-helpers.ld")
  fi
else
  echo "release-build: no scripts/podagent.order; functions are not grouped (idle RSS several MB higher)" >&2
fi
layout+=(-Xlinker -T -Xlinker "$PWD/scripts/layout.ld")
# libstdc++ (which the Swift runtime needs) linked statically: only the few functions used end up in the
# binary, instead of the whole shared library mapped (~1.1 MB of idle RSS). The linker looks for
# -lstdc++ in this directory first, where only the archive is.
static_cxx=.build-release/static-libstdc++
archive=$(clang -print-file-name=libstdc++.a 2>/dev/null || true)
if [ -f "$archive" ]; then
  mkdir -p "$static_cxx"
  ln -sf "$archive" "$static_cxx/libstdc++.a"
  layout+=(-Xlinker -L -Xlinker "$PWD/$static_cxx")
else
  echo "release-build: no libstdc++.a (libstdc++-12-dev); libstdc++ is linked as a shared library" >&2
fi
# The Swift compiler keeps an object file when the code it holds is unchanged, whatever the code-generation
# flags: objects built with other flags would stay as they were. Built anew when those flags change (a
# change of linker flags only links again, which SwiftPM does by itself).
stamp=.build-release/compile-flags
if [ "$(cat "$stamp" 2>/dev/null)" != "${sections[*]}" ]; then
  rm -rf .build-release/*-unknown-linux-gnu
  mkdir -p .build-release
  printf '%s' "${sections[*]}" > "$stamp"
fi
bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-release --show-bin-path)/podagent
# scripts/order-file.sh reads where each section went from the link map (names as the symbol table has them;
# linked again, so that the map is written).
if [ -n "${PODAGENT_LINK_MAP:-}" ]; then
  layout+=(-Xlinker "-Map=$PODAGENT_LINK_MAP" -Xlinker --no-demangle)
  rm -f "$bin"
fi
# Nor does the build notice that the order file or the linker script changed: link again when they did.
for input in scripts/podagent.order scripts/podagent-helpers.ld scripts/layout.ld; do
  if [ -f "$input" ] && [ "$input" -nt "$bin" ]; then rm -f "$bin"; fi
done
swift build -c release --static-swift-stdlib --scratch-path .build-release --product podagent "${layout[@]}" >&2
# The layout must have taken: flags the build tools ignore or reorder would only show as idle RSS.
# (Output captured first: `grep -q` stops reading at its match, which with pipefail can fail the pipe.)
headers=$(readelf -SW "$bin")
if ! grep -q ' \.text\.unnamed ' <<< "$headers"; then
  echo "release-build: the linker script was not applied (no .text.unnamed section in $bin)" >&2
  exit 1
fi
if grep -qE ' \.rodata +PROGBITS +[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ [0-9a-f]+ +W' <<< "$headers"; then
  echo "release-build: .rodata is writable in $bin (scripts/layout.ld did not move the writable inputs out)" >&2
  exit 1
fi
# Full Foundation (with CoreFoundation, whose initialiser runs at every start, and ICU) is not linked: it
# cost ~1 MB of idle RSS and 45 MB of binary. A dependency that imports it again fails the build here.
symbols=$(nm --defined-only "$bin")
if ! grep -qE ' T main$' <<< "$symbols"; then
  echo "release-build: no symbol table in $bin to check for full Foundation" >&2
  exit 1
fi
foundation=$(grep -cE ' (__CFInitialize|\$s10Foundation[0-9A-Za-z_]*)$' <<< "$symbols" || true)
if [ "$foundation" != 0 ]; then
  echo "release-build: full Foundation is linked into $bin ($foundation of its symbols); find the module that imports it" \
    "(readelf -p .swift1_autolink_entries on the objects shows -lFoundation)" >&2
  exit 1
fi
libraries=$(ldd "$bin")
if [ -f "$archive" ] && grep -q 'libstdc++' <<< "$libraries"; then
  echo "release-build: libstdc++ was linked as a shared library although $archive exists" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
strip -o "$out.tmp" "$bin"
mv "$out.tmp" "$out"
echo "release build: $(( $(date +%s) - start )) s"
echo "binary: $out, $(stat -c %s "$out") bytes stripped ($(stat -c %s "$bin") unstripped)"
echo "ldd $out:"
ldd "$out" | sed 's/^/  /'
"$out" --version >/dev/null
