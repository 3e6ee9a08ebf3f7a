#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in Fuzz/ against the pure kubelet-format code.
# Usage: scripts/fuzz.sh [quantity|unquote|all] [seconds per target, default 300]
# Crashes are written to .build-fuzz/artifacts-<target>/; the corpus is kept in .build-fuzz/corpus-<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH" SWIFT_BACKTRACE=enable=no
which=${1:-all}
seconds=${2:-300}
out=.build-fuzz
mkdir -p "$out"

build_and_run() {
  local name=$1; shift
  local harness=$1; shift
  local bin="$out/fuzz-$name"
  swiftc -O -parse-as-library -sanitize=fuzzer,address -swift-version 6 -use-ld=lld "$@" "$harness" -o "$bin"
  mkdir -p "$out/corpus-$name" "$out/artifacts-$name"
  echo "== fuzzing $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/artifacts-$name/" \
    "$out/corpus-$name" Fuzz/seeds/"$name" 2>&1 | tee "$out/log-$name" | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)" || true
  if ls "$out/artifacts-$name"/crash-* >/dev/null 2>&1 || ls "$out/artifacts-$name"/leak-* >/dev/null 2>&1; then
    echo "!! $name: findings in $out/artifacts-$name" >&2
    return 1
  fi
}

status=0
if [ "$which" = quantity ] || [ "$which" = all ]; then
  build_and_run quantity Fuzz/FuzzQuantity.swift Sources/PodAgentKit/Kubelet/Quantity.swift || status=1
fi
if [ "$which" = unquote ] || [ "$which" = all ]; then
  build_and_run unquote Fuzz/FuzzGoUnquote.swift Sources/PodAgentKit/Kubelet/GoQuote.swift || status=1
fi
exit $status
