#!/usr/bin/env bash
# The local example: simulate a pod into a directory, then update its ConfigMap and a label the way the
# kubelet would, and show what changed on disk. No cluster needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh tree
swift build -c release --product podagent >&2
podagent=$(swift build -c release --show-bin-path)/podagent
ex=examples/simulated-pod
root=${1:-$(mktemp -d /tmp/podagent-example.XXXXXX)}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. first sync: podagent simulate --pod $ex/pod.yaml --object $ex/app-config-v1.yaml --root $root"
"$podagent" simulate --pod $ex/pod.yaml --object $ex/app-config-v1.yaml --root "$root"
step "the ConfigMap volume, in the kubelet's atomic layout"
ls -la "$root/etc/app"
step "the Downward API volume: labels, annotations (Go %q values), resources (divisor-scaled)"
for f in labels annotations cpu_request mem_limit cpu_limit; do
  printf -- '--- %s\n' "$f"; cat "$root/etc/podinfo/$f"; echo
done
step "the container's env (secret values are in this file only; it is mode 0600)"
grep -v PASSWORD "$root/.podagent/env"

step "2. same inputs again: the kubelet writes nothing"
"$podagent" simulate --pod $ex/pod.yaml --object $ex/app-config-v1.yaml --root "$root"

step "3. the ConfigMap is edited and a label changes: podagent simulate … --object $ex/app-config-v2.yaml --set \"metadata.labels['rack']=rack-23\""
before=$(readlink "$root/etc/app/..data")
"$podagent" simulate --pod $ex/pod.yaml --object $ex/app-config-v2.yaml --root "$root" --set "metadata.labels['rack']=rack-23"
step "..data swapped from $before to $(readlink "$root/etc/app/..data"); new key feature-flags has its symlink"
ls -la "$root/etc/app"
cat "$root/etc/app/app.conf"
step "labels now"
cat "$root/etc/podinfo/labels"; echo
step "the whole tree"
tree -a "$root" | head -60
echo
echo "simulated pod left in $root"
