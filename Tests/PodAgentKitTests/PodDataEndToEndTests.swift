import Foundation
import Glibc
import Testing
@testable import PodAgentKit

/// The Kubernetes docs' Downward API examples in one pod (dapi-volume.yaml's labels and annotations,
/// dapi-envars-container.yaml's env, dapi-volume-resources.yaml's resource files), with one hostile
/// annotation added. Simulated into a root, it is what `podagent env` reads in a cluster.
private let docsPod = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: kubernetes-downwardapi-volume-example
      namespace: docs
      uid: 6f4d1c1a-0b7e-4d3c-9a53-1d2e3f4a5b6c
      labels:
        zone: us-est-coast
        cluster: test-cluster1
        rack: rack-22
        app.kubernetes.io/name: web
      annotations:
        build: two
        builder: john-doe
        example.com/log-level: debug
        hostile: "it's $(touch /tmp/podagent-canary) `id` \\\\ \\"q\\"\\nline2"
    spec:
      serviceAccountName: web
      containers:
        - name: client-container
          image: registry.k8s.io/busybox:1.27.2
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: POD_UID
              valueFrom: {fieldRef: {fieldPath: metadata.uid}}
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            - name: NODE_NAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
            - name: SERVICE_ACCOUNT
              valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}
            - name: MY_CPU_REQUEST
              valueFrom: {resourceFieldRef: {containerName: client-container, resource: requests.cpu, divisor: 1m}}
            - name: MY_CPU_LIMIT
              valueFrom: {resourceFieldRef: {containerName: client-container, resource: limits.cpu, divisor: 1m}}
            - name: MY_MEM_REQUEST
              valueFrom: {resourceFieldRef: {containerName: client-container, resource: requests.memory}}
            - name: CONTAINER_MEMORY_LIMIT_MEBIBYTES
              valueFrom: {resourceFieldRef: {containerName: client-container, resource: limits.memory, divisor: 1Mi}}
          resources:
            requests: {memory: "32Mi", cpu: "125m"}
            limits: {memory: "64Mi", cpu: "250m"}
          volumeMounts:
            - name: podinfo
              mountPath: /etc/podinfo
      volumes:
        - name: podinfo
          downwardAPI:
            items:
              - path: labels
                fieldRef: {fieldPath: metadata.labels}
              - path: annotations
                fieldRef: {fieldPath: metadata.annotations}
              - path: cpu_limit_millicores
                resourceFieldRef: {containerName: client-container, resource: limits.cpu, divisor: 1m}
              - path: mem_request
                resourceFieldRef: {containerName: client-container, resource: requests.memory, divisor: 1Mi}
    """

/// The `--resource` declarations the docs' unit-less names need.
private let docsDeclarations = [
    "--resource", "MY_CPU_REQUEST=requests.cpu/1m", "--resource", "MY_CPU_LIMIT=limits.cpu/1m",
    "--resource", "MY_MEM_REQUEST=requests.memory", "--resource", "mem_request=requests.memory/1Mi",
]

/// A sandbox holding the simulated docs pod, and a way to run podagent inside the pod's env.
private struct SimulatedPod {
    let dir = TemporaryDirectory()
    var root: String { dir.file("root") }

    init(manifest: String = docsPod, set: [(String, String)] = [("status.podIP", "10.1.2.3")]) throws {
        _ = dir.write("pod.yaml", manifest)
        var options = SimulationOptions(podFile: dir.file("pod.yaml"), root: dir.file("root"))
        options.overrides = set
        _ = try PodSimulator.run(options)
        // Sandboxed cgroup v2, as a container with a 250m CPU limit and 64Mi memory limit sees it.
        try FileSystem.makeDirectories(root + "/sys/fs/cgroup")
        _ = dir.write("root/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n")
        _ = dir.write("root/sys/fs/cgroup/cpu.max", "25000 100000\n")
        _ = dir.write("root/sys/fs/cgroup/memory.max", "67108864\n")
        try FileSystem.makeDirectories(root + "/proc/self")
        _ = dir.write("root/proc/self/cgroup", "0::/\n")
    }

    /// Runs podagent with the container's env as `simulate` wrote it (sourced by a real shell).
    func podagent(_ arguments: [String], extraEnvironment: String = "") async -> ProcessOutput {
        let script = "set -a; . \"$0\"; \(extraEnvironment) set +a; exec \"$@\""
        return await runProcess(["/bin/sh", "-c", script, root + "/.podagent/env", podagentBinary] + arguments, directory: dir)
    }

    func remove() { dir.remove() }
}

private func json(_ bytes: [UInt8]) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

@Suite("podagent env and render, end to end on a simulated pod")
struct PodDataEndToEndTests {
    @Test("env --format json gives back what the manifest says: identity, labels, annotations, resources, cgroup")
    func jsonRoundTrip() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let result = await pod.podagent(["env", "--root", pod.root, "--format", "json"] + docsDeclarations)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try json(result.stdout)
        let identity = try #require(object["pod"] as? [String: Any])
        #expect(identity["name"] as? String == "kubernetes-downwardapi-volume-example")
        #expect(identity["namespace"] as? String == "docs")
        #expect(identity["uid"] as? String == "6f4d1c1a-0b7e-4d3c-9a53-1d2e3f4a5b6c")
        #expect(identity["ip"] as? String == "10.1.2.3")
        #expect(identity["serviceAccount"] as? String == "web")
        let labels = try #require(object["labels"] as? [String: String])
        #expect(labels == ["zone": "us-est-coast", "cluster": "test-cluster1", "rack": "rack-22", "app.kubernetes.io/name": "web"])
        let annotations = try #require(object["annotations"] as? [String: String])
        #expect(annotations["hostile"] == "it's $(touch /tmp/podagent-canary) `id` \\ \"q\"\nline2")
        #expect(annotations["example.com/log-level"] == "debug")
        let resources = try #require(object["resources"] as? [String: [String: Any]])
        #expect(resources["requests"]?["cpuMillicores"] as? Int == 125)
        #expect(resources["limits"]?["cpuMillicores"] as? Int == 250)
        #expect(resources["requests"]?["memoryBytes"] as? Int == 32 * 1_048_576)
        #expect(resources["limits"]?["memoryBytes"] as? Int == 64 * 1_048_576)
        #expect(resources["requests"]?["ephemeralStorageBytes"] is NSNull)
        let cgroup = try #require(object["cgroup"] as? [String: Any])
        #expect(cgroup["version"] as? Int == 2)
        #expect(cgroup["cpuMillicores"] as? Int == 250)
        #expect(cgroup["memoryBytes"] as? Int == 67_108_864)
        #expect(object["cpus"] as? Int == 1)
    }

    @Test("env --format shell, sourced by bash, gives every value back byte for byte and runs nothing")
    func shellRoundTrip() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let canary = "/tmp/podagent-canary"
        unlink(canary)
        let output = pod.dir.file("pod.sh")
        let written = await pod.podagent(["env", "--root", pod.root, "--format", "shell", "--output", output, "--mode", "0600"] + docsDeclarations)
        #expect(written.status == 0, "\(written.stderr)")
        #expect(fileMode(output) == 0o600)
        let sourced = await runProcess(["/bin/bash", "-c", "set -a; . \"$0\"; exec env -0", output], directory: pod.dir)
        #expect(sourced.status == 0, "\(sourced.stderr)")
        let environment = nulSeparatedEnvironment(sourced.stdout)
        #expect(environment["POD_ANNOTATION_HOSTILE"] == Array("it's $(touch /tmp/podagent-canary) `id` \\ \"q\"\nline2".utf8))
        #expect(environment["POD_LABEL_APP_KUBERNETES_IO_NAME"] == Array("web".utf8))
        #expect(environment["POD_CPU_LIMIT_MILLICORES"] == Array("250".utf8))
        #expect(environment["POD_MEMORY_REQUEST_BYTES"] == Array("33554432".utf8))
        #expect(environment["POD_CPUS"] == Array("1".utf8))
        #expect(access(canary, F_OK) != 0, "sourcing the shell output executed a command substitution")
    }

    @Test("env -- CMD runs the command with the variables added, as its exit status")
    func execPrefix() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let result = await pod.podagent(["env", "--root", pod.root, "--prefix", "APP_"] + docsDeclarations
            + ["--", "sh", "-c", "printf '%s|%s|%s' \"$APP_NAME\" \"$APP_LABEL_ZONE\" \"$APP_CPUS\"; exit 7"])
        #expect(result.status == 7)
        #expect(String(decoding: result.stdout, as: UTF8.self) == "kubernetes-downwardapi-volume-example|us-est-coast|1")
        let missing = await pod.podagent(["env", "--root", pod.root, "--", "no-such-command-podagent"])
        #expect(missing.status == 127)
        #expect(missing.stderr.contains("no-such-command-podagent"))
    }

    @Test("a malformed labels file is an error naming the file and the line")
    func malformedLabels() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        // Like every pod path, --labels-file resolves inside --root.
        let labels = pod.dir.write("root/etc/wrong/labels", "zone=\"a\"\nthis is not a label line\n")
        let result = await pod.podagent(["env", "--root", pod.root, "--labels-file", "/etc/wrong/labels"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(labels):2:"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("an unknown unit in a downward file name is an error listing the known units")
    func unknownUnit() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        _ = pod.dir.write("root/etc/podinfo-extra/cpu_limit_furlongs", "1\n")
        let result = await pod.podagent(["env", "--root", pod.root, "--downward-dir", "/etc/podinfo-extra"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cpu_limit_furlongs") && result.stderr.contains("millicores"), "\(result.stderr)")
    }

    @Test("render writes the example nginx config from the pod's CPU limit and annotation; nginx accepts it")
    func renderNginxExample() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let output = pod.dir.file("nginx.conf")
        let template = repositoryRoot + "/examples/render/nginx.conf.mustache"
        let result = await pod.podagent(["render", "--root", pod.root, "--template", template, "--output", output] + docsDeclarations)
        #expect(result.status == 0, "\(result.stderr)")
        let text = try #require(readText(output))
        #expect(text.contains("worker_processes 1;"))
        #expect(text.contains("debug"))
        try FileSystem.makeDirectories(pod.dir.file("nginx/logs"))
        let check = await runProcess(["/usr/sbin/nginx", "-t", "-q", "-e", "stderr", "-p", pod.dir.file("nginx") + "/", "-c", output], directory: pod.dir)
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test("render fails on a missing name with template, line and column, and writes nothing")
    func renderMissingName() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let template = pod.dir.write("t.mustache", "zone {{labels.zone}}\nteam {{labels.team}}\n")
        let output = pod.dir.file("out.conf")
        let result = await pod.podagent(["render", "--root", pod.root, "--template", template, "--output", output])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(template):2:"), "\(result.stderr)")
        #expect(result.stderr.contains("labels.team"))
        #expect(readText(output) == nil)
        let allowed = await pod.podagent(["render", "--root", pod.root, "--template", template, "--output", output, "--allow-missing"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(readText(output) == "zone us-est-coast\nteam \n")
    }

    @Test("watch --render re-renders when a label changes, before the check and the reload")
    func watchRenderOnLabelChange() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let template = pod.dir.write("t.mustache", "rack={{labels.rack}} level={{annotations.example_com_log_level}}\n")
        let output = pod.dir.file("app.conf")
        let reloads = pod.dir.file("reloads")
        let agent = try E2EAgent(
            ["watch", "--root", pod.root, "--dir", pod.root + "/etc/podinfo", "--render", "\(template):\(output)",
             "--check", "grep -q rack= \(output)", "--exec", "sh -c 'cat \(output) >> \(reloads)'", "--debounce", "20ms"],
            log: pod.dir.file("agent.log"))
        #expect(await eventually { readText(output) == "rack=rack-22 level=debug\n" }, "\(agent.log)")
        #expect(await eventually { agent.log.contains("watching") })

        var options = SimulationOptions(podFile: pod.dir.file("pod.yaml"), root: pod.root)
        options.overrides = [("status.podIP", "10.1.2.3"), ("metadata.labels['rack']", "rack-23")]
        _ = try PodSimulator.run(options)

        #expect(await eventually { readText(reloads) == "rack=rack-23 level=debug\n" }, "\(agent.log)")
        #expect(await agent.stop() == .exited(0))
    }

    @Test("a value that is not UTF-8: JSON gets U+FFFD and a warning naming it, shell keeps the bytes")
    func invalidUTF8() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        // The kubelet writes such a Go string as \xff (the API server's validation aside, a label file can hold it).
        let path = pod.dir.write("root/etc/raw/labels", "bad=\"caf\\xe9\"\nok=\"fine\"\n")
        _ = path
        let json = await pod.podagent(["env", "--root", pod.root, "--labels-file", "/etc/raw/labels", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any])
        #expect((object["labels"] as? [String: String])?["bad"] == "caf\u{FFFD}")
        #expect(json.stderr.contains(".labels[\"bad\"]") || json.stderr.contains(".labels.bad"), "\(json.stderr)")
        let shell = await pod.podagent(["env", "--root", pod.root, "--labels-file", "/etc/raw/labels", "--format", "shell"])
        #expect(shell.status == 0, "\(shell.stderr)")
        #expect(shell.stdout.split(separator: 0x0A).contains { Array($0) == Array("export POD_LABEL_BAD='caf".utf8) + [0xE9, 0x27] })
    }

    @Test("a container without a CPU limit: the kubelet reports node allocatable, podagent says so and counts its CPUs")
    func nodeAllocatableLimit() async throws {
        let manifest = docsPod.replacingOccurrences(of: "limits: {memory: \"64Mi\", cpu: \"250m\"}", with: "limits: {memory: \"64Mi\"}")
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        _ = dir.write("pod.yaml", manifest)
        var options = SimulationOptions(podFile: dir.file("pod.yaml"), root: dir.file("root"))
        options.nodeAllocatable["cpu"] = try Quantity(parsing: "3")
        _ = try PodSimulator.run(options)
        let script = "set -a; . \"$0\"; set +a; exec \"$@\""
        let result = await runProcess(["/bin/sh", "-c", script, dir.file("root/.podagent/env"), podagentBinary, "env", "--root", dir.file("root")]
            + docsDeclarations, directory: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(text.contains("POD_CPU_LIMIT_MILLICORES=3000\n"))
        #expect(text.contains("POD_CPUS=3\n"))
        #expect(result.stderr.contains("node's allocatable CPU"), "\(result.stderr)")
    }

    @Test("render --dir gives templates a volume's files by name (and alias); --annotations-file moves the annotations")
    func renderFilesAndAnnotationsFile() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let volume = pod.dir.file("root/etc/app")
        try FileSystem.makeDirectories(volume)
        try AtomicWriter(targetDirectory: volume).write(["app.conf": FileProjection(text: "listen 8080;"), "greeting": FileProjection(text: "hi")])
        _ = pod.dir.write("root/etc/elsewhere/notes", "level=\"trace\"\n")
        let template = pod.dir.write("t.mustache", "{{files.greeting}} {{files.app_conf}} {{annotations.level}}\n")
        let output = pod.dir.file("out.txt")
        let result = await pod.podagent(["render", "--root", pod.root, "--template", template, "--output", output,
                                         "--dir", volume, "--annotations-file", "/etc/elsewhere/notes"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(readText(output) == "hi listen 8080; trace\n")
        let missing = await pod.podagent(["render", "--root", pod.root, "--template", template, "--output", output,
                                          "--dir", pod.dir.file("no-such-volume")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no-such-volume") && missing.stderr.contains("is the volume mounted"), "\(missing.stderr)")
    }

    @Test("a --root that is not a directory is a usage error")
    func missingRoot() async throws {
        let pod = try SimulatedPod()
        defer { pod.remove() }
        let result = await pod.podagent(["env", "--root", pod.dir.file("nowhere")])
        #expect(result.status == 64)
        #expect(result.stderr.contains("is not a directory"))
    }
}
