#!/usr/bin/env bash
# Proves manifests/ twice over:
#  1. against the Kubernetes schemas — every object validated strictly (unknown fields fail) and offline
#     by kubernetes-validate, for Kubernetes $K8S_VERSION; kustomization.yaml must list every manifest
#     file, and every file it lists must exist; `kubectl debug --custom` partial container specs are
#     validated as an ephemeral container of their target pod;
#  2. against podagent itself — every container that runs podagent is materialised by `podagent simulate`
#     (its ConfigMaps from manifests/; emptyDirs shared between the pod's containers), then the podagent
#     command it declares is run against those files: `install`, `env`, `render` and `inspect` for real
#     (outputs must exist), `watch` and `run` until they log "watching" (with `run`'s app replaced by
#     `sleep 60`), their /healthz and /readyz, then SIGTERM. A wrong mount path, volume name or flag fails.
# Also checked: the hardened securityContext and the resources of every podagent container, and that the
# probes' `podagent` port is the one --listen serves.
#
# Usage: scripts/check-manifests.sh [--keep] [--install-only]
#        --keep leaves the simulated pods in the temp dir; --install-only installs kubernetes-validate
#        and stops (exit 0 when it is usable).
# Env:   PODAGENT      the binary to test (default .build/debug/podagent)
#        MANIFESTS     the directory to check (default manifests/)
#        K8S_VERSION   the Kubernetes schema version (default 1.31.0; kubernetes-validate 1.37.0 ships
#                      1.25.0 … 1.37.0)
#        CHECK_MANIFESTS_VENV  where kubernetes-validate is installed (default ~/.cache/podagent/…)
# Idempotent: installs kubernetes-validate (PyPI) into its own venv, and python3/python3-venv through
# scripts/install-deps.sh, only when missing. Ends with one line per manifest and "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

KEEP=0
INSTALL_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    --install-only) INSTALL_ONLY=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "check-manifests: unknown argument $arg (see --help)" >&2; exit 64 ;;
  esac
done

