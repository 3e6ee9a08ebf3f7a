#!/usr/bin/env python3
"""Runs podagent under callgrind in the three shapes a pod runs it — `watch` with only a webhook and with
a check and two actions (sidecar), and `run` (entrypoint) — through start-up, kubelet-exact updates with
reloads (one at a time, in a burst, and written slowly), a scrape of /metrics and the probes, and
SIGTERM. Prints the order file for the linker, one symbol per code section that ran: first the sections
that ran after start-up (the steady state), then those that ran only during start-up, then only at
shutdown; and writes a linker script for the sections the order file cannot place.

What ran is taken by instruction address, not by function name, and placed by input section, from the
link map of the profiled binary:
- a name can stand for many sections: the compiler's local helpers (`objectdestroyTm`,
  `__swift_destroy_boxed_opaque_existential_0Tm`, ...) have the same name in hundreds of objects, and
  the linker moves every section that defines a name the file lists. Listed by name, one such helper
  that ran pulled 2.6 MB of Foundation's, RegexParser's and StringProcessing's code (whole objects
  built without function sections) into the middle of the steady state's code. The helpers that ran are
  placed by file in the linker script (.text.helpers, just before .text);
- such objects' code is one section each, which no order splits: the ones the steady state runs in
  (the standard library's 1.6 MB `Swift.o`, Concurrency) are placed together after .text (.text.whole),
  so that the small sections lie together in as few 64 KiB blocks as possible.

Used by scripts/order-file.sh. Usage: order-profile.py PODAGENT_WITH_SYMBOLS OUT_DIR LINK_MAP LINKER_SCRIPT_OUT > ORDER_FILE
"""
import bisect, collections, os, re, signal, subprocess, sys, tempfile, threading, time, urllib.request
import http.server

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


POSITION = re.compile(r"^(0x[0-9a-f]+|[+-][0-9]+|\*)")


def ran(path, binary):
    """The instructions a callgrind output file (--dump-instr=yes) has costs for, in two parts: those
    valgrind places in the binary, and those it places in no object ("???"): code in the sections the
    linker scripts add (.text.unnamed, .text.helpers, .text.whole), which valgrind does not take for the
    binary's.
    Each part as the instructions' addresses and, per function block, its name and first address. A cost
    line starts with its instruction's address: absolute (0x...), relative to the previous one (+N, -N)
    or the same (*). The first part's addresses are the binary's own; the second's are where valgrind
    loaded it (see load_bias)."""
    parts = {True: (set(), []), False: (set(), [])}
    address, part, function, call_site = 0, None, None, False
    with open(path) as data:
        for line in data:
            if call_site:
                # The line after `calls=`: the call's site and inclusive cost, relative to the position
                # before it without moving it (callgrind's dump.c). The call instruction's own cost is on a
                # line of its own; a call still running at the dump (main, a run loop) is only here.
                call_site = False
                continue
            if line.startswith("calls="):
                call_site = True
                continue
            if line.startswith("ob="):
                name = line[3:].strip()
                part = parts[True] if name == binary else parts[False] if name == "???" else None
                continue
            if line.startswith("fn="):
                function = line[3:].rstrip("\n").split("'")[0]  # 'N marks a recursion cycle
                continue
            match = POSITION.match(line)
            if not match:
                continue
            token = match.group(1)
            if token.startswith("0x"):
                address = int(token, 16)
            elif token[0] == "+":
                address += int(token[1:])
            elif token[0] == "-":
                address -= int(token[1:])
            if part is not None:
                part[0].add(address)
                if function is not None:
                    part[1].append((function, address))
                    function = None
    return parts[True], parts[False]


def load_bias(blocks, where, what):
    """The difference between a function block's first address in the profile and the address the link
    map gives its name, over the names defined once: 0 for what valgrind places in the binary, where it
    loaded the binary (0x108000) for what it places in no object. Most blocks must agree: a block's first
    address is its function's entry unless the entry did not run."""
    differences = collections.Counter()
    for function, address in blocks:
        defined_at = where.get(function, ())
        if len(defined_at) == 1:
            differences[address - defined_at[0]] += 1
    if not differences:
        sys.exit(f"order-profile: no function of the profile's {what} is in the link map")
    bias, votes = differences.most_common(1)[0]
    if votes * 2 <= sum(differences.values()) or bias % 4096:
        sys.exit(f"order-profile: the profile's {what} does not line up with the link map "
                 f"(best offset {bias:#x}, {votes} of {sum(differences.values())} functions)")
    return bias


