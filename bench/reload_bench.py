#!/usr/bin/env python3
"""Reload benchmark: podagent vs. an inotifywait loop, side by side, on kubelet-exact volume updates.

Measures, per tool:
  * latency from the `..data` rename (the kubelet's commit point; the instant just before the rename(2)
    call) to the webhook's receipt:
    p50/p90/p99/max over updates at a fixed gap;
  * bursts of back-to-back updates: reloads received and bursts whose final state was never reloaded;
  * a slow writer (files written into the new generation over 30 ms before the rename): reloads that
    arrived before the rename (premature);
  * idle cost over 10 s: RSS, CPU time, context switches; CPU per reload; binary size. Each tool's executable
    is dropped from the page cache before it starts, so that it is read as a pod reads its image, whether
    or not it was just built (see evict_from_page_cache);
  * podagent's idle RSS in a pod whose kubelet probes it and whose Prometheus scrapes it (probed_rss_mb):
    after /healthz, /readyz and /metrics were asked, then more updates and reloads, then the paths again.

The volume writer below reproduces the kubelet's atomic writer step by step (pkg/volume/util/atomic_writer.go,
see ../shared/KUBELET.md §1) so the rename instant can be timestamped; podagent's own Swift writer is the one
the test suite uses. Everything runs on 127.0.0.1 and in /dev/shm (secret volumes are tmpfs).
"""
import argparse, os, random, selectors, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

CLK = time.perf_counter_ns


