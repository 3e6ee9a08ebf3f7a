/// A ConfigMap or Secret as the kubelet's managers return it: Secret `stringData` already merged into
/// `data`, `binaryData` and base64 decoded.
public struct ConfigObject: Sendable {
    public enum Kind: String, Sendable { case configMap = "ConfigMap", secret = "Secret" }
    public var kind: Kind
    public var name: String
    /// nil when the manifest names none: the object is taken to live in the pod's namespace, as with
    /// `kubectl apply -n NS`.
    public var namespace: String?
    /// ConfigMap `data`; unused for Secrets.
    public var stringData: [String: String]
    /// ConfigMap `binaryData`, or Secret `data` (+ `stringData`).
    public var binaryData: [String: [UInt8]]
    public var sourceFile: String

    /// Value of a key as the env code reads it (`configMap.Data[key]` / `string(secret.Data[key])`).
    func envValue(_ key: String) -> String? {
        switch kind {
        case .configMap: return stringData[key]
        case .secret: return binaryData[key].map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

/// Everything read from the manifest files handed to `simulate`.
public struct ManifestSet: Sendable {
    public var pod: PodSpec
    public var objects: [ConfigObject]

    /// Reads the workload from `podFile` (a Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or
    /// CronJob; a `List` is unwrapped) and ConfigMaps/Secrets from every file, including `podFile`.
    public static func load(podFile: String, objectFiles: [String]) throws -> ManifestSet {
        var workloads: [(ManifestNode, String)] = []
        var objects: [ConfigObject] = []
        for file in [podFile] + objectFiles where file != "" {
            let text = try readTextFile(file)
            let documents: [YAMLNode]
            do {
                documents = try YAMLDocuments.parse(text)
            } catch {
                throw ManifestError(file: file, fieldPath: "", message: "invalid YAML: \(error)")
            }
            for (index, document) in documents.enumerated() {
                var queue = [ManifestNode(document, file: documents.count > 1 ? "\(file) (document \(index + 1))" : file)]
                while !queue.isEmpty {
                    let node = queue.removeFirst()
                    if node.isNull { continue }
                    _ = try node.mapping()
                    guard let kind = try node["kind"]?.string() else {
                        throw node.error("missing `kind`")
                    }
                    switch kind {
                    case "List", "ConfigMapList", "SecretList", "PodList":
                        queue += try node["items"]?.sequence() ?? []
                    case "ConfigMap", "Secret":
                        objects.append(try parseConfigObject(node, kind: kind))
                    case "Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob":
                        if file == podFile { workloads.append((node, kind)) }
                        else {
                            throw node.error("a \(kind) belongs in --pod, not in --object")
                        }
                    default:
                        // Services, ServiceAccounts, … in the same file are common and harmless.
                        if file == podFile || documents.count > 1 { continue }
                        throw node.error("unsupported kind \(kind): --object takes ConfigMap and Secret manifests")
                    }
                }
            }
        }
        guard let first = workloads.first else {
            throw ManifestError(file: podFile, fieldPath: "", message: "no Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob found")
        }
        if workloads.count > 1 {
            throw ManifestError(file: podFile, fieldPath: "", message: "\(workloads.count) workloads found; put the one to simulate in its own file")
        }
        let pod = try PodTemplateResolution.pod(from: first.0, kind: first.1)
        return ManifestSet(pod: pod, objects: objects)
    }

    /// Looks an object up the way the kubelet does: by name in the pod's namespace.
    func object(_ kind: ConfigObject.Kind, named name: String) -> ConfigObject? {
        objects.last { $0.kind == kind && $0.name == name && ($0.namespace ?? pod.namespace) == pod.namespace }
    }
}

func readTextFile(_ path: String) throws(ManifestError) -> String {
    do {
        return String(decoding: try FileSystem.readFile(path), as: UTF8.self)
    } catch {
        throw ManifestError(file: path, fieldPath: "", message: "cannot read: \(error)")
    }
}

/// API server limit on a ConfigMap's or Secret's total payload (`core.MaxSecretSize`, used for both).
let maxObjectPayloadBytes = 1024 * 1024

private func parseConfigObject(_ node: ManifestNode, kind: String) throws(ManifestError) -> ConfigObject {
    guard let metadata = node["metadata"], let name = try metadata["name"]?.string(), !name.isEmpty else {
        throw node.error("\(kind) needs metadata.name")
    }
    let namespace = try metadata["namespace"]?.string()
    var object = ConfigObject(kind: kind == "Secret" ? .secret : .configMap, name: name, namespace: namespace,
                              stringData: [:], binaryData: [:], sourceFile: node.file)
    func checkKey(_ key: String, _ at: ManifestNode) throws(ManifestError) {
        // validation.IsConfigMapKey: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..".
        let ok = !key.isEmpty && key.utf8.count <= 253 && key != "." && key != ".."
            && key.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F }
        if !ok {
            throw at.error("invalid key \"\(key)\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'")
        }
    }
    if object.kind == .configMap {
        if let data = node["data"] {
            object.stringData = try data.stringMap()
            for key in object.stringData.keys { try checkKey(key, data) }
        }
        if let binary = node["binaryData"] {
            for (key, value) in try binary.mapping() {
                try checkKey(key, binary)
                guard let bytes = Base64.decode(try value.string()) else { throw value.error("not valid base64") }
                if object.stringData[key] != nil { throw value.error("duplicate of key \"\(key)\" in data") }
                object.binaryData[key] = bytes
            }
        }
    } else {
        if let data = node["data"] {
            for (key, value) in try data.mapping() {
                try checkKey(key, data)
                guard let bytes = Base64.decode(value.isNull ? "" : try value.string()) else {
                    throw value.error("not valid base64 (Secret `data` is base64; use `stringData` for plain text)")
                }
                object.binaryData[key] = bytes
            }
        }
        // The API server merges stringData into data on write; stringData wins.
        if let stringData = node["stringData"] {
            for (key, value) in try stringData.stringMap() {
                try checkKey(key, stringData)
                object.binaryData[key] = Array(value.utf8)
            }
        }
    }
    let total = object.stringData.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        + object.binaryData.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
    if total > maxObjectPayloadBytes {
        throw node.error("\(kind) \(name) holds \(total) bytes; the API server allows at most \(maxObjectPayloadBytes)")
    }
    return object
}
