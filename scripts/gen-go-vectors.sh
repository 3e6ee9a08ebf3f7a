#!/usr/bin/env bash
# Regenerates Tests/PodAgentKitTests/Vectors/goquote.tsv with a real Go toolchain, so the Swift
# port of strconv.Quote/Unquote and of the kubelet's FormatMap is checked against Go itself.
# Needs no network: the generator is a single stdlib-only main.go run outside module mode.
# The output records the Go version and unicode.Version it was made with; commit it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$repo/Tests/PodAgentKitTests/Vectors/goquote.tsv"

if ! command -v go >/dev/null 2>&1; then
    echo "go not found; installing Debian's golang-go" >&2
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get install -y golang-go || { $sudo apt-get update && $sudo apt-get install -y golang-go; }
fi

mkdir -p "$(dirname "$out")"
cd "$here/go-vectors"
# Outside module mode and with a private cache, `go run` touches neither the network nor $HOME.
export GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local
export GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/podagent-go-vectors-cache}"
go run main.go "$out"