class Receiver:
    """An HTTP/1.1 server recording the receipt instant of every request.

    The instant is taken when the request's bytes come out of recv(), before any parsing, so the
    measurement is the tool's latency and not this script's: Python's http.server spent ~0.3 ms
    parsing before a handler could take a timestamp. One thread, non-blocking sockets, keep-alive
    (like the reload endpoints of Prometheus or nginx: a client that reuses its connection is not
    charged a TCP handshake per reload), several requests per connection.
    """
    def __init__(self):
        self.hits = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, None)
        pending = {}
        while True:
            for key, _ in sel.select():
                if key.data is None:
                    conn, _ = self.listener.accept()
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sel.register(conn, selectors.EVENT_READ, True)
                    pending[conn] = [b"", None]
                    continue
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                t = CLK()
                if not data:
                    sel.unregister(conn)
                    pending.pop(conn, None)
                    conn.close()
                    continue
                state = pending[conn]
                if not state[0]:
                    state[1] = t  # a request starts arriving now
                state[0] += data
                while True:
                    buf = state[0]
                    head_end = buf.find(b"\r\n\r\n")
                    if head_end < 0:
                        break
                    length = 0
                    for line in buf[:head_end].split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip() or 0)
                    total = head_end + 4 + length
                    if len(buf) < total:
                        break
                    with self.lock:
                        self.hits.append(state[1])
                    state[0] = buf[total:]
                    state[1] = t
                    try:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    except OSError:
                        break

    def count(self):
        with self.lock:
            return len(self.hits)

    def since(self, t):
        with self.lock:
            return [h for h in self.hits if h >= t]

    def quiesce(self, quiet=0.3, limit=5.0):
        """Waits until no request has arrived for `quiet` seconds (at most `limit`), so reloads still in
        flight on a loaded machine are not mistaken for reactions to the next update."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self.lock:
                last = self.hits[-1] if self.hits else 0
            if CLK() - last >= quiet * 1e9:
                return
            time.sleep(0.02)

    def wait_for(self, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= n:
                return True
            time.sleep(0.0002)
        return False


class KubeletVolume:
    """The kubelet's atomic writer (numbered steps as in KUBELET.md §1)."""
    def __init__(self, root):
        self.root = root
        self.generation = None
        self.version = 0

    def write(self, files, slow=0.0, on_dir_created=None):
        # 3. mkdtemp("..YYYY_MM_DD_HH_MM_SS.") in the volume root, chmod 0755.
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        new = tempfile.mkdtemp(prefix=stamp, dir=self.root)
        os.chmod(new, 0o755)
        if on_dir_created:
            on_dir_created()
        # 4. Write every file with its mode.
        for name, data in files.items():
            p = os.path.join(new, name)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, 0o644)
            if slow:
                time.sleep(slow / max(1, len(files)))
        # 5. symlink ..data_tmp -> new, rename to ..data: the commit point.
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(os.path.basename(new), tmp)
        # The commit instant is taken just before the rename, not after it: a tool may react (and a
        # receiver record it) before this thread is scheduled again after rename(2) returns, and a
        # timestamp taken then would count that reload as premature or the update's final state as
        # missed, and flatter every latency. So latencies include the rename itself (a few µs).
        committed = CLK()
        os.rename(tmp, os.path.join(self.root, "..data"))
        # 6. Top-level symlinks for new keys.
        for name in files:
            link = os.path.join(self.root, name)
            if not os.path.lexists(link):
                os.symlink(os.path.join("..data", name), link)
        # 7. Remove the old generation.
        if self.generation:
            shutil.rmtree(os.path.join(self.root, self.generation))
        self.generation = os.path.basename(new)
        return committed

    def update(self, **kw):
        self.version += 1
        return self.write({"app.conf": f"version {self.version}\n".encode(), "static.conf": b"unchanged\n"}, **kw)


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime, seconds


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def proc_anonymous_kb(pid):
    """Anonymous memory of `pid` (smaps_rollup): the pages no other process could share. Idle RSS also counts
    the executable's and the libraries' pages, which every copy of the same image on a node shares."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_ctx_switches(pid):
    """Context switches of every thread of `pid` and of its descendants: each one is a wakeup."""
    total = 0
    pids = [pid]
    try:
        for line in subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split():
            pids += [int(line)] + [int(x) for x in subprocess.run(["ps", "-o", "pid=", "--ppid", line], capture_output=True, text=True).stdout.split()]
    except (OSError, ValueError):
        pass
    for p in pids:
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
        except OSError:
            pass
    return total


class CpuAccount:
    """CPU time of a whole process tree via a cgroup v1 cpuacct group when available (the inotifywait loop
    spends most of its CPU in short-lived curl children), else the main process's own utime+stime."""
    def __init__(self, name):
        self.path = None
        base = "/sys/fs/cgroup/cpuacct"
        try:
            p = os.path.join(base, f"podagent-bench-{name}-{os.getpid()}")
            os.mkdir(p)
            self.path = p
        except OSError:
            pass

    def add(self, pid):
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(pid))

    def seconds(self, pid):
        if self.path:
            with open(os.path.join(self.path, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        return proc_stat(pid)

    def close(self):
        if self.path:
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def evict_from_page_cache(path):
    """Drops a file's pages from the page cache (written back first), so that the next start reads it the way
    a pod's container reads its image: a binary the linker or `cp` just wrote is cached in pages laid out by
    those writes, and idled ~0.8 MB higher here (12.1-12.4 MB against 11.2-11.5 MB for the same binary).
    Only this file's pages, so no root needed; pages some other process maps are kept."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def free_port():
    """A loopback port nothing listens on now (the tool binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_tool(name, argv_for, receiver, args, status_port=None):
    vol_root = tempfile.mkdtemp(prefix=f"bench-{name}-", dir="/dev/shm")
    vol = KubeletVolume(vol_root)
    vol.update()
    acct = CpuAccount(name)
    # The child joins the cgroup before exec, so nothing escapes the accounting.
    # A session of its own (so the whole tree can be killed) also puts the tool in its own scheduling group
    # when the kernel groups by session (sched_autogroup_enabled), as its own container's cgroup would in a
    # pod. --same-session keeps it in the bench's session: a process group only, the same scheduling group.
    new_group = (lambda: os.setpgid(0, 0)) if args.same_session else os.setsid
    argv = argv_for(vol_root)
    evict_from_page_cache(shutil.which(argv[0]) or argv[0])
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(f"/tmp/bench-{name}.log", "w"),
                            preexec_fn=lambda: (new_group(), acct.add(os.getpid())) and None)
    time.sleep(args.startup)
    base = receiver.count()
    result = {"tool": name}

    # 1. Fixed gap: one update, wait for its reload, next.
    latencies, missing = [], 0
    cpu0 = acct.seconds(proc.pid)
    for i in range(args.updates):
        before = receiver.count()
        t = vol.update()
        if receiver.wait_for(before + 1, 2.0):
            hits = receiver.since(t)
            if hits:
                latencies.append((hits[0] - t) / 1e6)
        else:
            missing += 1
        time.sleep(args.gap)
        # Let any extra reloads for this update arrive before the next one.
    time.sleep(0.3)
    cpu1 = acct.seconds(proc.pid)
    reloads_gap = receiver.count() - base
    result.update(p50=percentile(latencies, 50), p90=percentile(latencies, 90), p99=percentile(latencies, 99),
                  max=max(latencies) if latencies else float("nan"), updates=args.updates, reloads=reloads_gap,
                  no_reload=missing, cpu_per_reload_ms=(cpu1 - cpu0) * 1000 / max(1, reloads_gap))

    # 2. Bursts of back-to-back updates: the final state must always be reloaded.
    missed_final, burst_reloads = 0, 0
    for b in range(args.bursts):
        before = receiver.count()
        last = None
        for _ in range(args.burst_size):
            last = vol.update()
        time.sleep(args.settle)
        receiver.quiesce()
        if not receiver.since(last):
            missed_final += 1
        burst_reloads += receiver.count() - before
    result.update(bursts=args.bursts, burst_size=args.burst_size, burst_reloads=burst_reloads, missed_final=missed_final)

    # 3. Slow writer: reloads before the rename are premature.
    premature = 0
    for i in range(args.slow_updates):
        receiver.quiesce()
        marks = {}
        def created():
            marks["start"] = CLK()
        t = vol.update(slow=0.03, on_dir_created=created)
        time.sleep(args.settle)
        premature += sum(1 for h in receiver.since(marks["start"]) if h < t)
    result.update(slow_updates=args.slow_updates, premature=premature)

    # 4. Idle: `--idle` seconds with nothing happening, starting `--idle-delay` after the last update.
    time.sleep(args.idle_delay)
    rss_kb = proc_status(proc.pid, "VmRSS")
    anon_kb = proc_anonymous_kb(proc.pid)
    c0 = acct.seconds(proc.pid)
    x0 = tree_ctx_switches(proc.pid)
    if os.environ.get("BENCH_DEBUG"):
        print(subprocess.run(["sh", "-c", f"for t in /proc/{proc.pid}/task/*; do echo $t $(cat $t/comm) $(grep ctxt $t/status | tr '\\n' ' '); done"], capture_output=True, text=True).stdout)
    time.sleep(args.idle)
    c1 = acct.seconds(proc.pid)
    x1 = tree_ctx_switches(proc.pid)
    if os.environ.get("BENCH_DEBUG"):
        print(subprocess.run(["sh", "-c", f"for t in /proc/{proc.pid}/task/*; do echo $t $(cat $t/comm) $(grep ctxt $t/status | tr '\\n' ' '); done"], capture_output=True, text=True).stdout)
    result.update(idle_rss_mb=rss_kb / 1024, idle_anon_mb=anon_kb / 1024, idle_cpu_ms=(c1 - c0) * 1000, idle_ctx=x1 - x0)

    # 5. Probed: idle RSS in a pod whose kubelet probes the tool and whose Prometheus scrapes it, after
    # the idle window (so the requests are not counted as idle work): /healthz, /readyz and /metrics asked
    # three times each, then updates and their reloads, then each path once more, as time goes by there.
    result["probed_rss_mb"] = "-"
    if status_port:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through http_proxy
        def probe(times):
            for _ in range(times):
                for path in ("/healthz", "/readyz", "/metrics"):
                    try:
                        with direct.open(f"http://127.0.0.1:{status_port}{path}", timeout=5) as answer:
                            answer.read()
                    except urllib.error.HTTPError as answer:  # a 503 from /readyz is an answer too
                        answer.read()
        probe(3)
        for _ in range(5):
            before = receiver.count()
            vol.update()
            receiver.wait_for(before + 1, 2.0)
            time.sleep(args.gap)
        probe(1)
        time.sleep(0.5)
        result["probed_rss_mb"] = proc_status(proc.pid, "VmRSS") / 1024

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    acct.close()
    shutil.rmtree(vol_root, ignore_errors=True)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--podagent", required=True)
    ap.add_argument("--podagent-args", default="--debounce 0", help="extra arguments for podagent watch")
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.05)
    ap.add_argument("--bursts", type=int, default=20)
    ap.add_argument("--burst-size", type=int, default=10)
    ap.add_argument("--slow-updates", type=int, default=20)
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--idle-delay", type=float, default=1.0, help="pause after the last update before idle is measured")
    ap.add_argument("--startup", type=float, default=1.0)
    ap.add_argument("--skip-inotifywait", action="store_true")
    ap.add_argument("--reference", action="store_true",
                    help="also run bench/reference_reactor.c (built with cc, gcc or clang): the least any tool can do, as a floor")
    ap.add_argument("--same-session", action="store_true",
                    help="run the tools in this script's session (same scheduling group as the writer and the "
                         "receiver) instead of a session of their own")
    args = ap.parse_args()

    receiver = Receiver()
    url = f"http://127.0.0.1:{receiver.port}/reload"
    status_port = free_port()
    tools = [("podagent", lambda d: [args.podagent, "watch", "--dir", d, "--webhook", url,
                                     "--listen", f"127.0.0.1:{status_port}",
                                     "--log-level", "warning"] + args.podagent_args.split())]
    if args.reference:
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_reactor.c")
        binary = os.path.join(tempfile.mkdtemp(prefix="bench-reference-"), "reference_reactor")
        compiler = os.environ.get("CC") or next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
        if not compiler:
            sys.exit("--reference needs a C compiler (cc, gcc or clang; or set CC)")
        subprocess.run([compiler, "-O2", "-o", binary, source], check=True)
        tools.append(("reference-c", lambda d: [binary, "--dir", d, "--webhook", url]))
    if not args.skip_inotifywait and not shutil.which("inotifywait"):
        print("inotifywait not found (apt-get install inotify-tools, or run scripts/bench.sh): "
              "the inotifywait loop is left out of this run", file=sys.stderr)
    if not args.skip_inotifywait and shutil.which("inotifywait"):
        loop = ("inotifywait -m -q -e create,delete,modify,moved_to,close_write \"$0\" | "
                "while read -r _; do curl -s -o /dev/null -X POST " + url + "; done")
        tools.append(("inotifywait-loop", lambda d: ["bash", "-c", loop, d]))

    results = [run_tool(name, argv, receiver, args, status_port if name == "podagent" else None) for name, argv in tools]
    size = os.path.getsize(args.podagent) / 1e6
    print(f"\nreload latency: ..data rename -> webhook receipt ({args.updates} updates, {int(args.gap*1000)} ms apart; "
          f"{args.bursts} bursts of {args.burst_size}; {args.slow_updates} slow writes of 30 ms)")
    cols = ["tool", "p50", "p90", "p99", "max", "reloads", "no_reload", "burst_reloads", "missed_final", "premature",
            "idle_rss_mb", "idle_anon_mb", "idle_cpu_ms", "idle_ctx", "cpu_per_reload_ms", "probed_rss_mb"]
    print("  ".join(f"{c:>14}" for c in cols))
    for r in results:
        row = []
        for c in cols:
            v = r[c]
            row.append(f"{v:>14.3f}" if isinstance(v, float) else f"{v:>14}")
        print("  ".join(row))
    print(f"(latencies in ms; burst_reloads out of {args.bursts * args.burst_size} updates; "
          f"idle over {args.idle:.0f} s; CPU of the whole process tree; idle_anon_mb: the anonymous part of idle_rss_mb, "
          f"what each further copy costs when copies share their image; probed_rss_mb: RSS once /healthz, /readyz "
          f"and /metrics were asked, as a pod's probes and scrapes do, and more reloads came)")
    print(f"podagent binary: {size:.1f} MB ({args.podagent})")
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            autogroup = f.read().strip() == "1"
    except OSError:
        autogroup = False
    where = "this script's session" if args.same_session else "a session of their own"
    print(f"tools ran in {where}; kernel autogroups {'on' if autogroup else 'off'}"
          + (" (so a scheduling group apart from the writer and the receiver)" if autogroup and not args.same_session else ""))


if __name__ == "__main__":
    main()
