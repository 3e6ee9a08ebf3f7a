#!/usr/bin/env python3
"""Runs podagent under callgrind in the two shapes a pod runs it — `watch` (sidecar) and `run`
(entrypoint) — through start-up, four kubelet-exact updates with a check and reloads, a scrape of
/metrics and the probes, and SIGTERM, and prints the functions that ran, one per line: first those that
ran after start-up (the steady state), then those that ran only during start-up, then only at shutdown.

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


def ran(path):
    """The functions a callgrind output file has costs for."""
    names = set()
    with open(path) as data:
        for line in data:
            if line.startswith("fn="):
                names.add(line[3:].rstrip("\n").split("'")[0])  # 'N marks a recursion cycle
    return names


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
        # Part 1 ends here: start-up, up to ready.
        subprocess.run(["callgrind_control", "--dump=startup", str(agent.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(4):
            volume.update()
            time.sleep(3)
        for path in ("/metrics", "/healthz", "/readyz"):
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read()
        # Part 2: what a running podagent does again and again (reloads, probes, scrapes).
        subprocess.run(["callgrind_control", "--dump=steady", str(agent.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        agent.send_signal(signal.SIGTERM)
        agent.wait(120)
    subprocess.run(["rm", "-rf", root])
    # callgrind writes a part per dump (OUT.1, OUT.2) and the rest at exit (OUT).
    return ran(out + ".1"), ran(out + ".2"), ran(out)


def main():
    binary, out_dir = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{server.server_port}/reload"
    watch = profile(binary, "watch", out_dir, webhook)
    run = profile(binary, "run", out_dir, webhook)
    # What a running podagent does again and again first, then start-up, then shutdown; within each, what
    # both shapes run first. A reload's code then lies in few pages, and start-up's in blocks of their own
    # that nothing touches again (which the kernel can take back first when memory is short).
    steady = watch[1] | run[1]
    startup = (watch[0] | run[0]) - steady
    shutdown = (watch[2] | run[2]) - steady - startup
    for group, both in ((steady, watch[1] & run[1]), (startup, watch[0] & run[0]), (shutdown, watch[2] & run[2])):
        for name in sorted(group & both) + sorted(group - both):
            print(name)


if __name__ == "__main__":
    main()
