import Testing
@testable import PodAgentKit

@Suite(.serialized) struct PodSimulatorTests {
    let example = repositoryRoot + "/examples/simulated-pod"

    func options(_ root: String, objects: [String] = ["app-config-v1.yaml"]) -> SimulationOptions {
        var o = SimulationOptions(podFile: example + "/pod.yaml", root: root)
        o.objectFiles = objects.map { example + "/" + $0 }
        o.now = (1_795_000_000, 123_000_000)
        return o
    }

    func env(_ root: String) -> [String: String] {
        let parsed = EnvFile.parse(try! FileSystem.readFile(root + "/.podagent/env")) ?? []
        return Dictionary(parsed.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
    }

    @Test func downwardAPIVolumeMatchesTheKubernetesDocsExample() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        #expect(readText(dir.file("etc/podinfo/labels")) == "cluster=\"test-cluster1\"\nfoo=\"bar\"\nrack=\"rack-22\"\nzone=\"us-est-coast\"")
        let annotations = readText(dir.file("etc/podinfo/annotations"))
        #expect(annotations == """
            build="two"
            builder="john-doe"
            description="a multi-line annotation:\\n\\"quoted\\", tab\\tand é\\n"
            kubernetes.io/config.seen="2026-11-18T11:06:40.123Z"
            kubernetes.io/config.source="api"
            """)
        #expect(readText(dir.file("etc/podinfo/cpu_request")) == "15")
        #expect(readText(dir.file("etc/podinfo/mem_limit")) == "4096")
        // No cpu limit: the node's allocatable (4 cores by default) is reported.
        #expect(readText(dir.file("etc/podinfo/cpu_limit")) == "4000")
        // The layout: ..data → ..<stamp>, a symlink per key, files inside the generation.
        let generation = try #require(readLink(dir.file("etc/podinfo/..data")))
        #expect(generation.hasPrefix("..2026_11_18_11_06_40.") || generation.hasPrefix("..20"))
        #expect(readLink(dir.file("etc/podinfo/labels")) == "..data/labels")
        #expect(fileMode(dir.file("etc/podinfo/\(generation)/labels")) == 0o644)
    }

    @Test func envResolvesFieldRefsResourcesObjectsAndExpansion() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        let report = try PodSimulator.run(options(dir.path))
        let e = env(dir.path)
        #expect(e["POD_NAME"] == "kubernetes-downwardapi-volume-example")
        #expect(e["POD_NAMESPACE"] == "demo")
        #expect(e["NODE_NAME"] == "simulated-node")
        #expect(e["CONTAINER_CPU_REQUEST_MILLICORES"] == "15")
        #expect(e["CONTAINER_MEMORY_LIMIT_KIBIBYTES"] == "4096")
        #expect(e["GREETING"] == "hello")
        #expect(e["DB_PASSWORD"] == "s3cr3t-v1")
        #expect(e["BANNER"] == "hello from kubernetes-downwardapi-volume-example on simulated-node")
        #expect(e["CFG_greeting"] == "hello")
        #expect(e["CFG_app.conf"] == "listen 8080;\ngzip on;\n")
        #expect(e["KUBERNETES_SERVICE_HOST"] == "10.96.0.1")
        #expect(e["KUBERNETES_PORT_443_TCP"] == "tcp://10.96.0.1:443")
        #expect(e["POD_IP"]?.hasPrefix("10.244.0.") == true)
        #expect(fileMode(dir.file(".podagent/env")) == 0o600)
        #expect(report.envNames.contains("DB_PASSWORD"))
    }

    @Test func secretAndConfigMapVolumesHonourModes() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        #expect(readText(dir.file("etc/credentials/password")) == "s3cr3t-v1")
        #expect(fileMode(dir.file("etc/credentials/password")) == 0o400)
        #expect(readText(dir.file("etc/app/app.conf")) == "listen 8080;\ngzip on;\n")
        #expect(fileMode(dir.file("etc/app/greeting")) == 0o644)
    }

    @Test func serviceAccountVolumeIsMountedWithAnUnsignedToken() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let sa = dir.file("var/run/secrets/kubernetes.io/serviceaccount")
        #expect(readText(sa + "/namespace") == "demo")
        #expect(readText(sa + "/ca.crt")?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
        let token = try #require(readText(sa + "/token"))
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3 && parts[2].isEmpty)
        let header = String(decoding: Base64.decodeURL(Array(parts[0].utf8)) ?? [], as: UTF8.self)
        #expect(header.contains("\"alg\":\"none\""))
        let claims = String(decoding: Base64.decodeURL(Array(parts[1].utf8)) ?? [], as: UTF8.self)
        #expect(claims.contains("\"sub\":\"system:serviceaccount:demo:default\""))
        #expect(claims.contains("\"iat\":1795000000"))
        #expect(claims.contains("\"warnafter\":1795003607"))
    }

    @Test func rerunWithUnchangedInputsWritesNothing() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let before = listDirectory(dir.file("etc/app"))
        var later = options(dir.path)
        later.now = (1_795_000_600, 0)  // ten minutes on: the token is still fresh
        let report = try PodSimulator.run(later)
        #expect(report.volumes.allSatisfy { $0.outcome == .unchanged })
        #expect(!report.envChanged)
        #expect(listDirectory(dir.file("etc/app")) == before)
    }

    @Test func editedConfigMapCommitsOneNewGenerationOnlyWhereContentChanged() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let oldConfig = try #require(readLink(dir.file("etc/app/..data")))
        let oldSecret = readLink(dir.file("etc/credentials/..data"))
        let report = try PodSimulator.run(options(dir.path, objects: ["app-config-v2.yaml"]))
        let byName = Dictionary(report.volumes.map { ($0.volume, $0.outcome) }, uniquingKeysWith: { a, _ in a })
        guard case .committed(let generation) = byName["config"] else {
            Issue.record("config volume not committed: \(String(describing: byName["config"]))"); return
        }
        #expect(generation != oldConfig)
        #expect(readLink(dir.file("etc/app/..data")) == generation)
        #expect(byName["credentials"] == .unchanged)
        #expect(byName["podinfo"] == .unchanged)
        #expect(readLink(dir.file("etc/credentials/..data")) == oldSecret)
        #expect(readText(dir.file("etc/app/app.conf")) == "listen 8080;\ngzip off;\n")
        #expect(readLink(dir.file("etc/app/feature-flags")) == "..data/feature-flags")
        #expect(!FileSystem.exists(dir.file("etc/app/\(oldConfig)")), "old generation removed")
        #expect(env(dir.path)["CFG_feature-flags"] == "new-ui=true\n")
    }

    @Test func setChangesLabelsAndStatusFields() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        var o = options(dir.path)
        o.overrides = [("metadata.labels['rack']", "rack-23"), ("status.podIP", "10.1.2.3"), ("spec.nodeName", "node-a")]
        _ = try PodSimulator.run(o)
        #expect(readText(dir.file("etc/podinfo/labels"))?.contains("rack=\"rack-23\"") == true)
        #expect(env(dir.path)["POD_IP"] == "10.1.2.3")
        #expect(env(dir.path)["NODE_NAME"] == "node-a")
    }

    @Test func nodeAllocatableFillsMissingLimits() throws {
        let dir = TemporaryDirectory("sim"); defer { dir.remove() }
        var o = options(dir.path)
        o.nodeAllocatable["cpu"] = try Quantity(parsing: "1500m")
        _ = try PodSimulator.run(o)
        #expect(readText(dir.file("etc/podinfo/cpu_limit")) == "1500")
    }
}

/// Bad input: a clear error naming file and field, and nothing on disk.
@Suite struct PodSimulatorErrorTests {
    func expectFailure(pod: String, objects: [String] = [], containing fragments: [String]) {
        let dir = TemporaryDirectory("simerr"); defer { dir.remove() }
        let podFile = dir.write("in/pod.yaml", pod)
        var o = SimulationOptions(podFile: podFile, root: dir.file("root"))
        o.objectFiles = objects.enumerated().map { dir.write("in/object\($0.offset).yaml", $0.element) }
        do {
            _ = try PodSimulator.run(o)
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            for fragment in fragments {
                #expect(text.contains(fragment), "\(text) should contain \(fragment)")
            }
        }
        #expect(!FileSystem.exists(dir.file("root")), "nothing may be written on error")
    }

    static let podWithConfig = """
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          containers:
          - name: c
            volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
          volumes:
          - name: cfg
            configMap: {name: cm}
        """

    @Test func missingConfigMapIsAFailedMount() {
        expectFailure(pod: Self.podWithConfig, containing: ["pod.yaml", "spec.volumes[0]", "configmap \"cm\" not found", "FailedMount"])
    }

    @Test func optionalMissingConfigMapGivesAnEmptyVolume() throws {
        let dir = TemporaryDirectory("simopt"); defer { dir.remove() }
        let pod = dir.write("pod.yaml", Self.podWithConfig.replacingOccurrences("{name: cm}", "{name: cm, optional: true}"))
        let report = try PodSimulator.run(SimulationOptions(podFile: pod, root: dir.file("root")))
        #expect(report.volumes.first?.fileCount == 0)
        #expect(readLink(dir.file("root/etc/cfg/..data")) != nil)
    }

    @Test func missingKeyInEnvIsCreateContainerConfigError() {
        expectFailure(pod: """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: c
                env:
                - name: X
                  valueFrom: {configMapKeyRef: {name: cm, key: nope}}
            """, objects: ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n"],
            containing: ["spec.containers[0].env[0]", "couldn't find key nope", "CreateContainerConfigError"])
    }

    @Test func invalidQuantityIsQuoted() {
        expectFailure(pod: """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: c
                resources: {limits: {memory: 1KB}}
            """, containing: ["spec.containers[0].resources.limits.memory", "1KB"])
    }

    @Test func invalidDivisorIsRejected() {
        expectFailure(pod: """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: c
                env:
                - name: X
                  valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1Ki}}
            """, containing: ["spec.containers[0].env[0].valueFrom.resourceFieldRef"])
    }

    @Test func invalidYAMLNamesTheFile() {
        expectFailure(pod: "kind: Pod\nmetadata: {name: [unclosed\n", containing: ["pod.yaml", "invalid YAML"])
    }

    @Test func unknownKindIsRejected() {
        expectFailure(pod: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", containing: ["no Pod, Deployment"])
    }

    @Test func pathEscapingTheVolumeIsRejected() {
        expectFailure(pod: Self.podWithConfig.replacingOccurrences("{name: cm}", "{name: cm, items: [{key: a, path: ../../etc/passwd}]}"),
                      objects: ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n"],
                      containing: ["spec.volumes[0].configMap.items[0]", "must not contain '..'"])
    }

    @Test func oversizedConfigMapIsRejected() {
        let big = String(repeating: "x", count: 1024 * 1024 + 1)
        expectFailure(pod: Self.podWithConfig, objects: ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: \(big)}\n"],
                      containing: ["ConfigMap cm holds", "at most 1048576"])
    }

    @Test func yaml11BooleanWhereAStringBelongsIsRejected() {
        // sigs.k8s.io/yaml reads YAML 1.1: `N`, `yes` and `on` are booleans, as `kubectl apply` would see them.
        expectFailure(pod: """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: c
                env: [{name: N, value: x}]
            """, containing: ["spec.containers[0].env[0].name", "boolean N"])
    }

    @Test func numberWhereAStringBelongsIsRejected() {
        expectFailure(pod: """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: c
                env: [{name: PORT, value: 8080}]
            """, containing: ["spec.containers[0].env[0].value", "quote it"])
    }
}

@Suite struct WorkloadTests {
    @Test func deploymentPodGetsTemplateHashLabelAndName() throws {
        let dir = TemporaryDirectory("deploy"); defer { dir.remove() }
        let file = dir.write("d.yaml", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: shop}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  automountServiceAccountToken: false
                  containers:
                  - name: nginx
                    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
                    volumeMounts: [{name: info, mountPath: /etc/podinfo}]
                  volumes:
                  - name: info
                    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
            """)
        let report = try PodSimulator.run(SimulationOptions(podFile: file, root: dir.file("root")))
        #expect(report.podNamespace == "shop")
        let labels = try #require(readText(dir.file("root/etc/podinfo/labels")))
        let hashLine = try #require(labels.split(separator: "\n").first { $0.hasPrefix("pod-template-hash=") })
        let hash = hashLine.dropFirst("pod-template-hash=\"".count).dropLast()
        #expect(report.podName.hasPrefix("web-\(hash)-"))
        #expect(!FileSystem.exists(dir.file("root/var/run/secrets/kubernetes.io/serviceaccount")), "automount is off")
        #expect(report.volumes.count == 1)
    }

    @Test("a Deployment's pod keeps its name from one podagent process to the next, so a rerun writes nothing")
    func deploymentPodNameIsStableAcrossProcesses() async throws {
        let dir = TemporaryDirectory("deploy-rerun"); defer { dir.remove() }
        let file = dir.write("d.yaml", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: shop}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                  - name: nginx
                    image: nginx
                    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
                    volumeMounts: [{name: info, mountPath: /etc/podinfo}]
                  volumes:
                  - name: info
                    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
            """)
        let first = await runProcess([podagentBinary, "simulate", "--pod", file, "--root", dir.file("root")], directory: dir)
        let generation = readLink(dir.file("root/etc/podinfo/..data"))
        let second = await runProcess([podagentBinary, "simulate", "--pod", file, "--root", dir.file("root")], directory: dir)
        #expect(first.status == 0 && second.status == 0, "\(first.stderr)\(second.stderr)")
        let firstLine = String(decoding: first.stdout, as: UTF8.self).split(separator: "\n").first
        let secondLine = String(decoding: second.stdout, as: UTF8.self).split(separator: "\n").first
        #expect(firstLine == secondLine)
        #expect(readLink(dir.file("root/etc/podinfo/..data")) == generation, "a rerun committed a new generation")
    }

    @Test func initContainerCanBeSelected() throws {
        let dir = TemporaryDirectory("init"); defer { dir.remove() }
        let file = dir.write("p.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              initContainers:
              - name: setup
                env: [{name: ROLE, value: init}]
              containers:
              - name: app
                env: [{name: ROLE, value: app}]
            """)
        var o = SimulationOptions(podFile: file, root: dir.file("root"))
        o.containerName = "setup"
        let report = try PodSimulator.run(o)
        #expect(report.container == "setup")
        #expect(readText(dir.file("root/.podagent/env"))?.contains("ROLE=init\n") == true)
        o.containerName = "nope"
        #expect(throws: (any Error).self) { try PodSimulator.run(o) }
    }

    @Test func subPathMountIsWrittenOnceAndNeverUpdated() throws {
        let dir = TemporaryDirectory("subpath"); defer { dir.remove() }
        let pod = dir.write("p.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              automountServiceAccountToken: false
              containers:
              - name: app
                volumeMounts: [{name: cfg, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}]
              volumes: [{name: cfg, configMap: {name: cm}}]
            """)
        let v1 = dir.write("cm1.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {nginx.conf: one}\n")
        let v2 = dir.write("cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {nginx.conf: two}\n")
        var o = SimulationOptions(podFile: pod, root: dir.file("root"))
        o.objectFiles = [v1]
        _ = try PodSimulator.run(o)
        #expect(readText(dir.file("root/etc/nginx/nginx.conf")) == "one")
        o.objectFiles = [v2]
        let report = try PodSimulator.run(o)
        #expect(report.volumes.first?.outcome == .subPathKept)
        #expect(readText(dir.file("root/etc/nginx/nginx.conf")) == "one")
    }

    @Test func envFileRoundTripsAwkwardValues() {
        let values = [("A", "plain"), ("B", "it's"), ("C", "line1\nline2"), ("D", ""), ("E", "$(x) `y` \"z\" \\")]
        let parsed = EnvFile.parse(EnvFile.format(values))
        #expect(parsed?.map(\.name) == values.map(\.0))
        #expect(parsed?.map(\.value) == values.map(\.1))
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            result += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return result + rest
    }
}