def profile(binary, mode, out_dir, webhook):
    root = tempfile.mkdtemp(prefix="podagent-order-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    volume = KubeletVolume(root)
    volume.update()
    common = ["--dir", root, "--listen", "127.0.0.1:0", "--debounce", "0", "--log-format", "json"]
    if mode == "webhook":
        args = ["watch"] + common + ["--webhook", webhook]
    elif mode == "watch":
        args = ["watch"] + common + ["--check", "true", "--webhook", webhook, "--exec", "true"]
    else:
        app = "import signal, time; signal.signal(signal.SIGHUP, lambda *a: None); time.sleep(1000)"
        args = ["run"] + common + ["--check", "true", "--", sys.executable, "-c", app]
    out = os.path.join(out_dir, f"callgrind.{mode}")
    with open(os.path.join(out_dir, f"{mode}.log"), "w") as log:
        agent = subprocess.Popen(["valgrind", "--tool=callgrind", "--dump-instr=yes", "--demangle=no",
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
        # A burst, as a kubelet sync of several volumes or a rollout gives (updates coalesced, reloads
        # superseded), and a slow writer (a generation whose files are still being written).
        for _ in range(10):
            volume.update()
        time.sleep(3)
        volume.update(slow=0.03)
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
    return ran(out + ".1", binary), ran(out + ".2", binary), ran(out, binary)


def is_code(output):
    """.text and the sections the linker scripts make of it (.text.unnamed, .text.helpers)."""
    return output is not None and (output == ".text" or output.startswith(".text."))


def code_sections(link_map):
    """The input sections of the code output sections in an lld link map (-Map), in address order, each
    as [address, size, name, symbols]; how many times each symbol name is defined in the map; and the
    addresses of each code symbol."""
    sections, output, defined, where = [], None, collections.Counter(), collections.defaultdict(list)
    line_format = re.compile(r"^ *([0-9a-f]+) +[0-9a-f]+ +([0-9a-f]+) +[0-9]+ (.*)$")
    with open(link_map) as data:
        for line in data:
            match = line_format.match(line.rstrip("\n"))
            if not match:
                continue
            address, size, rest = int(match.group(1), 16), int(match.group(2), 16), match.group(3)
            depth = len(rest) - len(rest.lstrip(" "))
            if depth == 0:
                output = rest
            elif depth == 16:
                defined[rest.strip()] += 1
                if is_code(output) and sections:
                    sections[-1][3].append(rest.strip())
                    where[rest.strip()].append(address)
            elif depth == 8 and is_code(output):
                sections.append([address, size, rest.strip(), []])
    sections.sort()
    return sections, defined, where


def linker_script(helpers, whole):
    """The linker script for what the order file cannot place: `helpers`, the sections that ran but
    define no name of their own, and `whole`, the whole-object sections the steady state runs in."""
    return SCRIPT.format(helpers="\n".join(f"    {section}" for section in helpers),
                         whole="\n".join(f"    {section}" for section in whole))


SCRIPT = """/* Generated by scripts/order-file.sh; linked into the release build (scripts/release-build.sh).

   .text.helpers: the code sections that ran on a reload, a probe or at start-up but define no name of
   their own: the compiler's local helpers (objectdestroyTm, __swift_destroy_boxed_opaque_existential_0Tm,
   merged functions, partial-apply forwarders) and functions without a symbol. Their names recur in
   hundreds of objects; the order file cannot name them without moving every other section of that name,
   so they are placed here, by file, in the order they ran: steady state first.

   .text.whole: the objects built without function sections (the standard library's Swift.o,
   Concurrency) and the few large functions that the steady state runs in, together, after .text: the
   linker cannot split them, and placed among the small sections each would part them. */
SECTIONS {{
  .text.helpers : {{
{helpers}
  }}
}} INSERT BEFORE .text;
SECTIONS {{
  .text.whole : {{
{whole}
  }}
}} INSERT AFTER .text;
"""

# Sections larger than this are whole objects built without function sections (the Swift runtime's,
# Foundation's, llhttp's parser): placed after the small ones, and never moved by a name they share.
WHOLE_OBJECT = 16 * 1024


def linker_script_input(section):
    """How a linker script names one input section of the map: `*/NIOCore.build/EventLoopFuture.swift.o
    (.text.objectdestroyTm)`, or `*/libgcc.a:_umoddi3.o(.text)` for an archive's member; None for the
    linker's own sections (`<internal>`). The file's own directory is kept (object names repeat across
    modules), the rest of the path is not (a clone's checkout lies elsewhere)."""
    if section.startswith("<"):
        return None
    path, name = section.rsplit(":(", 1)
    archive = re.match(r"^(.*)\((.*)\)$", path)
    if archive:
        return f"*/{os.path.basename(archive.group(1))}:{archive.group(2)}({name}"
    return f"*/{'/'.join(path.split('/')[-2:])}({name}"


def order(sections, defined, phases):
    """The sections that ran, by phase, each phase given as the addresses that ran in each shape podagent
    was run in. Within a phase, small sections first: those all shapes ran, then the others,
    each in the order they lie in now (which keeps a file's functions together); then the large ones by
    the share of their pages that ran. Returns the symbols for the order file, one per section that has a
    name no other section has; the small sections that have none (local helpers), for the linker script;
    and the large sections the steady state (the first phase) ran in."""
    starts = [section[0] for section in sections]

    def touched(addresses):
        offsets = collections.defaultdict(set)
        for address in addresses:
            index = bisect.bisect_right(starts, address) - 1
            if index >= 0 and address < sections[index][0] + sections[index][1]:
                offsets[index].add(address - sections[index][0])
        return offsets

    placed, names, helpers, whole = set(), [], [], []
    for phase, shapes in enumerate(phases):
        by_shape = [touched(addresses) for addresses in shapes]
        offsets = collections.defaultdict(set)
        for shape in by_shape:
            for index, ran_at in shape.items():
                offsets[index] |= ran_at
        ran = [index for index in offsets if index not in placed]
        small = sorted((index for index in ran if sections[index][1] <= WHOLE_OBJECT),
                       key=lambda index: (not all(index in shape for shape in by_shape), index))
        large = sorted((index for index in ran if sections[index][1] > WHOLE_OBJECT),
                       key=lambda index: -len({offset // 4096 for offset in offsets[index]}) * 4096 / sections[index][1])
        for index in small + large:
            placed.add(index)
            if sections[index][1] > WHOLE_OBJECT and phase == 0:
                if (pattern := linker_script_input(sections[index][2])) is not None:
                    whole.append(pattern)
                continue
            unique = [symbol for symbol in sections[index][3] if defined[symbol] == 1]
            if unique:
                names.append(unique[0])
            elif sections[index][1] <= WHOLE_OBJECT:
                if (pattern := linker_script_input(sections[index][2])) is not None:
                    helpers.append(pattern)
    return names, helpers, whole


def main():
    # valgrind names the binary by its path with symbolic links resolved.
    binary, out_dir, link_map, script = os.path.realpath(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{server.server_port}/reload"
    # The sidecar with only a webhook (configmap-reload's job), with a check and two actions, and the
    # entrypoint wrapper.
    shapes = [profile(binary, mode, out_dir, webhook) for mode in ("webhook", "watch", "run")]
    # What a running podagent does again and again first, then start-up, then shutdown. A reload's code
    # then lies in few pages, and start-up's in blocks of their own that nothing touches again (which the
    # kernel can take back first when memory is short, and podagent gives back once it is up).
    sections, defined, where = code_sections(link_map)
    known = [block for shape in shapes for phase in shape for block in phase[0][1]]
    unknown = [block for shape in shapes for phase in shape for block in phase[1][1]]
    bias, unplaced_bias = load_bias(known, where, "binary"), load_bias(unknown, where, "code outside the binary")
    print(f"order-profile: addresses off by {bias:#x} in the binary, {unplaced_bias:#x} outside it",
          file=sys.stderr)
    shapes = [[{address - bias for address in phase[0][0]} | {address - unplaced_bias for address in phase[1][0]}
               for phase in shape] for shape in shapes]
    # Each phase as what ran in each shape: steady state, start-up (less the steady state's), shutdown.
    steady_anywhere = set().union(*(shape[1] for shape in shapes))
    startup_anywhere = set().union(*(shape[0] for shape in shapes))
    steady = tuple(shape[1] for shape in shapes)
    startup = tuple(shape[0] - steady_anywhere for shape in shapes)
    shutdown = tuple(shape[2] - steady_anywhere - startup_anywhere for shape in shapes)
    names, helpers, whole = order(sections, defined, (steady, startup, shutdown))
    for symbol in names:
        print(symbol)
    with open(script, "w") as out:
        out.write(linker_script(helpers, whole))


if __name__ == "__main__":
    main()