PODAGENT=${PODAGENT:-.build/debug/podagent}
case "$PODAGENT" in /*) ;; *) PODAGENT="$REPO/$PODAGENT" ;; esac
if [ ! -x "$PODAGENT" ]; then
  echo "check-manifests: no podagent binary at $PODAGENT — build it (swift build) or set PODAGENT" >&2
  exit 1
fi
K8S_VERSION=${K8S_VERSION:-1.31.0}
KUBERNETES_VALIDATE_VERSION=1.37.0
VENV=${CHECK_MANIFESTS_VENV:-${XDG_CACHE_HOME:-${HOME:-$PWD/.build}/.cache}/podagent/check-manifests-venv}

# kubernetes-validate in a venv of its own: Debian's python3 refuses a system-wide pip install (PEP 668),
# and a pinned version keeps the schemas (and so the verdicts) the same from run to run.
if ! "$VENV/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null \
   || [ "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null | awk '{print $NF}')" != "$KUBERNETES_VALIDATE_VERSION" ]; then
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    scripts/install-deps.sh python3 python3-venv
  fi
  echo "check-manifests: installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"; then
    echo "check-manifests: cannot install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION from PyPI" >&2
    rm -rf "$VENV"
    exit 1
  fi
fi
[ "$INSTALL_ONLY" = 1 ] && exit 0

WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-manifests.XXXXXX")
if [ "$KEEP" = 1 ]; then
  echo "check-manifests: simulated pods kept in $WORK" >&2
else
  trap 'rm -rf "$WORK"' EXIT
fi

MANIFESTS=${MANIFESTS:-$REPO/manifests}
case "$MANIFESTS" in /*) ;; *) MANIFESTS="$REPO/$MANIFESTS" ;; esac
[ -d "$MANIFESTS" ] || { echo "check-manifests: no directory $MANIFESTS" >&2; exit 1; }
export PODAGENT K8S_VERSION WORK REPO MANIFESTS
export KUBERNETES_VALIDATE="$VENV/bin/kubernetes-validate"
"$VENV/bin/python" - <<'PY'
import json, os, re, shlex, shutil, signal, socket, subprocess, sys, time, urllib.request
import yaml

REPO = os.environ["REPO"]
MANIFESTS = os.environ["MANIFESTS"]
PODAGENT = os.environ["PODAGENT"]
K8S_VERSION = os.environ["K8S_VERSION"]
WORK = os.environ["WORK"]
VALIDATE = os.environ["KUBERNETES_VALIDATE"]
PODAGENT_IMAGE = "ghcr.io/example/podagent"
WORKLOAD_KINDS = {"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}
HARDENED = {  # the securityContext every podagent container must have (container level or inherited)
    "runAsNonRoot": True, "runAsUser": 65532, "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
}
START_TIMEOUT = 20   # seconds for watch/run to log "watching"
STOP_TIMEOUT = 15    # seconds for them to exit after SIGTERM
RUN_TIMEOUT = 60     # seconds for env/render/inspect/install/simulate


class Failure(Exception):
    pass


def rel(path):
    return os.path.relpath(path, MANIFESTS)


# ---------------------------------------------------------------------------------------------------
# Reading manifests/
# ---------------------------------------------------------------------------------------------------
def load_documents(path):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    return [d for d in yaml.safe_load_all(text) if d is not None], text


def pod_spec(doc):
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec") or {}
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def command_of(container, image_default=None):
    """The container's argv as Kubernetes starts it, when it can be told from the manifest."""
    command = container.get("command")
    args = container.get("args") or []
    if command:
        return list(command) + list(args)
    if container.get("image", "").startswith(PODAGENT_IMAGE + ":"):
        return ["podagent"] + list(args)  # the podagent image's entrypoint is podagent
    return None


def runs_podagent(container):
    argv = command_of(container)
    return bool(argv) and os.path.basename(argv[0]) == "podagent"


# ---------------------------------------------------------------------------------------------------
# 1. Schemas and the kustomization
# ---------------------------------------------------------------------------------------------------
def run_validate(path):
    proc = subprocess.run([VALIDATE, "--strict", "-k", K8S_VERSION, path],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    out = (proc.stdout + proc.stderr).strip()
    bad = [l for l in out.splitlines() if l.startswith("ERROR") or l.startswith("WARN")]
    if proc.returncode != 0 or bad:
        raise Failure("kubernetes-validate --strict -k %s: %s" % (K8S_VERSION, "; ".join(bad) or out))


def check_kustomization(path, manifest_files):
    docs, _ = load_documents(path)
    k = docs[0]
    listed = []
    for entry in k.get("resources") or []:
        target = os.path.normpath(os.path.join(os.path.dirname(path), entry))
        if not os.path.isfile(target):
            raise Failure("lists %s, which does not exist (or is not a file)" % entry)
        if target in listed:
            raise Failure("lists %s twice" % entry)
        listed.append(target)
    missing = sorted(rel(f) for f in manifest_files if f not in listed)
    if missing:
        raise Failure("does not list %s — add it to resources (or move it out of manifests/)"
                      % ", ".join(missing))
    return len(listed)


# ---------------------------------------------------------------------------------------------------
# Policy: what every podagent container must carry
# ---------------------------------------------------------------------------------------------------
def check_hardening(spec, container, ephemeral=False):
    name = container["name"]
    pod_sc = spec.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    problems = []
    for key, want in HARDENED.items():
        have = sc.get(key, pod_sc.get(key) if key in ("runAsNonRoot", "runAsUser") else None)
        if have != want:
            problems.append("securityContext.%s is %s, want %s" % (key, json.dumps(have), json.dumps(want)))
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append("securityContext.capabilities.drop must contain ALL")
    if caps.get("add"):
        problems.append("securityContext.capabilities.add must be empty, has %s" % caps["add"])
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        problems.append("seccompProfile.type is %s, want RuntimeDefault" % json.dumps(seccomp))
    if not ephemeral:  # ephemeral containers cannot have resources
        res = container.get("resources") or {}
        for where, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            if key not in (res.get(where) or {}):
                problems.append("resources.%s.%s is missing" % (where, key))
    if problems:
        raise Failure("container %s: %s" % (name, "; ".join(problems)))


def option_values(argv, name):
    values = []
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == name and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif a.startswith(name + "="):
            values.append(a[len(name) + 1:])
    return values


def check_ports(container):
    """--listen's port must be the container port the probes call `podagent`."""
    argv = command_of(container) or []
    listen = option_values(argv, "--listen")
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
    for probe_key in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(probe_key) or {}
        port = (probe.get("httpGet") or {}).get("port")
        if isinstance(port, str) and port not in ports:
            raise Failure("container %s: %s uses port %s, which the container does not declare"
                          % (container["name"], probe_key, port))
    if listen and "podagent" in ports:
        port = int(listen[-1].rsplit(":", 1)[1])
        if port != ports["podagent"]:
            raise Failure("container %s: --listen %s but the `podagent` containerPort is %s"
                          % (container["name"], listen[-1], ports["podagent"]))


# ---------------------------------------------------------------------------------------------------
# 2. podagent simulate + the declared command
# ---------------------------------------------------------------------------------------------------
def under(root, path):
    return os.path.join(root, path.lstrip("/"))


def simulate(pod_file, objects, root, container):
    argv = [PODAGENT, "simulate", "--pod", pod_file, "--root", root, "--container", container]
    for o in objects:
        argv += ["--object", o]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise Failure("container %s: podagent simulate failed (exit %d): %s"
                      % (container, proc.returncode, (proc.stderr or proc.stdout).strip()))


def prepare_empty_dirs(spec, container, root, shared):
    """emptyDirs are the kubelet's plain directories, shared by every container that mounts them:
    each mount point under the container's root is a symlink to one directory per volume."""
    empty = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
    for m in container.get("volumeMounts") or []:
        if m["name"] in empty:
            target = os.path.join(shared, m["name"])
            os.makedirs(target, exist_ok=True)
            os.chmod(target, 0o777)
            link = under(root, m["mountPath"])
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if not os.path.islink(link):
                os.symlink(target, link)


def container_env(root):
    """The container's env as `podagent simulate` resolved it, plus a PATH (the image would give one)."""
    env_file = os.path.join(root, ".podagent", "env")
    proc = subprocess.run(["sh", "-c", 'set -a; . "$1"; env -0', "sh", env_file],
                          capture_output=True, env={}, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise Failure("cannot read the simulated env file %s" % env_file)
    env = {}
    for item in proc.stdout.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode()] = v.decode("utf-8", "surrogateescape")
    for k in ("PWD", "SHLVL", "_", "OLDPWD"):
        env.pop(k, None)
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return env


def resolve_executable(container, root, argv0):
    if argv0.startswith("/"):
        exe = under(root, argv0)
        if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
            raise Failure("container %s starts %s, but nothing put an executable there — is the "
                          "install init container's directory the emptyDir mounted at %s?"
                          % (container["name"], argv0, os.path.dirname(argv0)))
        return exe
    if not container.get("image", "").startswith(PODAGENT_IMAGE + ":"):
        raise Failure("container %s starts `%s` from PATH, but its image %s is not the podagent image"
                      % (container["name"], argv0, container.get("image")))
    return PODAGENT


PATH_OPTIONS = {  # options whose value is a container path that podagent does NOT resolve in --root
    "env": ["--output"],
    "render": ["--template", "--output", "--dir"],
    "watch": ["--dir", "--pid-file", "--webhook-ca-file"],
    "run": ["--dir", "--pid-file", "--webhook-ca-file"],
    "inspect": [],
}


def rewrite(sub, args, root):
    """The declared options with container paths moved under ROOT; the app after `--` kept apart."""
    if "--" in args:
        i = args.index("--")
        opts, app = args[:i], args[i + 1:]
    else:
        opts, app = args, None
    out = []
    i = 0
    while i < len(opts):
        a = opts[i]
        name, eq, inline = a.partition("=")
        takes_path = name in PATH_OPTIONS.get(sub, [])
        if name == "--render" and sub in ("watch", "run"):
            value = inline if eq else opts[i + 1]
            t, _, o = value.partition(":")
            out += ["--render", under(root, t) + ":" + under(root, o)]
            i += 1 if eq else 2
            continue
        if takes_path:
            value = inline if eq else opts[i + 1]
            out += [name, under(root, value)]
            i += 1 if eq else 2
            continue
        out.append(a)
        i += 1
    return out, app


def drop_option(opts, name, takes_value):
    out, i = [], 0
    while i < len(opts):
        a = opts[i]
        if a == name:
            i += 2 if takes_value else 1
            continue
        if takes_value and a.startswith(name + "="):
            i += 1
            continue
        out.append(a)
        i += 1
    return out


def run_once(container, exe, argv, env, what):
    proc = subprocess.run([exe] + argv, capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise Failure("container %s: `podagent %s` exited %d: %s"
                      % (container["name"], " ".join(shlex.quote(a) for a in what),
                         proc.returncode, why(proc.stderr or proc.stdout)))
    return proc


def why(output):
    """The lines of a failed command's output that say why: its errors first, warnings only if nothing else."""
    lines = [l for l in output.strip().splitlines() if l.strip()]
    errors = [l for l in lines if not l.startswith("podagent: warning:")]
    return " | ".join((errors or lines)[-4:])[-800:]


def has_subcommand(name):
    return subprocess.run([PODAGENT, name, "--help"], capture_output=True).returncode == 0


def check_install(container, exe, opts, root):
    positional = [a for a in opts if not a.startswith("-")]
    names = option_values(opts, "--name")
    if len(positional) != 1:
        raise Failure("container %s: `podagent install` takes one directory, got %s" % (container["name"], opts))
    target_dir = under(root, positional[0])
    target = os.path.join(target_dir, names[-1] if names else "podagent")
    if has_subcommand("install"):
        run_once(container, exe, ["install", target_dir] + (["--name", names[-1]] if names else []),
                 {"PATH": "/usr/bin:/bin"}, ["install"] + opts)
        note = "installed"
    else:
        # Not in this binary yet: stand in for it, so the containers that use the copy are still checked.
        if not os.path.isdir(target_dir):
            raise Failure("container %s: %s is not a directory — is an emptyDir mounted there?"
                          % (container["name"], positional[0]))
        shutil.copyfile(exe, target + ".tmp")
        os.chmod(target + ".tmp", 0o755)
        os.rename(target + ".tmp", target)
        note = "NOT CHECKED (this podagent has no `install`; copied by the script instead)"
    mode = os.stat(target).st_mode & 0o777
    if mode != 0o755:
        raise Failure("container %s: installed %s has mode %o, want 755" % (container["name"], target, mode))
    if subprocess.run(["cmp", "-s", exe, target]).returncode != 0:
        raise Failure("container %s: %s is not a copy of podagent" % (container["name"], target))
    return "install %s %s" % (positional[0], note)


def check_env(container, exe, opts, app, root, env, declared):
    if app is not None:  # `env -- CMD`: exec a harmless command instead of the app
        opts = opts + ["--", "true"]
    run_once(container, exe, ["env", "--root", root] + opts, env, declared)
    outputs = option_values(opts, "--output")
    for out in outputs:
        if not os.path.isfile(out) or os.path.getsize(out) == 0:
            raise Failure("container %s: podagent env wrote no %s" % (container["name"], out))
        fmt = (option_values(opts, "--format") or ["dotenv"])[-1]
        if fmt == "shell":
            prefix = (option_values(opts, "--prefix") or ["POD_"])[-1]
            check = subprocess.run(["sh", "-c", '. "$1" && eval "test -n \\"\\${$2NAME}\\""', "sh", out, prefix],
                                   env={}, capture_output=True)
            if check.returncode != 0:
                raise Failure("container %s: sourcing %s did not set %sNAME" % (container["name"], out, prefix))
        elif fmt == "json":
            json.load(open(out))
    return "env → %s" % ", ".join(rel_root(o, root) for o in outputs) if outputs else "env"


def rel_root(path, root):
    return "/" + os.path.relpath(path, root)


def check_render(container, exe, opts, root, env, declared):
    run_once(container, exe, ["render", "--root", root] + opts, env, declared)
    outputs = option_values(opts, "--output")
    for out in outputs:
        if not os.path.isfile(out) or os.path.getsize(out) == 0:
            raise Failure("container %s: podagent render wrote no %s" % (container["name"], out))
    return "render → %s" % ", ".join(rel_root(o, root) for o in outputs)


def check_inspect(container, exe, opts, root, env, declared):
    # No API server here: --offline, without the options that need one.
    opts = drop_option(opts, "--check-permissions", False)
    for name in ("--api-server", "--ca-file", "-o", "--output"):
        opts = drop_option(opts, name, True)
    proc = run_once(container, exe, ["inspect", "--root", root, "--offline", "-o", "json"] + opts, env, declared)
    try:
        json.loads(proc.stdout)
    except ValueError as e:
        raise Failure("container %s: podagent inspect -o json printed no JSON (%s)" % (container["name"], e))
    return "inspect (offline)"


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def check_long_running(container, exe, sub, opts, app, root, env, declared, logdir):
    opts = drop_option(opts, "--log-format", True)
    if option_values(opts, "--listen"):
        opts = drop_option(opts, "--listen", True) + ["--listen", "127.0.0.1:0"]
    if "--root" not in opts:
        opts = ["--root", root] + opts
    argv = [sub] + opts + ["--log-format", "json"]
    if sub == "run":
        if not app:
            raise Failure("container %s: `podagent run` declares no app after --" % container["name"])
        argv += ["--", "sleep", "60"]  # nginx is not the point here; the flags and paths are
    log_path = os.path.join(logdir, "%s.log" % container["name"])
    log = open(log_path, "wb")
    proc = subprocess.Popen([exe] + argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    lines = []

    def read_log():
        with open(log_path, "rb") as f:
            out = []
            for raw in f.read().decode("utf-8", "replace").splitlines():
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    out.append({"msg": raw})
            return out

    def tail():
        return " | ".join(str(l.get("msg", "")) + ("" if "error" not in l else ": " + str(l["error"]))
                          for l in read_log()[-6:])

    try:
        deadline = time.time() + START_TIMEOUT
        watching = False
        while time.time() < deadline:
            lines = read_log()
            watching = any(l.get("msg") == "watching" for l in lines)
            started = sub != "run" or any(l.get("msg") == "app started" for l in lines)
            if watching and started:
                break
            if proc.poll() is not None:
                raise Failure("container %s: `podagent %s` exited %d before watching: %s"
                              % (container["name"], " ".join(shlex.quote(a) for a in declared),
                                 proc.returncode, tail()))
            time.sleep(0.1)
        else:
            raise Failure("container %s: `podagent %s` did not log \"watching\" within %ds: %s"
                          % (container["name"], sub, START_TIMEOUT, tail()))
        dirs = next(l.get("directories", "") for l in lines if l.get("msg") == "watching")
        note = "%s watching %s" % (sub, ", ".join(rel_root(d, root) for d in str(dirs).split(",") if d))
        address = next((l.get("address") for l in lines if l.get("msg") == "status endpoint listening"), None)
        if address:
            statuses = []
            for path in ("/healthz", "/readyz"):
                deadline = time.time() + 5
                status = http_status("http://%s%s" % (address, path))
                while status != 200 and time.time() < deadline:
                    time.sleep(0.1)
                    status = http_status("http://%s%s" % (address, path))
                if status != 200:
                    raise Failure("container %s: %s answered %s" % (container["name"], path, status))
                statuses.append("%s 200" % path)
            note += ", " + ", ".join(statuses)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failure("container %s: `podagent %s` did not stop within %ds of SIGTERM"
                          % (container["name"], sub, STOP_TIMEOUT))
        # watch exits 0; run exits with its app's status (sleep killed by the forwarded SIGTERM: 143).
        if code not in ((0,) if sub == "watch" else (0, 143)):
            raise Failure("container %s: `podagent %s` exited %d after SIGTERM: %s"
                          % (container["name"], sub, code, tail()))
        return note + ", SIGTERM → exit %d" % code
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def check_container(pod_file, objects, spec, container, workdir, shared):
    name = container["name"]
    root = os.path.join(workdir, name)
    prepare_empty_dirs(spec, container, root, shared)
    simulate(pod_file, objects, root, name)
    argv = command_of(container)
    exe = resolve_executable(container, root, argv[0])
    if len(argv) < 2:
        raise Failure("container %s runs podagent without a subcommand" % name)
    sub, declared = argv[1], argv[1:]
    env = container_env(root)
    if sub == "install":
        return check_install(container, exe, argv[2:], root)
    if sub not in PATH_OPTIONS:
        raise Failure("container %s: podagent %s is not a command a pod runs" % (name, sub))
    opts, app = rewrite(sub, argv[2:], root)
    if sub == "env":
        return check_env(container, exe, opts, app, root, env, declared)
    if sub == "render":
        return check_render(container, exe, opts, root, env, declared)
    if sub == "inspect":
        return check_inspect(container, exe, opts, root, env, declared)
    return check_long_running(container, exe, sub, opts, app, root, env, declared, workdir)


def check_workload(path, doc, objects, index):
    spec = pod_spec(doc)
    workdir = os.path.join(WORK, "%02d-%s" % (index, doc["metadata"]["name"]))
    shared = os.path.join(workdir, ".emptydir")
    os.makedirs(shared, exist_ok=True)
    notes = []
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    for c in containers:  # init containers first, in order, as the kubelet runs them
        if not runs_podagent(c):
            continue
        check_hardening(spec, c)
        check_ports(c)
        notes.append("%s: %s" % (c["name"], check_container(path, objects, spec, c, workdir, shared)))
    return notes


def check_partial_container(path, text, part, objects, index):
    """A `kubectl debug --custom` file: a partial container spec, checked as an ephemeral container
    of its target pod (named by a `# check-manifests: target=FILE` line)."""
    m = re.search(r"^#\s*check-manifests:\s*target=(\S+)", text, re.M)
    if not m:
        raise Failure("not a Kubernetes object; a partial container spec needs a "
                      "`# check-manifests: target=FILE` line naming its target workload")
    target_file = os.path.normpath(os.path.join(MANIFESTS, m.group(1)))
    if not os.path.isfile(target_file):
        raise Failure("target %s does not exist" % m.group(1))
    target_docs, _ = load_documents(target_file)
    workload = next((d for d in target_docs if d.get("kind") in WORKLOAD_KINDS), None)
    if workload is None:
        raise Failure("target %s holds no workload" % m.group(1))
    spec = json.loads(json.dumps(pod_spec(workload)))
    forbidden = {"name", "image", "command", "args", "lifecycle", "volumeDevices"} & set(part)
    if forbidden:
        raise Failure("kubectl debug --custom does not allow %s" % ", ".join(sorted(forbidden)))
    debugger = dict(part, name="debugger", image=PODAGENT_IMAGE + ":0.1.0", command=["podagent", "inspect"])
    volumes = {v["name"] for v in spec.get("volumes") or []}
    for mount in part.get("volumeMounts") or []:
        if mount["name"] not in volumes:
            raise Failure("mounts volume %s, which %s does not have (it has %s)"
                          % (mount["name"], m.group(1), ", ".join(sorted(volumes))))
    # Schema: as an ephemeral container of the target pod.
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": workload["metadata"]["name"]},
           "spec": dict(spec, ephemeralContainers=[dict(debugger, targetContainerName=spec["containers"][0]["name"])])}
    workdir = os.path.join(WORK, "%02d-debug-%s" % (index, workload["metadata"]["name"]))
    os.makedirs(workdir, exist_ok=True)
    as_pod = os.path.join(workdir, "ephemeral.yaml")
    with open(as_pod, "w") as f:
        yaml.safe_dump(pod, f)
    run_validate(as_pod)
    check_hardening(spec, debugger, ephemeral=True)
    # podagent: the debug container as a container of the pod (same volumes), then `podagent inspect`.
    as_container = os.path.join(workdir, "as-container.yaml")
    with open(as_container, "w") as f:
        yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": pod["metadata"],
                        "spec": dict(spec, containers=list(spec["containers"]) + [debugger])}, f)
    shared = os.path.join(workdir, ".emptydir")
    os.makedirs(shared, exist_ok=True)
    return ["ephemeral container of %s: %s" % (m.group(1), check_container(as_container, objects, spec, debugger,
                                                                            workdir, shared))]


def main():
    files = []
    for d, _, names in os.walk(MANIFESTS):
        files += [os.path.join(d, n) for n in names if n.endswith((".yaml", ".yml"))]
    files.sort()
    results = []  # (file, ok, detail)
    parsed = {}
    for f in files:
        try:
            parsed[f] = load_documents(f)
        except Exception as e:
            results.append((f, False, "invalid YAML: %s" % e))
    kustomizations = [f for f, (docs, _) in parsed.items() if docs and docs[0].get("kind") == "Kustomization"]
    objects_files = [f for f, (docs, _) in parsed.items()
                     if f not in kustomizations and docs and all("kind" in d for d in docs)]
    partial_files = [f for f, (docs, _) in parsed.items() if f not in kustomizations and f not in objects_files]
    object_sources = [f for f in objects_files
                      if any(d.get("kind") in ("ConfigMap", "Secret") for d in parsed[f][0])]

    if not kustomizations:
        results.append((os.path.join(MANIFESTS, "kustomization.yaml"), False, "missing"))
    for k in kustomizations:
        try:
            n = check_kustomization(k, [f for f in objects_files if os.path.dirname(f).startswith(os.path.dirname(k))])
            results.append((k, True, "lists all %d manifest files; not a Kubernetes object, schema skipped" % n))
        except Failure as e:
            results.append((k, False, str(e)))

    index = 0
    for f in objects_files:
        docs, _ = parsed[f]
        notes = []
        try:
            run_validate(f)
            notes.append("schema %s strict: %s" % (K8S_VERSION, ", ".join(
                "%s/%s" % (d["kind"], d.get("metadata", {}).get("name")) for d in docs)))
            for d in docs:
                if d.get("kind") in WORKLOAD_KINDS:
                    index += 1
                    notes += check_workload(f, d, [o for o in object_sources if o != f], index)
            results.append((f, True, "; ".join(notes)))
        except Failure as e:
            results.append((f, False, "; ".join(notes + [str(e)])))
        except subprocess.TimeoutExpired as e:
            results.append((f, False, "; ".join(notes + ["timed out: %s" % " ".join(e.cmd)])))

    for f in partial_files:
        docs, text = parsed[f]
        index += 1
        try:
            if len(docs) != 1 or not isinstance(docs[0], dict):
                raise Failure("neither a Kubernetes object nor one partial container spec")
            notes = check_partial_container(f, text, docs[0], object_sources, index)
            results.append((f, True, "kubectl debug --custom spec; schema %s strict; %s" % (K8S_VERSION, "; ".join(notes))))
        except Failure as e:
            results.append((f, False, str(e)))
        except subprocess.TimeoutExpired as e:
            results.append((f, False, "timed out: %s" % " ".join(e.cmd)))

    print("podagent %s · Kubernetes %s schemas" % (
        subprocess.run([PODAGENT, "--version"], capture_output=True, text=True).stdout.strip(), K8S_VERSION))
    width = max(len(rel(f)) for f, _, _ in results)
    for f, ok, detail in results:
        print("%s  %-*s  %s" % ("ok  " if ok else "FAIL", width, rel(f), detail))
    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
PY
