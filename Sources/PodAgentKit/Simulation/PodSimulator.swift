/// Options of `podagent simulate`; see `PodSimulator`.
public struct SimulationOptions: Sendable {
    public var podFile: String
    public var objectFiles: [String] = []
    public var root: String
    /// nil: the first entry of `spec.containers`.
    public var containerName: String?
    /// Node allocatable reported as the limit of containers that set none (cpu, memory, ephemeral-storage).
    public var nodeAllocatable: [String: Quantity] = PodSimulator.defaultNodeAllocatable
    /// `--set FIELD=VALUE`, applied in order.
    public var overrides: [(field: String, value: String)] = []
    /// nil: `ROOT/.podagent/env`.
    public var envFile: String?
    /// Wall clock (seconds, nanoseconds); nil for the system clock. Tests pin it.
    public var now: (seconds: Int64, nanoseconds: Int64)?

    public init(podFile: String, root: String) {
        self.podFile = podFile
        self.root = root
    }
}

/// What one `simulate` run did.
public struct SimulationReport: Sendable {
    public struct VolumeResult: Sendable {
        public enum Outcome: Sendable, Equatable {
            case committed(generation: String)
            case unchanged
            /// A `subPath` mount: the kubelet bind-mounts the file once and never updates it.
            case subPathWritten, subPathKept
            case skipped(reason: String)
        }
        public var volume: String
        public var kind: String
        public var mountPath: String
        public var hostPath: String
        public var fileCount: Int
        public var outcome: Outcome
    }
    public var podNamespace: String
    public var podName: String
    public var container: String
    public var envFile: String
    public var envNames: [String]
    public var envChanged: Bool
    public var volumes: [VolumeResult]
}

/// Materialises one container of a Pod into a directory exactly as the kubelet would: every mounted
/// configMap / secret / downwardAPI / projected volume (and the automatic service-account volume) at
/// `ROOT/<mountPath>` through the kubelet's atomic writer, and the resolved env in an env file.
///
/// Everything is computed and validated before anything is written, so bad input leaves the directory as
/// it was. A rerun with unchanged inputs changes nothing on disk; a rerun with edited manifests performs
/// the kubelet's atomic update of the volumes whose content changed.
///
/// ```swift
/// var options = SimulationOptions(podFile: "pod.yaml", root: "/tmp/pod")
/// options.objectFiles = ["configmap.yaml"]
/// let report = try PodSimulator.run(options)
/// ```
public enum PodSimulator {
    public static let defaultNodeAllocatable: [String: Quantity] = [
        "cpu": try! Quantity(parsing: "4"),
        "memory": try! Quantity(parsing: "16Gi"),
        "ephemeral-storage": try! Quantity(parsing: "100Gi"),
    ]

    static let stateDirectory = ".podagent"

