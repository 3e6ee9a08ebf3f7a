/// What the kubelet knows about a running pod beyond its spec: addresses, node, node allocatable, the
/// annotations it adds, and the master service env vars. `simulate` fills these with deterministic
/// defaults that `--set` and `--node-allocatable` override.
public struct PodRuntime: Sendable {
    public var podIPs: [String]
    public var hostIPs: [String]
    public var nodeAllocatable: [String: Quantity]
    /// `kubernetes.io/config.seen` / `config.source`, which the kubelet adds to every pod it runs and which
    /// therefore appear in downwardAPI annotation files.
    public var kubeletAnnotations: [String: String]
    /// The `kubernetes` service in `default` (always injected, even with `enableServiceLinks: false`).
    public var masterServiceHost: String
    public var masterServicePort: Int

    public var podIP: String { podIPs.first ?? "" }

    /// envvars.FromServices for the `kubernetes` service (one port, named `https`).
    var serviceEnv: [String: String] {
        let host = masterServiceHost, port = String(masterServicePort)
        let url = "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        return [
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": url,
            "KUBERNETES_PORT_\(port)_TCP": url,
            "KUBERNETES_PORT_\(port)_TCP_PROTO": "tcp",
            "KUBERNETES_PORT_\(port)_TCP_PORT": port,
            "KUBERNETES_PORT_\(port)_TCP_ADDR": host,
        ]
    }
}

/// A pod's env or a volume's content could not be produced — the errors a kubelet reports as
/// CreateContainerConfigError (env) or FailedMount (volumes).
public struct PodDataError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var fieldPath: String
    public var message: String

    public var description: String {
        fieldPath.isEmpty ? "\(file): \(message)" : "\(file): \(fieldPath): \(message)"
    }
}

/// The downward API's view of one pod: field paths → values, shared by env and volumes
/// (kubelet `podFieldSelectorRuntimeValue`, `pkg/fieldpath` ExtractFieldPathAsString, and
/// `pkg/api/v1/resource` for resources).
struct DownwardAPIView {
    let pod: PodSpec
    let runtime: PodRuntime

    var annotations: [String: String] {
        pod.annotations.merging(runtime.kubeletAnnotations) { _, kubelet in kubelet }
    }

    /// ExtractFieldPathAsString (volumes; env falls back to it).
    func fieldValue(_ fieldPath: String) -> String? {
        if let (path, key) = FieldPath.splitSubscript(fieldPath) {
            switch path {
            case "metadata.labels": return pod.labels[key] ?? ""
            case "metadata.annotations": return annotations[key] ?? ""
            default: return nil
            }
        }
        switch fieldPath {
        case "metadata.annotations": return String(decoding: DownwardAPIMap.format(annotations), as: UTF8.self)
        case "metadata.labels": return String(decoding: DownwardAPIMap.format(pod.labels), as: UTF8.self)
        case "metadata.name": return pod.name
        case "metadata.namespace": return pod.namespace
        case "metadata.uid": return pod.uid
        default: return nil
        }
    }

    /// podFieldSelectorRuntimeValue (env).
    func envFieldValue(_ fieldPath: String) -> String? {
        switch fieldPath {
        case "spec.nodeName": return pod.nodeName
        case "spec.serviceAccountName": return pod.serviceAccountName
        case "status.hostIP": return runtime.hostIPs.first ?? ""
        case "status.hostIPs": return runtime.hostIPs.joined(separator: ",")
        case "status.podIP": return runtime.podIP
        case "status.podIPs": return runtime.podIPs.joined(separator: ",")
        default: return fieldValue(fieldPath)
        }
    }

    /// ExtractResourceValueByContainerNameAndNodeAllocatable: the named container (or `current`), limits
    /// missing for cpu / memory / ephemeral-storage replaced by the node's allocatable
    /// (MergeContainerResourceLimits), then the divisor arithmetic.
    func resourceValue(_ ref: ResourceFieldRefSpec, current: Container?) throws(PodDataError) -> String {
        func fail(_ message: String) -> PodDataError {
            PodDataError(file: pod.sourceFile, fieldPath: ref.fieldPath, message: message)
        }
        let container: Container
        if ref.containerName.isEmpty, let current {
            container = current
        } else if let found = (pod.containers + pod.initContainers).first(where: { $0.name == ref.containerName }) {
            container = found
        } else {
            throw fail("container \"\(ref.containerName)\" not found in pod \(pod.namespace)/\(pod.name)")
        }
        do {
            let selector = try ResourceFieldSelector(parsing: ref.resource)
            let divisor = try Divisor(ref.divisor, for: selector)
            let name = ref.resource.split(separator: ".", maxSplits: 1).last.map(String.init) ?? ref.resource
            var limits = container.limits
            // MergeContainerResourceLimits: a missing or zero limit becomes the node's allocatable.
            for resource in ["cpu", "memory", "ephemeral-storage"] where limits[resource]?.isZero ?? true {
                limits[resource] = runtime.nodeAllocatable[resource]
            }
            let quantity = (selector.isLimit ? limits[name] : container.requests[name]) ?? Quantity.zero
            return resourceFieldValue(quantity, divisor: divisor)
        } catch {
            throw fail("\(error)")
        }
    }
}
