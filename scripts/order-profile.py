#!/usr/bin/env python3
"""Runs podagent under callgrind in the two shapes a pod runs it — `watch` (sidecar) and `run`
(entrypoint) — through start-up, four kubelet-exact updates with a check and reloads, a scrape of
/metrics and SIGTERM, and prints the functions that ran, one per line.

Used by scripts/order-file.sh. Usage: order-profile.py PODAGENT_WITH_SYMBOLS OUT_DIR
"""
import os, re, signal, subprocess, sys, tempfile, threading, time, urllib.request, http.server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from reload_bench import KubeletVolume  # noqa: E402  the kubelet's atomic writer, step by step


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def listening_port(log_path):
    """The port podagent bound for `--listen 127.0.0.1:0`, from its "status endpoint listening" line."""
    with open(log_path) as log:
        for line in log:
            if "status endpoint listening" in line:
                match = re.search(r"127\.0\.0\.1:(\d+)", line)
                if match:
                    return int(match.group(1))
    return None


def profile(binary, mode, out_dir, webhook):
    root = tempfile.mkdtemp(prefix="podagent-order-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    volume = KubeletVolume(root)
    volume.update()
    common = ["--dir", root, "--listen", "127.0.0.1:0", "--check", "true", "--debounce", "0", "--log-format", "json"]
    if mode == "watch":
        args = ["watch"] + common + ["--webhook", webhook, "--exec", "true"]
    else:
        app = "import signal, time; signal.signal(signal.SIGHUP, lambda *a: None); time.sleep(1000)"
        args = ["run"] + common + ["--", sys.executable, "-c", app]
    out = os.path.join(out_dir, f"callgrind.{mode}")
    with open(os.path.join(out_dir, f"{mode}.log"), "w") as log:
        agent = subprocess.Popen(["valgrind", "--tool=callgrind", "--dump-instr=no", "--demangle=no",
                                  "--compress-strings=no", f"--callgrind-out-file={out}", binary] + args,
                                 stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 120
        port = None
        while time.time() < deadline:
            port = port or listening_port(log.name)
            try:
                if port and urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            agent.kill()
            sys.exit(f"podagent {mode} never became ready under valgrind (see {log.name})")
        for _ in range(4):
            volume.update()
            time.sleep(3)
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        agent.send_signal(signal.SIGTERM)
        agent.wait(120)
    subprocess.run(["rm", "-rf", root])
    names = set()
    with open(out) as data:
        for line in data:
            if line.startswith("fn="):
                names.add(line[3:].rstrip("\n").split("'")[0])  # 'N marks a recursion cycle
    return names


def main():
    binary, out_dir = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{server.server_port}/reload"
    watch = profile(binary, "watch", out_dir, webhook)
    run = profile(binary, "run", out_dir, webhook)
    # Functions both shapes run first (the common path: start-up, watcher, pipeline), then the rest.
    for name in sorted(watch & run) + sorted((watch | run) - (watch & run)):
        print(name)


if __name__ == "__main__":
    main()