    public static func run(_ options: SimulationOptions) throws -> SimulationReport {
        let now = options.now ?? WallClock.now()
        var manifests = try ManifestSet.load(podFile: options.podFile, objectFiles: options.objectFiles)
        var runtime = PodRuntime(podIPs: [], hostIPs: [], nodeAllocatable: options.nodeAllocatable,
                                 kubeletAnnotations: [:], masterServiceHost: "10.96.0.1", masterServicePort: 443)
        try applyDefaultsAndOverrides(&manifests.pod, &runtime, options.overrides, file: options.podFile)
        var pod = manifests.pod

        // The ServiceAccount admission plugin's volume, unless automounting is off or the path is taken.
        if pod.automountServiceAccountToken != false {
            let volume = ServiceAccountProjection.volume(podName: pod.name)
            pod.volumes.append(volume)
            func addMount(_ c: inout Container) {
                if !c.volumeMounts.contains(where: { $0.mountPath == ServiceAccountProjection.mountPath }) {
                    c.volumeMounts.append(VolumeMount(name: volume.name, mountPath: ServiceAccountProjection.mountPath, subPath: "", readOnly: true))
                }
            }
            for i in pod.containers.indices { addMount(&pod.containers[i]) }
            for i in pod.initContainers.indices { addMount(&pod.initContainers[i]) }
        }
        manifests.pod = pod

        guard let (container, containerPath) = selectContainer(pod, options.containerName) else {
            let names = pod.allContainers.map(\.container.name).joined(separator: ", ")
            throw ManifestError(file: options.podFile, fieldPath: "",
                                message: "no container named \"\(options.containerName ?? "")\" in the pod (containers: \(names))")
        }

        // Kubelet-local annotations, stable across reruns (the kubelet keeps config.seen once set).
        let statePath = FileSystem.join(options.root, "\(stateDirectory)/state")
        var state = SimulationState.read(statePath)
        if state.configSeen == nil { state.configSeen = WallClock.rfc3339Nano(seconds: now.seconds, nanoseconds: now.nanoseconds) }
        runtime.kubeletAnnotations = ["kubernetes.io/config.seen": state.configSeen!, "kubernetes.io/config.source": "api"]

        let view = DownwardAPIView(pod: pod, runtime: runtime)

        // 1. Compute everything; any error leaves the disk untouched.
        let env = try ContainerEnvironment(pod: pod, view: view, objects: manifests).variables(for: container, containerPath: containerPath)
        var planned: [(mount: VolumeMount, volume: Volume, hostPath: String, payload: [String: FileProjection]?, skip: String?)] = []
        for (i, mount) in container.volumeMounts.enumerated() {
            guard let volume = pod.volumes.first(where: { $0.name == mount.name }) else { continue }
            if mount.mountPath.split(separator: "/").contains("..") {
                throw ManifestError(file: options.podFile, fieldPath: "\(containerPath).volumeMounts[\(i)].mountPath",
                                    message: "mountPath must not contain '..'")
            }
            let hostPath = FileSystem.join(options.root, mount.mountPath)
            if case .other(let kind) = volume.source {
                planned.append((mount, volume, hostPath, nil, "\(kind) volumes are not managed by the kubelet's atomic writer"))
                continue
            }
            let volumeRoot = mount.subPath.isEmpty ? hostPath : nil
            let payloads = VolumePayloads(pod: pod, view: view, objects: manifests) { audience, expiration, path in
                issueToken(pod: pod, audience: audience, expiration: expiration,
                           existingAt: volumeRoot.map { FileSystem.join($0, path) }, now: now.seconds)
            }
            let payload = try payloads.payload(for: volume)
            for path in payload.keys {
                if let problem = AtomicWriter.pathProblem(path) {
                    throw PodDataError(file: options.podFile, fieldPath: volume.fieldPath, message: "volume \"\(volume.name)\": \(problem)")
                }
            }
            if !mount.subPath.isEmpty, payload[AtomicWriter.cleanPath(mount.subPath)] == nil {
                throw PodDataError(file: options.podFile, fieldPath: "\(containerPath).volumeMounts[\(i)].subPath",
                                   message: "subPath \"\(mount.subPath)\" is not a file of volume \"\(volume.name)\"")
            }
            planned.append((mount, volume, hostPath, payload, nil))
        }
        let envFile = options.envFile ?? FileSystem.join(options.root, "\(stateDirectory)/env")
        let envBytes = EnvFile.format(env)

        // 2. Write: volumes through the atomic writer, then the env file, then the state.
        var results: [SimulationReport.VolumeResult] = []
        for plan in planned {
            var result = SimulationReport.VolumeResult(volume: plan.volume.name, kind: plan.volume.source.kindName,
                                                       mountPath: plan.mount.mountPath, hostPath: plan.hostPath,
                                                       fileCount: plan.payload?.count ?? 0, outcome: .unchanged)
            if let reason = plan.skip {
                result.outcome = .skipped(reason: reason)
            } else if let payload = plan.payload, !plan.mount.subPath.isEmpty {
                let file = payload[AtomicWriter.cleanPath(plan.mount.subPath)]!
                result.fileCount = 1
                if FileSystem.exists(plan.hostPath) {
                    result.outcome = .subPathKept
                } else {
                    try FileSystem.makeDirectories(parentDirectory(plan.hostPath))
                    try FileSystem.writeFileAtomically(plan.hostPath, file.data, mode: mode_t(file.mode))
                    result.outcome = .subPathWritten
                }
            } else if let payload = plan.payload {
                try FileSystem.makeDirectories(plan.hostPath)
                let writer = AtomicWriter(targetDirectory: plan.hostPath, logContext: "volume \(plan.volume.name)")
                switch try writer.write(payload) {
                case .unchanged: result.outcome = .unchanged
                case .committed(let generation): result.outcome = .committed(generation: generation)
                }
            }
            results.append(result)
        }
        // The container's mount table, as `inspect --root` reads it; rewritten only when it changes.
        let mounted = planned.filter { $0.skip == nil }.map { plan in
            SimulatedMountInfo.VolumeMountRecord(
                mountPath: plan.mount.mountPath, volumeName: plan.volume.name, source: plan.volume.source,
                subPath: plan.mount.subPath,
                index: container.volumeMounts.firstIndex { $0.mountPath == plan.mount.mountPath } ?? 0,
                readOnly: plan.mount.readOnly)
        }
        try SimulatedMountInfo.write(
            SimulatedMountInfo.table(podUID: pod.uid, containerName: container.name, volumes: mounted,
                                     memoryBackedSizeKiB: memoryBackedVolumeSizeKiB(pod, nodeAllocatable: options.nodeAllocatable)),
            root: options.root)
        try FileSystem.makeDirectories(parentDirectory(envFile))
        let envChanged = (try? FileSystem.readFile(envFile)) != envBytes
        if envChanged { try FileSystem.writeFileAtomically(envFile, envBytes, mode: 0o600) }
        try FileSystem.makeDirectories(parentDirectory(statePath))
        try state.write(statePath)

        return SimulationReport(podNamespace: pod.namespace, podName: pod.name, container: container.name,
                                envFile: envFile, envNames: env.map(\.name), envChanged: envChanged, volumes: results)
    }

