#!/usr/bin/env bash
# The local example, no cluster needed:
#  A. `podagent simulate` writes a pod's volumes and env exactly as the kubelet would, then updates them.
#  B. nginx hot reload: `podagent run … -- nginx` serves a ConfigMap-driven server block; the ConfigMap is
#     edited (gzip on → off) and nginx changes behaviour without a restart; a broken edit is refused by
#     the check while nginx keeps serving.
#  C. pod data: `podagent env` and `podagent render` as an init container would run them, then
#     `podagent watch --render` re-rendering nginx.conf when an annotation changes.
# Usage: scripts/example.sh [work-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh tree
swift build --product podagent >&2
podagent=$(swift build --show-bin-path)/podagent
work=${1:-$(mktemp -d /tmp/podagent-example.XXXXXX)}
mkdir -p "$work"; chmod 755 "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# ---------------------------------------------------------------------------------------------- A
ex=examples/simulated-pod
root="$work/simulated-pod"
step "A1. podagent simulate --pod $ex/pod.yaml --object $ex/app-config-v1.yaml --root $root"
"$podagent" simulate --pod $ex/pod.yaml --object $ex/app-config-v1.yaml --root "$root"
step "the ConfigMap volume, in the kubelet's atomic layout"
ls -la "$root/etc/app"
step "the Downward API volume: labels, annotations (Go %q values), resources (divisor-scaled)"
for f in labels annotations cpu_request mem_limit cpu_limit; do
  printf -- '--- %s\n' "$f"; cat "$root/etc/podinfo/$f"; echo
done
step "the container's env (the file holds secret values too; it is mode 0600)"
grep -v PASSWORD "$root/.podagent/env"
step "A2. same inputs again: the kubelet writes nothing"
"$podagent" simulate --pod $ex/pod.yaml --object $ex/app-config-v1.yaml --root "$root"
step "A3. the ConfigMap is edited and a label changes"
before=$(readlink "$root/etc/app/..data")
"$podagent" simulate --pod $ex/pod.yaml --object $ex/app-config-v2.yaml --root "$root" --set "metadata.labels['rack']=rack-23"
echo "..data swapped from $before to $(readlink "$root/etc/app/..data"); feature-flags got its symlink:"
ls -la "$root/etc/app"
tree -a "$root" | head -40

# ---------------------------------------------------------------------------------------------- B
ng=examples/nginx-hot-reload
dir="$work/nginx"
port=${PORT:-18080}
mkdir -p "$dir/html" "$dir/tmp"; chmod 755 "$dir" "$dir/html"
head -c 20000 /usr/share/common-licenses/GPL-3 > "$dir/html/index.html" 2>/dev/null || seq 1 3000 > "$dir/html/index.html"
sed "s#@DIR@#$dir#g" $ng/nginx.conf.in > "$dir/nginx.conf"
publish() {  # simulate the fortune-config ConfigMap variant $1 into the pod's volume
  sed -e "s#@PORT@#$port#" -e "s#@HTML@#$dir/html#" "$ng/configmap-gzip-$1.yaml" > "$dir/configmap.yaml"
  "$podagent" simulate --pod $ng/pod.yaml --object "$dir/configmap.yaml" --root "$dir/pod" | sed 's/^/    /'
}
encoding() { curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding"{e=$2} /^HTTP/{split($0,a," "); s=a[2]} END{print "HTTP " s ", Content-Encoding: " (e==""?"(none)":e)}'; }

step "B1. ConfigMap with gzip on, simulated into $dir/pod/etc/nginx/conf.d"
publish on
step "B2. podagent run --dir …/conf.d --check 'nginx -t' -- nginx -g 'daemon off;'"
"$podagent" run --dir "$dir/pod/etc/nginx/conf.d" --check "nginx -t -q -c $dir/nginx.conf" --listen 127.0.0.1:0 \
  --log-format text -- nginx -c "$dir/nginx.conf" -g 'daemon off;' 2> "$dir/podagent.log" &
agent=$!
trap 'kill $agent 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
master=$(cat "$dir/nginx.pid")
echo "nginx master pid $master: $(encoding)"
step "B3. the ConfigMap is edited: gzip off"
publish off
sleep 1
echo "nginx master pid $(cat "$dir/nginx.pid") (same process, reloaded): $(encoding)"
step "B4. a broken edit (gzip sometimes): the check refuses it, nginx keeps serving"
publish sometimes
sleep 1
echo "$(encoding)"
step "podagent's log"
cat "$dir/podagent.log"
step "B5. SIGTERM to podagent: forwarded to nginx, podagent exits with nginx's status"
kill -TERM $agent; wait $agent && echo "podagent exited 0"
trap - EXIT

# ---------------------------------------------------------------------------------------------- C
pd=examples/pod-data
root="$work/pod-data"
inpod() { (set -a; . "$root/.podagent/env"; set +a; exec "$@"); }   # with the container's env, as in the pod
step "C1. podagent simulate --pod $pd/pod.yaml: labels, annotations and resources in the Downward API"
"$podagent" simulate --pod $pd/pod.yaml --root "$root"
step "C2. init container: podagent env --format shell (labels and annotations as env vars; resources in millicores and bytes)"
inpod "$podagent" env --root "$root" --format shell
step "C3. init container: podagent render — worker_processes from the CPU limit (1500m → 2), log level from an annotation"
mkdir -p "$root/etc/nginx" "$root/tmp/nginx"
inpod "$podagent" render --root "$root" --template examples/render/nginx.conf.mustache --output "$root/etc/nginx/nginx.conf"
grep -E '^(worker_processes|error_log)' "$root/etc/nginx/nginx.conf"
nginx -t -q -e stderr -p "$root/tmp/nginx/" -c "$root/etc/nginx/nginx.conf" && echo "nginx -t: ok"
step "C4. sidecar: podagent watch --render re-renders and reloads when the annotation changes"
(set -a; . "$root/.podagent/env"; set +a; exec "$podagent" watch --root "$root" --dir "$root/etc/podinfo" \
  --render "$PWD/examples/render/nginx.conf.mustache:$root/etc/nginx/nginx.conf" \
  --check "nginx -t -q -e stderr -p $root/tmp/nginx/ -c $root/etc/nginx/nginx.conf" \
  --exec "echo reload: nginx -s reload would run here" --log-format text 2> "$root/podagent.log") &
agent=$!
trap 'kill $agent 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q watching "$root/podagent.log" && break; sleep 0.1; done
"$podagent" simulate --pod $pd/pod.yaml --root "$root" --set "metadata.annotations['example.com/log-level']=debug" | sed 's/^/    /'
for _ in $(seq 50); do grep -q 'reload done' "$root/podagent.log" && break; sleep 0.1; done
grep -E '^error_log' "$root/etc/nginx/nginx.conf"
kill -TERM $agent; wait $agent || true
trap - EXIT
grep -vE 'warning' "$root/podagent.log"
echo
echo "everything is left in $work"
