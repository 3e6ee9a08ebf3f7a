#!/usr/bin/env python3
"""Wall time of `podagent env` (it sits in front of every app start as an entrypoint prefix or init step).

Simulates the Kubernetes docs' Downward API pod with `podagent simulate`, then runs
`podagent env --root ROOT --format shell` N times inside the pod's env and prints the median, p90 and
min wall time, next to `/bin/true` as the floor of starting any process on this machine.
"""
import argparse, os, statistics, subprocess, sys, tempfile, time

POD = """apiVersion: v1
kind: Pod
metadata:
  name: env-bench
  namespace: bench
  labels: {app: web, tier: frontend, app.kubernetes.io/name: web}
  annotations: {build: two, example.com/log-level: debug}
spec:
  containers:
    - name: app
      image: busybox
      env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        - name: CONTAINER_CPU_LIMIT_MILLICORES
          valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
        - name: CONTAINER_MEMORY_LIMIT_BYTES
          valueFrom: {resourceFieldRef: {resource: limits.memory}}
      resources: {limits: {cpu: 500m, memory: 128Mi}}
      volumeMounts: [{name: podinfo, mountPath: /etc/podinfo}]
  volumes:
    - name: podinfo
      downwardAPI:
        items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
"""


def timed(argv, env, n):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--podagent", required=True)
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="podagent-env-bench.")
    with open(os.path.join(work, "pod.yaml"), "w") as f:
        f.write(POD)
    root = os.path.join(work, "root")
    subprocess.run([args.podagent, "simulate", "--pod", os.path.join(work, "pod.yaml"), "--root", root],
                   check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ)
    for line in subprocess.run(["sh", "-c", 'set -a; . "$0"; env -0', os.path.join(root, ".podagent/env")],
                               check=True, capture_output=True).stdout.split(b"\0"):
        if b"=" in line:
            k, v = line.split(b"=", 1)
            env[k.decode()] = v.decode()
    argv = [args.podagent, "env", "--root", root, "--format", "shell"]
    timed(argv, env, 10)  # warm the page cache
    rows = [("podagent env", timed(argv, env, args.n)), ("/bin/true", timed(["/bin/true"], env, args.n))]
    print(f"{'command':>14} {'median':>8} {'p90':>8} {'min':>8}   (ms, {args.n} runs)")
    for name, s in rows:
        print(f"{name:>14} {statistics.median(s):8.2f} {s[int(len(s) * 0.9)]:8.2f} {s[0]:8.2f}")
    print(f"binary: {os.path.getsize(args.podagent) / 1e6:.1f} MB ({args.podagent})")


if __name__ == "__main__":
    sys.exit(main())