    /// The size the kubelet gives memory-backed volumes (`calculateEmptyDirMemorySize`): the pod's
    /// memory limit (regular containers summed, or the largest init container's if higher), or the
    /// node's allocatable memory when that is zero.
    static func memoryBackedVolumeSizeKiB(_ pod: PodSpec, nodeAllocatable: [String: Quantity]) -> Int64 {
        let regular = pod.containers.reduce(Int64(0)) { $0 + ($1.limits["memory"]?.value ?? 0) }
        let initial = pod.initContainers.map { $0.limits["memory"]?.value ?? 0 }.max() ?? 0
        var bytes = max(regular, initial)
        if bytes <= 0 { bytes = nodeAllocatable["memory"]?.value ?? 0 }
        return (bytes + 1023) / 1024
    }

    static func selectContainer(_ pod: PodSpec, _ name: String?) -> (Container, String)? {
        guard let name else {
            return pod.containers.first.map { ($0, "spec.containers[0]") }
        }
        return pod.allContainers.first { $0.container.name == name }.map { ($0.container, $0.fieldPath) }
    }

    /// Fields `--set` can change, and the deterministic defaults for the status fields.
    public static let settableFields = ["metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels['KEY']",
                                        "metadata.annotations['KEY']", "spec.nodeName", "spec.serviceAccountName",
                                        "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs"]

    static func applyDefaultsAndOverrides(_ pod: inout PodSpec, _ runtime: inout PodRuntime,
                                          _ overrides: [(field: String, value: String)], file: String) throws(ManifestError) {
        var uidSet = false
        var podIPs: [String]?, hostIPs: [String]?
        func list(_ v: String) -> [String] { v.split(separator: ",").map { String($0) } }
        for (field, value) in overrides {
            if let (path, key) = FieldPath.splitSubscript(field) {
                switch path {
                case "metadata.labels": pod.labels[key] = value; continue
                case "metadata.annotations": pod.annotations[key] = value; continue
                default: break
                }
            }
            switch field {
            case "metadata.name": pod.name = value
            case "metadata.namespace": pod.namespace = value
            case "metadata.uid": pod.uid = value; uidSet = true
            case "spec.nodeName": pod.nodeName = value
            case "spec.serviceAccountName": pod.serviceAccountName = value
            case "status.podIP": podIPs = [value] + (podIPs?.dropFirst() ?? [])
            case "status.podIPs": podIPs = list(value)
            case "status.hostIP": hostIPs = [value] + (hostIPs?.dropFirst() ?? [])
            case "status.hostIPs": hostIPs = list(value)
            default:
                throw ManifestError(file: "--set", fieldPath: field,
                                    message: "cannot be set; settable fields: \(settableFields.joined(separator: ", "))")
            }
        }
        if !uidSet && overrides.contains(where: { $0.field == "metadata.name" || $0.field == "metadata.namespace" }) {
            pod.uid = DeterministicName.uid("pod/\(pod.namespace)/\(pod.name)")
        }
        if pod.nodeName.isEmpty { pod.nodeName = "simulated-node" }
        let octet = 2 + Int(DeterministicName.fnv1a64("\(pod.namespace)/\(pod.name)".utf8) % 250)
        runtime.podIPs = podIPs ?? ["10.244.0.\(octet)"]
        runtime.hostIPs = hostIPs ?? ["192.168.49.2"]
    }

