#!/usr/bin/env bash
# Installs the Debian packages podagent builds and tests with, only when something is missing.
# Usage: scripts/install-deps.sh [extra-package …]     what the tests need, plus the extras
#        scripts/install-deps.sh --only package …      just these (the release build)
set -euo pipefail
if [ "${1:-}" = "--only" ]; then
  shift
  packages=("$@")
else
  packages=(libinotifytools0-dev libyaml-dev inotify-tools openssl nginx-light curl util-linux python3 python3-venv "$@")
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6 at /opt/swift/usr/bin)" >&2; exit 1; }
