/// The parts of a Pod that decide what the kubelet writes into a container's env and volumes.
/// Parsed from a manifest by `PodManifest`; only the fields podagent needs are modelled.
public struct PodSpec: Sendable {
    public var name: String
    public var namespace: String
    public var uid: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var nodeName: String
    public var serviceAccountName: String
    /// `nil` means "not set on the pod" (the ServiceAccount's own setting, default true, applies).
    public var automountServiceAccountToken: Bool?
    public var enableServiceLinks: Bool
    public var containers: [Container]
    public var initContainers: [Container]
    public var volumes: [Volume]
    /// Where the manifest came from, for error messages.
    public var sourceFile: String

    /// Every container, init containers first, with the field path prefix used in errors.
    var allContainers: [(container: Container, fieldPath: String)] {
        initContainers.enumerated().map { ($0.element, "spec.initContainers[\($0.offset)]") }
            + containers.enumerated().map { ($0.element, "spec.containers[\($0.offset)]") }
    }
}

public struct Container: Sendable {
    public var name: String
    public var env: [EnvVar]
    public var envFrom: [EnvFromSource]
    public var requests: [String: Quantity]
    public var limits: [String: Quantity]
    public var volumeMounts: [VolumeMount]
}

public struct EnvVar: Sendable {
    public var name: String
    public var value: String
    public var valueFrom: EnvVarSource?
    var fieldPath: String
}

public enum EnvVarSource: Sendable {
    case fieldRef(ObjectFieldSelector)
    case resourceFieldRef(ResourceFieldRefSpec)
    case configMapKeyRef(KeySelector)
    case secretKeyRef(KeySelector)
}

public struct ObjectFieldSelector: Sendable {
    public var apiVersion: String
    public var fieldPath: String
}

public struct ResourceFieldRefSpec: Sendable {
    public var containerName: String
    public var resource: String
    public var divisor: Quantity?
    var fieldPath: String
}

public struct KeySelector: Sendable {
    public var name: String
    public var key: String
    public var optional: Bool
}

public struct EnvFromSource: Sendable {
    public enum Kind: Sendable { case configMap, secret }
    public var kind: Kind
    public var name: String
    public var prefix: String
    public var optional: Bool
}

public struct VolumeMount: Sendable {
    public var name: String
    public var mountPath: String
    public var subPath: String
    public var readOnly: Bool
}

/// A volume of a kind the kubelet fills with its atomic writer; other kinds are kept as `.other` so mounts
/// of them can be reported rather than silently dropped.
public struct Volume: Sendable {
    public var name: String
    public var source: VolumeSource
    var fieldPath: String
}

public enum VolumeSource: Sendable {
    case configMap(ObjectVolumeSource)
    case secret(ObjectVolumeSource)
    case downwardAPI(items: [DownwardAPIItem], defaultMode: UInt32)
    case projected(sources: [ProjectionSource], defaultMode: UInt32)
    case other(kind: String)
}

/// A configMap or secret volume (or projection): `items`, `defaultMode`, `optional`.
public struct ObjectVolumeSource: Sendable {
    public var name: String
    public var items: [KeyToPath]
    public var defaultMode: UInt32
    public var optional: Bool
}

public struct KeyToPath: Sendable {
    public var key: String
    public var path: String
    public var mode: UInt32?
}

public struct DownwardAPIItem: Sendable {
    public var path: String
    public var fieldRef: ObjectFieldSelector?
    public var resourceFieldRef: ResourceFieldRefSpec?
    public var mode: UInt32?
    var fieldPath: String
}

public enum ProjectionSource: Sendable {
    case configMap(ObjectVolumeSource)
    case secret(ObjectVolumeSource)
    case downwardAPI(items: [DownwardAPIItem])
    case serviceAccountToken(audience: String, expirationSeconds: Int64, path: String)
}

/// The default mode of every atomic-writer volume: 0644 (`420` in API defaulting).
let defaultVolumeMode: UInt32 = 0o644