    /// Reuses the token already in the volume while the kubelet would (same pod, audience and TTL, less
    /// than 80 % of the TTL gone); otherwise issues a new one, as the kubelet's token manager does.
    static func issueToken(pod: PodSpec, audience: String, expiration: Int64, existingAt path: String?, now: Int64) -> String {
        let fresh = SimulatedToken(audiences: [audience.isEmpty ? ServiceAccountProjection.defaultAudience : audience],
                                   issuedAt: now, requestedExpirationSeconds: expiration, namespace: pod.namespace,
                                   podName: pod.name, podUID: pod.uid, serviceAccountName: pod.serviceAccountName,
                                   nodeName: pod.nodeName)
        if let path, let bytes = try? FileSystem.readFile(path),
           var existing = SimulatedToken.decode(String(decoding: bytes, as: UTF8.self), requestedExpirationSeconds: expiration),
           !existing.needsRefresh(now: now), existing.issuedAt <= now {
            let issuedAt = existing.issuedAt
            existing.issuedAt = now
            if existing == fresh {
                existing.issuedAt = issuedAt
                return existing.encoded
            }
        }
        return fresh.encoded
    }
}

func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

extension VolumeSource {
    var kindName: String {
        switch self {
        case .configMap: return "configMap"
        case .secret: return "secret"
        case .downwardAPI: return "downwardAPI"
        case .projected: return "projected"
        case .other(let kind): return kind
        }
    }
}

/// Kubelet-local facts `simulate` keeps between runs in `ROOT/.podagent/state`.
struct SimulationState {
    var configSeen: String?

    static func read(_ path: String) -> SimulationState {
        var state = SimulationState()
        guard let bytes = try? FileSystem.readFile(path) else { return state }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("config-seen=") { state.configSeen = String(line.dropFirst("config-seen=".count)) }
        }
        return state
    }

    func write(_ path: String) throws(SystemError) {
        let bytes = Array("config-seen=\(configSeen ?? "")\n".utf8)
        if (try? FileSystem.readFile(path)) != bytes { try FileSystem.writeFileAtomically(path, bytes) }
    }
}

/// The env file `simulate` writes: one `NAME='value'` per line, sorted, in POSIX shell quoting, so
/// `set -a; . FILE` reproduces every value exactly, newlines included.
public enum EnvFile {
    public static func format(_ env: [(name: String, value: String)]) -> [UInt8] {
        var out = ""
        for (name, value) in env {
            out += name + "=" + shellQuote(value) + "\n"
        }
        return Array(out.utf8)
    }

    public static func shellQuote(_ value: String) -> String {
        let safe = !value.isEmpty && value.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                || [UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"),
                    UInt8(ascii: ","), UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "+")].contains($0)
        }
        if safe { return value }
        return "'" + value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// Reads a file written by `format` back (used by tests and by `podagent run --env-file` later).
    public static func parse(_ bytes: [UInt8]) -> [(name: String, value: String)]? {
        var result: [(String, String)] = []
        var i = 0
        let b = bytes
        while i < b.count {
            guard let eq = b[i...].firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let name = String(decoding: b[i..<eq], as: UTF8.self)
            i = eq + 1
            var value: [UInt8] = []
            while i < b.count && b[i] != UInt8(ascii: "\n") {
                if b[i] == UInt8(ascii: "'") {
                    i += 1
                    while i < b.count && b[i] != UInt8(ascii: "'") { value.append(b[i]); i += 1 }
                    guard i < b.count else { return nil }
                    i += 1
                } else if b[i] == UInt8(ascii: "\\") && i + 1 < b.count {
                    value.append(b[i + 1]); i += 2
                } else {
                    value.append(b[i]); i += 1
                }
            }
            i += 1
            result.append((name, String(decoding: value, as: UTF8.self)))
        }
        return result
    }
}

#if canImport(Glibc)
import Glibc
#endif
